"""Self-tests of tools/check_report_html.py: the demo ledger's audit reports pass (with no
key, with the quorum's keys, with one party's key, each with its own verdict), and each kind
of bad page fails (an external image, whether or not its URL is spelled in the source; a
changed figure; a hidden chart; a wrong verdict; a failed verdict shown as passed; a verdict
that does not name the missing signer; no Chromium).

Needs Chromium (`/usr/bin/chromium`, or PBR_CHROMIUM), Playwright, and a built `pbr` (PBR_BIN,
default target/debug/pbr). Nothing is skipped: a missing piece is a failure, so CI cannot
pass without the browser check. The only URL the tests load besides the report is
http://127.0.0.1:9/ (the discard port on this machine, where nothing listens).
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import unittest

import check_report_html as check

REPO = pathlib.Path(__file__).resolve().parent.parent
PBR = os.environ.get("PBR_BIN", str(REPO / "target" / "debug" / "pbr"))
CHROMIUM = os.environ.get("PBR_CHROMIUM", check.DEFAULT_CHROMIUM)
LOOPBACK = "http://127.0.0.1:9/pixel.png"


class CheckReportHtml(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not pathlib.Path(PBR).is_file():
            raise RuntimeError(f"{PBR}: build pbr first (cargo build), or set PBR_BIN")
        cls.tmp = tempfile.mkdtemp(prefix="pbr-html-")
        cls.ledger = str(pathlib.Path(cls.tmp) / "demo")
        demo = subprocess.run(
            [PBR, "--json", "demo", cls.ledger], check=True, capture_output=True, text=True
        )
        # The demo's quorum: its log key, then the witness keys of the jobcentre and the
        # provider, its first two parties.
        log, jobcentre, provider = json.loads(demo.stdout)["verifier_keys"][:3]
        cls.quorum_keys = (log, jobcentre, provider)
        cls.one_key = (log, jobcentre)
        cls.report = cls.make_report("audit.html", ())
        cls.keyed_report = cls.make_report("keyed.html", cls.quorum_keys)
        cls.one_key_report = cls.make_report("one-key.html", cls.one_key)
        cls.html = cls.report.read_text(encoding="utf-8")
        cls.one_key_html = cls.one_key_report.read_text(encoding="utf-8")
        cls.expected = check.expected_figures(PBR, cls.ledger)
        cls.expected_one_key = check.expected_figures(PBR, cls.ledger, cls.one_key)
        cls.browser = check.Browser(CHROMIUM)

    @classmethod
    def make_report(cls, name: str, keys: tuple) -> pathlib.Path:
        """`pbr report audit --out NAME` with `--key` KEYS; exit 5 when it fails."""
        path = pathlib.Path(cls.tmp) / name
        run = subprocess.run(
            [PBR, "--ledger", cls.ledger, "report", "audit", "--out", str(path)]
            + [arg for key in keys for arg in ("--key", key)],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode not in (0, 5) or not path.is_file():
            raise RuntimeError(f"pbr report audit {keys} failed: {run.stderr}")
        return path

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        shutil.rmtree(cls.tmp)

    def problems(self, html: str, expected: dict | None = None) -> list:
        """The checker's problems with a copy of the report holding `html`."""
        path = pathlib.Path(self.tmp) / "copy.html"
        path.write_text(html, encoding="utf-8")
        return check.problems_of(html, self.browser.render(path), expected or self.expected)

    def test_the_demo_report_passes(self):
        self.assertEqual(check.check(PBR, self.ledger, self.report, self.browser), [])
        # The figures were really compared: the demo has statements, parties and a root.
        self.assertEqual(len(self.expected["statements"]), 8)
        self.assertEqual(len(self.expected["balance"]["parties"]), 4)
        self.assertIn(self.expected["verify"]["root"], self.html)
        # No key was given: trust is not established, and the page says so.
        self.assertEqual(self.expected["verdict"], "trust not established")
        self.assertIn("Verdict: trust not established", self.html)

    def test_each_report_made_with_keys_passes_with_its_own_verdict(self):
        keyed = (self.keyed_report, self.quorum_keys, "Verdict: passed")
        one_key = (self.one_key_report, self.one_key, "Verdict: FAILED")
        for report, keys, heading in (keyed, one_key):
            with self.subTest(heading=heading):
                self.assertEqual(
                    check.check(PBR, self.ledger, report, self.browser, keys), []
                )
                self.assertIn(heading, report.read_text(encoding="utf-8"))
        self.assertEqual(self.expected_one_key["missing"], ["fokus-provider-witness+25792e3d"])

    def test_an_external_image_is_requested_and_refused(self):
        html = self.html.replace("</body>", f'<img src="{LOOPBACK}" alt="">\n</body>')
        problems = self.problems(html)
        self.assertIn(f"the page requested {LOOPBACK}", problems)
        self.assertIn("the source holds 'src='", problems)

    def test_a_load_spelled_without_a_url_is_still_caught_by_its_request(self):
        # The URL is put together by CSS escapes, so no forbidden string is in the source
        # but the request; the policy is removed too, so only the recorder can catch it.
        escaped = "".join(f"\\{ord(c):x} " for c in LOOPBACK)
        html = self.html.replace(
            '<meta http-equiv="Content-Security-Policy"', '<meta name="x"'
        ).replace(
            "</body>",
            f'<div style="width:9px;height:9px;background-image:\\75 rl(\'{escaped}\')"></div>'
            "\n</body>",
        )
        lowered = html.lower()
        self.assertFalse([n for n in check.FORBIDDEN if n in lowered and n not in self.html])
        problems = self.problems(html)
        self.assertTrue(
            any(p.startswith("the page requested http://127.0.0.1:9/") for p in problems),
            problems,
        )

    def test_a_changed_balance_is_caught(self):
        accrued = self.expected["balance"]["parties"][2]["accrued"]
        shown = check.grouped(accrued)
        self.assertIn(f">{shown}</td>", self.html)
        changed = shown[:-1] + ("1" if shown[-1] != "1" else "2")
        problems = self.problems(self.html.replace(f">{shown}</td>", f">{changed}</td>", 1))
        self.assertTrue(any(p.startswith("the balance row 'accrued") for p in problems), problems)

    def test_a_missing_root_and_statement_are_caught(self):
        root = self.expected["verify"]["root"]
        first = self.expected["statements"][0]["recorded_hash"]
        html = self.html.replace(root, "0" * 64).replace(first, "f" * 64)
        problems = self.problems(html)
        self.assertIn(f"the root of pbr verify, {root}, is not shown", problems)
        self.assertTrue(any("the statement at seq 63" in p for p in problems), problems)

    def test_a_hidden_chart_is_caught(self):
        html = self.html.replace("</style>", "#chart-facility { display: none; }\n</style>")
        problems = self.problems(html)
        self.assertIn("the chart chart-facility has no rendered box (0 x 0)", problems)

    def test_a_wrong_verdict_is_caught(self):
        html = self.html.replace("Verdict: trust not established", "Verdict: passed")
        self.assertIn("'Verdict: trust not established' is not shown", self.problems(html))

    def test_a_failed_verdict_shown_as_passed_is_caught(self):
        html = self.one_key_html.replace("Verdict: FAILED", "Verdict: passed").replace(
            '<p class="verdict-line">FAILED: ', '<p class="verdict-line">passed: '
        )
        self.assertIn("'Verdict: FAILED' is not shown", self.problems(html, self.expected_one_key))

    def test_a_verdict_that_does_not_name_the_missing_signer_is_caught(self):
        start = self.one_key_html.index('<p class="verdict-line">')
        end = self.one_key_html.index("</p>", start)
        line = self.one_key_html[start:end]
        self.assertIn("fokus-provider-witness+25792e3d", line)
        html = (
            self.one_key_html[:start]
            + line.replace("fokus-provider-witness+25792e3d", "a quorum party")
            + self.one_key_html[end:]
        )
        self.assertIn(
            "the verdict line does not name the missing signer fokus-provider-witness+25792e3d",
            self.problems(html, self.expected_one_key),
        )

    def test_no_chromium_is_a_failure_not_a_skip(self):
        with self.assertRaises(RuntimeError):
            check.Browser("/nonexistent/chromium")

    def test_thousands_are_grouped(self):
        self.assertEqual(check.grouped("-976835.50"), "-976,835.50")
        self.assertEqual(check.grouped("1080000.00"), "1,080,000.00")
        self.assertEqual(check.grouped("0.00"), "0.00")
        self.assertEqual(check.grouped("-100.00"), "-100.00")


if __name__ == "__main__":
    unittest.main()
