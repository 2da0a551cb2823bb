#!/usr/bin/env python3
"""Checks the HTML page of a dispute bundle (`pbr bundle show --format html`) in a real browser.

    python3 tools/check_bundle_html.py PBR BUNDLE.json PAGE.html [--policy FILE | --key VKEY …]

Headless Chromium (Debian's, driven by Playwright, as tools/check_report_html.py does) renders
the page from its file, and the check fails unless:

- the page loads nothing but itself (every request is recorded) and its source holds no
  `http:`, `https:`, `src=`, `href=`, `<link`, `<script`, `@import` or `url(`;
- its verdict heading is what `pbr bundle verify BUNDLE --json` with the same trust input
  implies: "Verdict: FAILED" when the bundle does not verify, or when keys were given and the
  contract's quorum is not met; "Verdict: trust not established" when no key was given;
  "Verdict: verified" otherwise;
- a page that is not a failure shows, in its visible text, every record of the bundle file
  (its seq, kind, author and business date on one row) and every statement line (its rule,
  amount and arithmetic on one row);
- a failure page shows none of the bundle's records or amounts: a tampered bundle must never
  look like a fine one.

What the page must show comes from the bundle file and from `pbr bundle verify`, never from
the page itself. Exits 1 listing every problem; 0 with one line on success.
`tools/test_check_bundle_html.py` shows that each check can fail.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys

import check_report_html as report_check


def expected_heading(pbr: str, bundle: str, trust: list[str]) -> str:
    """The verdict heading `pbr bundle verify` implies for BUNDLE under TRUST."""
    run = subprocess.run(
        [pbr, "--json", "bundle", "verify", bundle, *trust],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode == 5:
        return "Verdict: FAILED"
    if run.returncode != 0:
        raise RuntimeError(f"pbr bundle verify failed ({run.returncode}): {run.stderr}")
    report = json.loads(run.stdout.splitlines()[0])
    if report["checkpoint_keys"] != "given":
        return "Verdict: trust not established"
    quorum = report.get("quorum")
    if quorum is not None and not quorum["met"]:
        return "Verdict: FAILED"
    return "Verdict: verified"


def row_with(lines: list[str], *cells: str) -> bool:
    """Whether one visible line, a table row (Chromium renders its cells separated by tabs),
    has each of CELLS as one of its cells, exactly."""
    return any(all(cell in line.split("\t") for cell in cells) for line in lines)


def problems_of(html: str, page: dict, bundle: dict | None, heading: str) -> list[str]:
    """Everything wrong with a rendered bundle page."""
    problems = []
    lowered = html.lower()
    for needle in report_check.FORBIDDEN:
        if needle in lowered:
            problems.append(f"the source holds {needle!r}")
    for url in page["requests"]:
        if url != page["url"]:
            problems.append(f"the page requested {url}")
    text = page["text"]
    lines = text.splitlines()
    shown = [line.strip() for line in lines if line.strip().startswith("Verdict:")]
    if shown != [heading]:
        problems.append(f"the verdict heading is {shown}, not [{heading!r}]")
    if bundle is None:
        return problems
    records = bundle.get("records", [])
    statement_lines = [line for s in bundle.get("statements", []) for line in s["explanation"]]
    if heading == "Verdict: FAILED":
        for record in records:
            event = record["event"]
            if row_with(lines, str(record["seq"]), event["kind"], event["date"]):
                problems.append(f"a failure page shows the record at seq {record['seq']}")
                break
        for line in statement_lines:
            if line["calc"] in text:
                problems.append(f"a failure page shows the arithmetic of line {line['line']}")
                break
        return problems
    for record in records:
        event = record["event"]
        if not row_with(lines, str(record["seq"]), event["kind"], event["author"], event["date"]):
            problems.append(f"the record at seq {record['seq']} ({event['kind']}) is not shown")
    for line in statement_lines:
        if not row_with(lines, line["rule"], line["amount"], line["calc"]):
            problems.append(f"statement line {line['line']} ({line['rule']} {line['amount']}) is not shown")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pbr")
    ap.add_argument("bundle")
    ap.add_argument("page")
    ap.add_argument("--policy")
    ap.add_argument("--key", action="append", default=[])
    ap.add_argument("--chromium", default=report_check.DEFAULT_CHROMIUM)
    args = ap.parse_args(argv)
    trust = (["--policy", args.policy] if args.policy else []) + [a for k in args.key for a in ("--key", k)]
    heading = expected_heading(args.pbr, args.bundle, trust)
    try:
        bundle = json.loads(pathlib.Path(args.bundle).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        bundle = None
    page_path = pathlib.Path(args.page)
    html = page_path.read_text(encoding="utf-8")
    with report_check.Browser(args.chromium) as browser:
        page = browser.render(page_path)
    problems = problems_of(html, page, bundle, heading)
    if problems:
        for problem in problems:
            print(f"{args.page}: {problem}", file=sys.stderr)
        return 1
    print(f"ok: {args.page} renders in Chromium, loads nothing else and shows {heading!r} "
          f"with every record and statement line of {args.bundle}" if heading != "Verdict: FAILED"
          else f"ok: {args.page} renders in Chromium, loads nothing else and shows only the failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
