#!/usr/bin/env python3
"""Checks the HTML audit report (`pbr report audit`) in a real browser.

    python3 tools/check_report_html.py PBR LEDGER REPORT.html [--key VKEY …] [--chromium PATH]

Headless Chromium (Debian's, driven by Playwright; no browser is downloaded) renders the
report from its file, and the check fails unless:

- the page loads nothing but itself: every request the browser makes is recorded, and any
  other than the file's own URL is a failure; the source holds no `http:`, `https:`,
  `src=`, `href=`, `<link`, `<script`, `@import` or `url(` either;
- the visible text (`innerText`, what a reader sees) holds the figures that pbr's own
  commands print for the same ledger: the Merkle root and chain head of `pbr verify
  --json`, every issued statement of `pbr audit --json` with its recorded hash and
  "N of N match", and every party's balance of `pbr balance --json`, row by row, with
  thousands separators as the page shows them;
- the verdict agrees with those commands run with the same `--key` keys as the report: its
  heading is "Verdict: FAILED" when `pbr verify` or `pbr audit` fails, "Verdict: trust not
  established" when no key was given, and "Verdict: passed" only otherwise; the line under
  it starts with the same word and names every quorum signer `pbr verify` says is missing;
- every SVG chart has a rendered box of non-zero width and height, and there is at least
  one.

The figures come from running PBR on LEDGER, never from the report itself, so a report that
shows a wrong figure fails. Exits 1 listing every problem; 0 with one line on success.
`tools/test_check_report_html.py` shows that each check can fail.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys

DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Flags that keep Chromium from reaching the network on its own (updates, sync, field
# trials) and let it run as root in a container, without a GPU.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]

# Source strings that would make a page load or run something.
FORBIDDEN = ["http:", "https:", "src=", "href=", "<link", "<script", "@import", "url("]

# The balance rows of the page, in `pbr balance --json`'s keys and the page's names.
BALANCE_ROWS = [
    ("accrued", "accrued"),
    ("paid", "paid"),
    ("outstanding", "outstanding"),
    ("invested", "invested"),
    ("funding_received", "funding received"),
    ("costs", "costs"),
    ("returned", "returned"),
    ("savings", "savings"),
    ("guarantee_exposure", "guarantee exposure"),
    ("co_financing_receivable", "co-financing receivable"),
    ("net", "net"),
]


def grouped(decimal: str) -> str:
    """A decimal string with `,` between groups of three digits: -976835.50 -> -976,835.50."""
    sign, digits = ("-", decimal[1:]) if decimal.startswith("-") else ("", decimal)
    whole, _, fraction = digits.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ",".join(groups) + ("." + fraction if fraction else "")


def pbr_json(pbr: str, ledger: str, *args: str) -> dict:
    """The first line of `pbr --ledger LEDGER --json ARGS` as JSON.

    `pbr verify` and `pbr audit` exit 5 when they fail (a bad record, a statement that does
    not match, a quorum not met under the given keys), after printing their answer or the
    error object; any other failure is an error here.
    """
    run = subprocess.run(
        [pbr, "--ledger", ledger, "--json", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode not in (0, 5) or not run.stdout.strip():
        raise RuntimeError(f"pbr {' '.join(args)} failed ({run.returncode}): {run.stderr}")
    return json.loads(run.stdout.splitlines()[0])


def expected_verdict(verify: dict, audit: dict) -> str:
    """The verdict heading's word that `pbr verify` and `pbr audit` imply: FAILED when
    either failed, trust not established when they were given no key, passed otherwise."""
    if verify.get("ok") is not True or audit.get("ok") is not True:
        return "FAILED"
    if verify.get("trust") != "established" or audit.get("trust") != "established":
        return "trust not established"
    return "passed"


def expected_figures(pbr: str, ledger: str, keys: tuple[str, ...] = ()) -> dict:
    """What pbr's own commands say about LEDGER, checked against the `--key` KEYS the
    report was made with."""
    key_args = [arg for key in keys for arg in ("--key", key)]
    verified = pbr_json(pbr, ledger, "verify", *key_args)
    balance = pbr_json(pbr, ledger, "balance")
    audit = pbr_json(pbr, ledger, "audit", *key_args)
    statements = [s for s in audit.get("statements", []) if s["contract"] == balance["contract"]]
    return {
        "verify": verified,
        "verdict": expected_verdict(verified, audit),
        "missing": verified.get("missing") or [],
        "statements": statements,
        "balance": balance,
    }


class Browser:
    """Headless Chromium through Playwright, recording every request a page makes."""

    def __init__(self, chromium: str = DEFAULT_CHROMIUM):
        if not pathlib.Path(chromium).is_file():
            raise RuntimeError(
                f"{chromium}: no Chromium there (CI installs Debian's: apt-get install chromium)"
            )
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=chromium, args=CHROMIUM_ARGS
            )
        except Exception:
            self._playwright.stop()
            raise

    def close(self) -> None:
        self._browser.close()
        self._playwright.stop()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def render(self, path: pathlib.Path) -> dict:
        """Loads the file and returns its URL, every requested URL, the visible text and
        the rendered box of each `<svg>` (id, width, height)."""
        context = self._browser.new_context(viewport={"width": 1100, "height": 900})
        try:
            requests: list[str] = []
            context.on("request", lambda request: requests.append(request.url))
            page = context.new_page()
            url = path.resolve().as_uri()
            page.goto(url, wait_until="load", timeout=30_000)
            # Give late loads (lazy images, fonts) a moment to start.
            page.wait_for_timeout(300)
            text = page.inner_text("body")
            boxes = []
            for svg in page.locator("svg").all():
                box = svg.bounding_box() or {"width": 0, "height": 0}
                boxes.append((svg.get_attribute("id") or "?", box["width"], box["height"]))
            return {"url": url, "requests": list(requests), "text": text, "svgs": boxes}
        finally:
            context.close()


def problems_of(html: str, page: dict, expected: dict) -> list[str]:
    """Everything wrong with a rendered report, given what pbr's commands say."""
    problems = []
    lowered = html.lower()
    for needle in FORBIDDEN:
        if needle in lowered:
            problems.append(f"the source holds {needle!r}")
    for url in page["requests"]:
        if url != page["url"]:
            problems.append(f"the page requested {url}")

    text = page["text"]
    lines = text.splitlines()
    verify = expected["verify"]
    for key in ("root", "chain_head"):
        value = verify.get(key)
        if value and value not in text:
            problems.append(f"the {key} of pbr verify, {value}, is not shown")
    statements = expected["statements"]
    count = len(statements)
    matching = sum(1 for s in statements if s["matches"])
    if f"{matching} of {count} match" not in text:
        problems.append(f"'{matching} of {count} match' is not shown")
    for s in statements:
        if s["recorded_hash"] not in text:
            problems.append(f"the statement at seq {s['seq']} ({s['recorded_hash']}) is not shown")
    parties = expected["balance"]["parties"]
    header = "\t" + "\t".join(p["party"] for p in parties)
    if header not in lines:
        problems.append(f"no balance header row {header!r}")
    for key, name in BALANCE_ROWS:
        row = name + "\t" + "\t".join(grouped(p[key]) for p in parties)
        if row not in lines:
            problems.append(f"the balance row {row!r} is not shown")

    verdict = expected["verdict"]
    heading = f"Verdict: {verdict}"
    if heading not in lines:
        problems.append(f"{heading!r} is not shown")
    else:
        # The verdict's first line, under its heading: the same word, and every missing
        # quorum signer named in the verdict itself, not only in the checkpoint table.
        after = [line for line in lines[lines.index(heading) + 1 :] if line.strip()]
        line = after[0] if after else ""
        if not line.startswith(f"{verdict}:"):
            problems.append(f"the verdict line {line!r} does not start with {verdict!r}")
        for signer in expected["missing"]:
            if signer not in line:
                problems.append(f"the verdict line does not name the missing signer {signer}")

    if not page["svgs"]:
        problems.append("no SVG chart")
    if html.count("<svg") != len(page["svgs"]):
        problems.append(f"{html.count('<svg')} charts in the source, {len(page['svgs'])} rendered")
    for svg_id, width, height in page["svgs"]:
        if width <= 0 or height <= 0:
            problems.append(f"the chart {svg_id} has no rendered box ({width} x {height})")
    return problems


def check(
    pbr: str, ledger: str, report: pathlib.Path, browser: Browser, keys: tuple[str, ...] = ()
) -> list[str]:
    """The problems of REPORT for LEDGER, made with the `--key` KEYS and rendered by
    `browser`; empty when it passes.

    One Playwright runs per process, so the caller opens the browser.
    """
    expected = expected_figures(pbr, ledger, keys)
    html = report.read_text(encoding="utf-8")
    return problems_of(html, browser.render(report), expected)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pbr", help="the pbr binary")
    parser.add_argument("ledger", help="the ledger the report was made from")
    parser.add_argument("report", type=pathlib.Path, help="the HTML report")
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="VKEY",
        help="a verifier key the report was made with (pbr report audit --key); repeat",
    )
    parser.add_argument("--chromium", default=DEFAULT_CHROMIUM, help="the Chromium binary")
    args = parser.parse_args(argv)
    with Browser(args.chromium) as browser:
        problems = check(args.pbr, args.ledger, args.report, browser, tuple(args.key))
    if problems:
        for problem in problems:
            print(f"{args.report}: {problem}", file=sys.stderr)
        return 1
    print(f"ok: {args.report} renders in Chromium, loads nothing else and shows pbr's figures")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
