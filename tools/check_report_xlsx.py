#!/usr/bin/env python3
"""Checks that pbr's XLSX reports open with a real reader and hold the CSV's numbers.

Usage: check_report_xlsx.py PATH/TO/pbr

Builds the demo ledger, writes `pbr report budget` (every party, in the long and the wide
layout) and `pbr report esf` as CSV and as XLSX twice, and checks with openpyxl that each
workbook's first sheet holds exactly the CSV's cells (numbers as exact decimals, empty cells
empty), and that the two XLSX files of one report are byte-identical (their time comes from
the data, never the clock). In the wide budget workbook, each line's total column must be the
sum of its year columns and every row must name the currency; the ESF+ workbook's second
sheet must name the incomplete records of `--format json`, by the first 12 hex digits of
their reference, as text.
"""

import csv
import io
import json
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]


def run(pbr: str, *args: str) -> str:
    return subprocess.run([pbr, *args], check=True, capture_output=True, text=True).stdout


def cells_match(csv_text: str, xlsx: Path, what: str) -> None:
    rows = list(csv.reader(io.StringIO(csv_text)))
    sheet = openpyxl.load_workbook(xlsx).worksheets[0]
    got = [list(r) for r in sheet.iter_rows(values_only=True)]
    if len(got) != len(rows):
        sys.exit(f"{what}: {len(got)} rows in the workbook, {len(rows)} in the CSV")
    for n, (want, have) in enumerate(zip(rows, got), start=1):
        have = have + [None] * (len(want) - len(have))
        for col, (w, h) in enumerate(zip(want, have), start=1):
            if w == "":
                ok = h is None
            elif isinstance(h, (int, float)) and not isinstance(h, bool):
                ok = Decimal(w) == Decimal(str(h))
            else:
                ok = str(h) == w
            if not ok:
                sys.exit(f"{what}: row {n}, column {col}: CSV {w!r}, workbook {h!r}")


def wide_totals_add_up(xlsx: Path, what: str, currency: str) -> None:
    """Each row of the wide budget sheet: its currency, and a total that is the sum of the
    year columns (empty when every year is empty)."""
    rows = [list(r) for r in openpyxl.load_workbook(xlsx).worksheets[0].iter_rows(values_only=True)]
    header = rows[0]
    if list(header[:4]) != ["line", "budget_line", "sign", "currency"] or header[-1] != "total":
        sys.exit(f"{what}: header {header!r}")
    for n, row in enumerate(rows[1:], start=2):
        if row[3] != currency:
            sys.exit(f"{what}: row {n}: currency {row[3]!r}, not {currency}")
        years = [Decimal(str(v)) for v in row[4:-1] if v is not None]
        total = row[-1]
        want = sum(years, Decimal(0)) if years else None
        have = None if total is None else Decimal(str(total))
        if have != want:
            sys.exit(f"{what}: row {n}: total {have}, years add up to {want}")


def incomplete_sheet_matches(report: dict[str, Any], xlsx: Path, what: str) -> None:
    """The ESF+ workbook's second sheet names the incomplete records of the JSON report."""
    sheets = openpyxl.load_workbook(xlsx).worksheets
    if len(sheets) != 2 or sheets[1].title != "Incomplete records":
        sys.exit(f"{what}: sheets {[s.title for s in sheets]!r}")
    got = [list(r) for r in sheets[1].iter_rows(values_only=True)]
    want = [["participant", "missing"]] + [
        [r["participant"][:12], " ".join(r["missing"])] for r in report["incomplete"]
    ]
    if got != want:
        sys.exit(f"{what}: incomplete records {got!r}, JSON says {want!r}")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pbr = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ledger = str(work / "ledger")
        run(pbr, "demo", ledger)
        reports = [("esf", ["report", "esf"])]
        for party in ["aalborg-jobcenter", "fokus-provider", "dsk-investor", "obelske-fund"]:
            budget = ["report", "budget", "--party", party]
            reports.append((f"budget-{party}", budget))
            reports.append((f"budget-wide-{party}", [*budget, "--layout", "wide"]))
        for name, args in reports:
            csv_text = run(pbr, "--ledger", ledger, *args, "--format", "csv")
            files = []
            for copy in (1, 2):
                out = work / f"{name}-{copy}.xlsx"
                run(pbr, "--ledger", ledger, *args, "--format", "xlsx", "--out", str(out))
                files.append(out)
            if files[0].read_bytes() != files[1].read_bytes():
                sys.exit(f"{name}: two runs wrote different workbooks")
            cells_match(csv_text, files[0], name)
            if name.startswith("budget-wide-"):
                report = json.loads(run(pbr, "--ledger", ledger, *args, "--format", "json"))
                wide_totals_add_up(files[0], name, report["currency"])
            if name == "esf":
                report = json.loads(run(pbr, "--ledger", ledger, *args, "--format", "json"))
                incomplete_sheet_matches(report, files[0], name)
            print(f"ok: {name}.xlsx holds the CSV's {len(csv_text.splitlines())} rows")


if __name__ == "__main__":
    main()
