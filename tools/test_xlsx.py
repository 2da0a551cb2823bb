#!/usr/bin/env python3
"""The XLSX writer of pbr-report, read back by a real reader (openpyxl).

Design: the Rust test `the_golden_workbook_is_byte_stable` in
crates/pbr-report/tests/it/xlsx.rs keeps tests/vectors/xlsx-sample.xlsx byte for byte equal
to what `pbr_report::xlsx` writes today (`PBR_BLESS=1 cargo test -p pbr-report --test it xlsx`,
or `just gen`, rewrites it after a deliberate change). This test opens that committed file,
so it needs no cargo: the ZIP container (CRCs, STORED entries in a fixed order, DOS times),
every part as XML, the document properties, sheet names, the bold and frozen header, text,
integer and amount cells, number formats, and that the sheet converted from
tests/vectors/xlsx-sample.csv holds the same values as that CSV read by Python's csv module.

openpyxl returns cell strings as stored: it does not decode the `_xHHHH_` escapes of
ECMA-376 strings (ST_Xstring) that Excel, LibreOffice and calamine decode, so this test
decodes them as they do.

Run: python3 -m unittest tools/test_xlsx.py   or   python3 tools/test_xlsx.py
Needs: openpyxl.
"""

from __future__ import annotations

import csv
import datetime
import os
import re
import unittest
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTOR = os.path.join(ROOT, "tests", "vectors", "xlsx-sample.xlsx")
CSV = os.path.join(ROOT, "tests", "vectors", "xlsx-sample.csv")
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
CREATED = datetime.datetime(2024, 3, 31, 12, 34, 56)
PARTS = [
    "[Content_Types].xml",
    "_rels/.rels",
    "docProps/core.xml",
    "docProps/app.xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/styles.xml",
    "xl/worksheets/sheet1.xml",
    "xl/worksheets/sheet2.xml",
    "xl/worksheets/sheet3.xml",
]
NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


class Amount(str):
    """An exact decimal written as a numeric cell, e.g. Amount("-3300.00")."""


# The first sheet, transcribed from `sample` in crates/pbr-report/tests/it/xlsx.rs: str is
# text, int an integer, Amount an exact decimal, None an empty cell.
BUDGET: list[list[Any]] = [
    ["party", "year", "amount", "ratio", "note"],
    ["Brøndby Kommune", 2024, Amount("-3300.00"), Amount("0.125"), "<b> & \"q\" 'a'"],
    ["  spaces  ", -7, Amount("-0.05"), None, "ctl\x01x\ttab\r\nend"],
    [None, None, None, None, None],
    ["_x0041_", 1234567890123, Amount("12345678901.23"), "", "=1+2"],
]


def decode_xstring(text: str) -> str:
    """Decodes ECMA-376 `_xHHHH_` escapes, left to right, as Excel does."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def number_format(decimals: int) -> str:
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def significant_digits(number: str) -> int:
    return len(number.lstrip("-").replace(".", "").strip("0"))


def raw_values(archive: zipfile.ZipFile, part: str) -> dict[str, str]:
    """The exact `<v>` text of every numeric cell of a sheet part, by reference."""
    root = ET.fromstring(archive.read(part))
    return {
        c.attrib["r"]: c.findtext(f"{MAIN}v") or ""
        for c in root.iter(f"{MAIN}c")
        if c.find(f"{MAIN}v") is not None
    }


class XlsxVectorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.archive = zipfile.ZipFile(VECTOR)
        cls.book = openpyxl.load_workbook(VECTOR)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.archive.close()
        cls.book.close()

    def test_zip_container(self) -> None:
        self.assertIsNone(self.archive.testzip(), "every CRC verifies")
        infos = self.archive.infolist()
        self.assertEqual([i.filename for i in infos], PARTS)
        for info in infos:
            self.assertEqual(info.compress_type, zipfile.ZIP_STORED, info.filename)
            self.assertEqual(info.date_time, CREATED.timetuple()[:6], info.filename)
            self.assertEqual(info.extra, b"", info.filename)
            self.assertEqual(info.comment, b"", info.filename)
            self.assertEqual(info.flag_bits, 0, info.filename)
            ET.fromstring(self.archive.read(info))  # well-formed XML

    def test_document_properties(self) -> None:
        self.assertEqual(self.book.properties.created, CREATED)
        self.assertEqual(self.book.properties.modified, CREATED)
        self.assertEqual(self.book.properties.creator, "pbr")

    def test_sheet_names(self) -> None:
        self.assertEqual(self.book.sheetnames, ["Budget & savings", "CSV", "Empty"])

    def test_header_is_bold_and_frozen(self) -> None:
        for name in ["Budget & savings", "CSV"]:
            sheet = self.book[name]
            self.assertEqual(sheet.freeze_panes, "A2", name)
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        self.assertEqual(bool(cell.font.b), cell.row == 1, cell.coordinate)

    def assert_cell(self, cell: Any, raw: dict[str, str], expected: Any) -> None:
        where = f"{cell.parent.title}!{cell.coordinate}"
        if expected is None:
            self.assertIsNone(cell.value, where)
        elif isinstance(expected, Amount):
            self.assertIn(type(cell.value), (int, float), where)
            self.assertEqual(raw[cell.coordinate], expected, where)
            self.assertEqual(Decimal(str(cell.value)), Decimal(expected), where)
            decimals = len(expected.partition(".")[2])
            self.assertEqual(cell.number_format, number_format(decimals), where)
        elif isinstance(expected, int):
            self.assertIs(type(cell.value), int, where)
            self.assertEqual(cell.value, expected, where)
            self.assertEqual(raw[cell.coordinate], str(expected), where)
            self.assertEqual(cell.number_format, "General", where)
        else:
            self.assertIsInstance(cell.value, str, where)
            self.assertEqual(decode_xstring(cell.value), expected, where)

    def test_cells_given_one_by_one(self) -> None:
        sheet = self.book["Budget & savings"]
        raw = raw_values(self.archive, "xl/worksheets/sheet1.xml")
        self.assertEqual((sheet.max_row, sheet.max_column), (5, 5))
        for r, expected_row in enumerate(BUDGET, start=1):
            for c, expected in enumerate(expected_row, start=1):
                self.assert_cell(sheet.cell(r, c), raw, expected)

    def test_csv_sheet_holds_the_csv(self) -> None:
        with open(CSV, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        sheet = self.book["CSV"]
        raw = raw_values(self.archive, "xl/worksheets/sheet2.xml")
        self.assertEqual(sheet.max_row, len(rows))
        self.assertEqual(sheet.max_column, max(len(row) for row in rows))
        numbers = 0
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                # The writer's rule: a plain number of at most 15 significant digits is a
                # numeric cell (an integer without a point), empty stays empty, the rest text.
                if value == "":
                    expected: Any = None
                elif NUMBER.fullmatch(value) and significant_digits(value) <= 15:
                    expected = Amount(value) if "." in value else int(value)
                    numbers += 1
                else:
                    expected = value
                self.assert_cell(sheet.cell(r, c), raw, expected)
        self.assertGreater(numbers, 10)

    def test_empty_sheet(self) -> None:
        sheet = self.book["Empty"]
        self.assertEqual((sheet.max_row, sheet.max_column), (1, 1))
        self.assertIsNone(sheet["A1"].value)


if __name__ == "__main__":
    unittest.main()
