"""Self-tests of tools/check_bundle_html.py: the pages `pbr bundle show --format html` makes of
a demo bundle pass (under the contract's policy, and without a key), the failure page of a
tampered bundle passes, and each kind of bad page fails (a fine page for a tampered bundle, a
failure page that still shows the records, a changed amount, an external image).

Needs Chromium (`/usr/bin/chromium`, or PBR_CHROMIUM), Playwright and a built `pbr` (PBR_BIN,
default target/debug/pbr); a missing piece is a failure, never a skip. The only URL loaded
besides the pages is http://127.0.0.1:9/ (the discard port on this machine).
"""

import json
import os
import pathlib
import subprocess
import tempfile
import unittest

import check_bundle_html as check
import check_report_html as report_check

REPO = pathlib.Path(__file__).resolve().parent.parent
PBR = os.environ.get("PBR_BIN", str(REPO / "target" / "debug" / "pbr"))
CHROMIUM = os.environ.get("PBR_CHROMIUM", report_check.DEFAULT_CHROMIUM)


class CheckBundleHtml(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not pathlib.Path(PBR).is_file():
            raise RuntimeError(f"{PBR}: build pbr first (cargo build), or set PBR_BIN")
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="pbr-bundle-html-"))
        ledger = str(cls.tmp / "demo")
        subprocess.run([PBR, "demo", ledger], check=True, capture_output=True)
        cls.policy = str(pathlib.Path(ledger) / "demo-keys" / "policy")
        first = subprocess.run(
            [PBR, "--ledger", ledger, "log", "--kind", "participant-enrolled", "--json"],
            check=True, capture_output=True, text=True,
        ).stdout.splitlines()[0]
        participant = json.loads(first)["event"]["participant"]
        cls.bundle = str(cls.tmp / "bundle.json")
        subprocess.run(
            [PBR, "--ledger", ledger, "bundle", "--participant", participant, "--out", cls.bundle],
            check=True, capture_output=True,
        )
        tampered = json.loads(pathlib.Path(cls.bundle).read_text())
        statuses = [r for r in tampered["records"] if r["event"]["kind"] == "monthly-status-recorded"]
        statuses[0]["event"]["payload"]["status"] = "full" if statuses[0]["event"]["payload"]["status"] != "full" else "none"
        cls.tampered = str(cls.tmp / "tampered.json")
        pathlib.Path(cls.tampered).write_text(json.dumps(tampered, indent=2))
        cls.browser = report_check.Browser(CHROMIUM)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()

    def show(self, bundle: str, name: str, *trust: str) -> pathlib.Path:
        out = self.tmp / name
        run = subprocess.run(
            [PBR, "bundle", "show", bundle, "--format", "html", "--out", str(out), "--force", *trust],
            capture_output=True, text=True,
        )
        self.assertIn(run.returncode, (0, 5), run.stderr)
        return out

    def problems(self, bundle: str, page: pathlib.Path, *trust: str) -> list[str]:
        heading = check.expected_heading(PBR, bundle, list(trust))
        data = json.loads(pathlib.Path(bundle).read_text())
        html = page.read_text()
        return check.problems_of(html, self.browser.render(page), data, heading)

    def test_the_pages_pbr_makes_pass(self):
        trust = ("--policy", self.policy)
        self.assertEqual(self.problems(self.bundle, self.show(self.bundle, "ok.html", *trust), *trust), [])
        self.assertEqual(self.problems(self.bundle, self.show(self.bundle, "untrusted.html")), [])
        failed = self.show(self.tampered, "failed.html", *trust)
        self.assertIn("Verdict: FAILED", failed.read_text())
        self.assertEqual(self.problems(self.tampered, failed, *trust), [])

    def test_a_fine_page_for_a_tampered_bundle_fails(self):
        trust = ("--policy", self.policy)
        page = self.show(self.bundle, "fine.html", *trust)
        found = self.problems(self.tampered, page, *trust)
        self.assertIn("the verdict heading is ['Verdict: verified'], not ['Verdict: FAILED']", found)
        self.assertTrue(any(p.startswith("a failure page shows the record") for p in found), found)

    def test_a_changed_amount_fails(self):
        trust = ("--policy", self.policy)
        page = self.show(self.bundle, "changed.html", *trust)
        data = json.loads(pathlib.Path(self.bundle).read_text())
        line = data["statements"][0]["explanation"][0]
        html = page.read_text().replace(f">{line['amount']}<", ">1.00<")
        self.assertNotEqual(html, page.read_text())
        page.write_text(html)
        found = self.problems(self.bundle, page, *trust)
        self.assertTrue(any(p.startswith(f"statement line {line['line']} ") for p in found), found)

    def test_an_external_image_fails(self):
        trust = ("--policy", self.policy)
        page = self.show(self.bundle, "image.html", *trust)
        page.write_text(page.read_text().replace("</body>", "<img src=\"http://127.0.0.1:9/x.png\"></body>"))
        found = self.problems(self.bundle, page, *trust)
        self.assertIn("the source holds 'http:'", found)
        self.assertTrue(any(p.startswith("the page requested http://127.0.0.1:9/") for p in found), found)


if __name__ == "__main__":
    unittest.main()
