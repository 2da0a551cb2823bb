//! The XLSX writer: byte-identical output, the created time only in `core.xml` and the ZIP
//! timestamps, CRCs checked by a small ZIP reader written here, escaping, validation, the
//! CSV conversion, and the golden workbook `tests/vectors/xlsx-sample.xlsx` that
//! `tools/test_xlsx.py` opens with openpyxl (`PBR_BLESS=1` rewrites it, as `just gen` does).

// The golden-vector test reads PBR_BLESS to rewrite tests/vectors/; the library is held to
// the ban.
#![allow(clippy::disallowed_methods)]

use pbr_core::money::{Currency, Money};
use pbr_report::xlsx::{Cell, Workbook, XlsxError, crc32, csv_rows};

const CREATED: &str = "2024-03-31T12:34:56Z";

fn text(text: &str) -> Cell {
    Cell::text(text)
}

fn amount(value: &str) -> Cell {
    Cell::Amount(value.to_owned())
}

/// The sample of the golden vector: a sheet of cells given one by one, a sheet from
/// `tests/vectors/xlsx-sample.csv`, and an empty sheet. `tools/test_xlsx.py` transcribes
/// the first sheet.
fn sample(created: &str) -> Workbook {
    let mut book = Workbook::new(created).unwrap();
    book.sheet(
        "Budget & savings",
        vec![
            vec![
                text("party"),
                text("year"),
                text("amount"),
                text("ratio"),
                text("note"),
            ],
            vec![
                text("Brøndby Kommune"),
                Cell::Int(2024),
                amount("-3300.00"),
                amount("0.125"),
                text("<b> & \"q\" 'a'"),
            ],
            vec![
                text("  spaces  "),
                Cell::Int(-7),
                Cell::money(Money::from_minor(-5, Currency::DKK)),
                Cell::Empty,
                text("ctl\u{1}x\ttab\r\nend"),
            ],
            vec![],
            vec![
                text("_x0041_"),
                Cell::Int(1_234_567_890_123),
                amount("12345678901.23"),
                text(""),
                text("=1+2"),
            ],
        ],
    )
    .unwrap();
    book.csv_sheet("CSV", &sample_csv()).unwrap();
    book.sheet("Empty", vec![]).unwrap();
    book
}

fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn sample_csv() -> String {
    let path = vectors_dir().join("xlsx-sample.csv");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// CRC-32 bit by bit, independent of the table-driven one under test.
fn crc32_bitwise(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & 0u32.wrapping_sub(crc & 1));
        }
    }
    !crc
}

/// One entry of a ZIP, as its local and central headers describe it.
#[derive(Debug)]
struct Entry {
    name: String,
    time: u16,
    date: u16,
    crc: u32,
    data: Vec<u8>,
    /// Where the local header and the central header start.
    local: usize,
    central: usize,
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap())
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Reads a ZIP of STORED entries without extra fields or comments, checking that the
/// local and central headers agree, that entries are contiguous, and every CRC.
fn read_zip(zip: &[u8]) -> Vec<Entry> {
    let end = zip.len() - 22;
    assert_eq!(u32_at(zip, end), 0x0605_4b50, "end of central directory");
    assert_eq!(u16_at(zip, end + 20), 0, "no archive comment");
    let count = usize::from(u16_at(zip, end + 10));
    assert_eq!(u16_at(zip, end + 8), u16_at(zip, end + 10));
    let size = u32_at(zip, end + 12) as usize;
    let start = u32_at(zip, end + 16) as usize;
    assert_eq!(
        start + size,
        end,
        "the central directory ends where the end record starts"
    );
    let mut entries = Vec::new();
    let mut at = start;
    let mut next_local = 0;
    for _ in 0..count {
        assert_eq!(u32_at(zip, at), 0x0201_4b50, "central header");
        assert_eq!(u16_at(zip, at + 4), 20, "made by MS-DOS 2.0");
        let name_len = usize::from(u16_at(zip, at + 28));
        assert_eq!(
            zip[at + 30..at + 38],
            [0; 8],
            "no extra field, comment, disk, internal or external attributes"
        );
        assert_eq!(u16_at(zip, at + 38), 0);
        assert_eq!(u16_at(zip, at + 40), 0);
        let local = u32_at(zip, at + 42) as usize;
        assert_eq!(local, next_local, "entries are contiguous and in order");
        assert_eq!(u32_at(zip, local), 0x0403_4b50, "local header");
        // From "version needed" to "extra length", local and central headers are the same.
        assert_eq!(zip[local + 4..local + 30], zip[at + 6..at + 32]);
        assert_eq!(u16_at(zip, local + 4), 20, "version needed 2.0");
        assert_eq!(u16_at(zip, local + 6), 0, "no flags");
        assert_eq!(u16_at(zip, local + 8), 0, "STORED");
        let crc = u32_at(zip, local + 14);
        let compressed = u32_at(zip, local + 18) as usize;
        assert_eq!(compressed, u32_at(zip, local + 22) as usize);
        let name = &zip[at + 46..at + 46 + name_len];
        assert_eq!(&zip[local + 30..local + 30 + name_len], name);
        let data_at = local + 30 + name_len;
        let data = zip[data_at..data_at + compressed].to_vec();
        let name = String::from_utf8(name.to_vec()).unwrap();
        assert_eq!(crc32_bitwise(&data), crc, "CRC of {name}");
        next_local = data_at + compressed;
        entries.push(Entry {
            name,
            time: u16_at(zip, local + 10),
            date: u16_at(zip, local + 12),
            crc,
            data,
            local,
            central: at,
        });
        at += 46 + name_len;
    }
    assert_eq!(
        next_local, start,
        "the central directory follows the last entry"
    );
    assert_eq!(at, end);
    entries
}

fn part(zip: &[u8], name: &str) -> String {
    let entry = read_zip(zip).into_iter().find(|e| e.name == name).unwrap();
    String::from_utf8(entry.data).unwrap()
}

#[test]
fn crc32_matches_the_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32_bitwise(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    assert_eq!(crc32(&bytes), crc32_bitwise(&bytes));
}

#[test]
fn the_same_workbook_gives_the_same_bytes() {
    let first = sample(CREATED).to_bytes().unwrap();
    let second = sample(CREATED).to_bytes().unwrap();
    assert!(first == second);
    let again = sample(CREATED);
    assert!(again.to_bytes().unwrap() == again.to_bytes().unwrap());
}

#[test]
fn the_parts_are_in_a_fixed_order_with_crcs_that_verify() {
    let zip = sample(CREATED).to_bytes().unwrap();
    let names: Vec<String> = read_zip(&zip).into_iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
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
    );
    for entry in read_zip(&zip) {
        assert_eq!(crc32(&entry.data), entry.crc, "{}", entry.name);
        assert!(
            entry
                .data
                .starts_with(b"<?xml version=\"1.0\" encoding=\"UTF-8\"")
        );
    }
}

#[test]
fn the_created_time_is_in_core_xml_and_the_zip_timestamps_only() {
    let one = sample(CREATED).to_bytes().unwrap();
    let other = sample("2025-12-01T08:00:00Z").to_bytes().unwrap();
    assert_eq!(one.len(), other.len());
    let entries = read_zip(&one);
    let others = read_zip(&other);
    // The byte ranges that may differ: every entry's DOS time and date, in its local and
    // central header; core.xml's CRC there too, and its data.
    let mut allowed = Vec::new();
    for entry in &entries {
        allowed.push(entry.local + 10..entry.local + 14);
        allowed.push(entry.central + 12..entry.central + 16);
        if entry.name == "docProps/core.xml" {
            allowed.push(entry.local + 14..entry.local + 18);
            allowed.push(entry.central + 16..entry.central + 20);
            let data = entry.local + 30 + entry.name.len();
            allowed.push(data..data + entry.data.len());
        }
    }
    let differing: Vec<usize> = (0..one.len()).filter(|&i| one[i] != other[i]).collect();
    assert!(!differing.is_empty());
    for i in differing {
        assert!(allowed.iter().any(|r| r.contains(&i)), "byte {i} differs");
    }
    for (a, b) in entries.iter().zip(&others) {
        assert_ne!((a.time, a.date), (b.time, b.date), "{}", a.name);
        assert_eq!(
            a.data == b.data,
            a.name != "docProps/core.xml",
            "{}",
            a.name
        );
    }
    let core = part(&other, "docProps/core.xml");
    assert!(core.contains(
        "<dcterms:created xsi:type=\"dcterms:W3CDTF\">2025-12-01T08:00:00Z</dcterms:created>"
    ));
    assert!(core.contains(
        "<dcterms:modified xsi:type=\"dcterms:W3CDTF\">2025-12-01T08:00:00Z</dcterms:modified>"
    ));
}

#[test]
fn the_dos_timestamp_is_the_created_time() {
    let entries = read_zip(&sample(CREATED).to_bytes().unwrap());
    let time = (12 << 11) | (34 << 5) | (56 / 2);
    let date = ((2024 - 1980) << 9) | (3 << 5) | 31;
    assert!(entries.iter().all(|e| (e.time, e.date) == (time, date)));
    // DOS dates begin in 1980 and end in 2107: earlier and later times are clamped.
    let early = read_zip(&sample("1970-01-01T00:00:00Z").to_bytes().unwrap());
    assert_eq!((early[0].time, early[0].date), (0, (1 << 5) | 1));
    let late = read_zip(&sample("2200-06-15T10:00:00Z").to_bytes().unwrap());
    let last = (23 << 11) | (59 << 5) | 29;
    assert_eq!(
        (late[0].time, late[0].date),
        (last, (127 << 9) | (12 << 5) | 31)
    );
}

#[test]
fn the_created_time_is_an_iso_date_time_or_a_date() {
    let midnight = sample("2024-03-31T00:00:00Z").to_bytes().unwrap();
    assert!(sample("2024-03-31").to_bytes().unwrap() == midnight);
    for bad in [
        "",
        "2024-03-31T12:34:56",
        "2024-03-31T12:34:56+01:00",
        "2024-03-31 12:34:56Z",
        "2024-02-30",
        "2024-3-31",
        "+2024-03-31",
        "2024-03-31T24:00:00Z",
        "2024-03-31T12:34:56.5Z",
    ] {
        assert_eq!(
            Workbook::new(bad).unwrap_err(),
            XlsxError::Created(bad.to_owned()),
            "{bad:?}"
        );
    }
}

#[test]
fn text_is_escaped_and_numbers_are_exact() {
    let zip = sample(CREATED).to_bytes().unwrap();
    let sheet = part(&zip, "xl/worksheets/sheet1.xml");
    assert!(sheet.contains("<t xml:space=\"preserve\">&lt;b&gt; &amp; &quot;q&quot; 'a'</t>"));
    assert!(sheet.contains("<t xml:space=\"preserve\">ctl_x0001_x\ttab_x000D_\nend</t>"));
    assert!(sheet.contains("<t xml:space=\"preserve\">_x005F_x0041_</t>"));
    assert!(sheet.contains("<t xml:space=\"preserve\">  spaces  </t>"));
    assert!(sheet.contains("<t xml:space=\"preserve\">Brøndby Kommune</t>"));
    // Formula-like text stays text: an inline string is never evaluated.
    assert!(sheet.contains("<c r=\"E5\" t=\"inlineStr\"><is><t xml:space=\"preserve\">=1+2</t>"));
    assert!(!sheet.contains("<f>"));
    // Numbers are the exact strings: two decimals use format 164, three 165.
    assert!(sheet.contains("<c r=\"B2\"><v>2024</v></c>"));
    assert!(sheet.contains("<c r=\"C2\" s=\"4\"><v>-3300.00</v></c>"));
    assert!(sheet.contains("<c r=\"D2\" s=\"6\"><v>0.125</v></c>"));
    assert!(sheet.contains("<c r=\"C3\" s=\"4\"><v>-0.05</v></c>"));
    assert!(sheet.contains("<c r=\"C5\" s=\"4\"><v>12345678901.23</v></c>"));
    // The header is bold (format 1), the empty cell and the empty row are not written.
    assert!(sheet.contains("<c r=\"A1\" s=\"1\" t=\"inlineStr\">"));
    assert!(!sheet.contains("D3"));
    assert!(!sheet.contains("<row r=\"4\""));
    assert!(sheet.contains("<dimension ref=\"A1:E5\"/>"));
    let workbook = part(&zip, "xl/workbook.xml");
    assert!(
        workbook.contains("<sheet name=\"Budget &amp; savings\" sheetId=\"1\" r:id=\"rId1\"/>")
    );
    let styles = part(&zip, "xl/styles.xml");
    assert!(styles.contains(
        "<numFmts count=\"3\"><numFmt numFmtId=\"164\" formatCode=\"#,##0.0\"/>\
         <numFmt numFmtId=\"165\" formatCode=\"#,##0.00\"/>\
         <numFmt numFmtId=\"166\" formatCode=\"#,##0.000\"/></numFmts>"
    ));
}

#[test]
fn number_formats_follow_the_decimals_in_increasing_order() {
    let mut book = Workbook::new(CREATED).unwrap();
    book.sheet(
        "S",
        vec![
            vec![text("a"), text("b")],
            vec![amount("1.000"), amount("2.0")],
            vec![amount("3"), amount("-4.00")],
        ],
    )
    .unwrap();
    let zip = book.to_bytes().unwrap();
    let styles = part(&zip, "xl/styles.xml");
    assert!(styles.contains(
        "<numFmts count=\"4\"><numFmt numFmtId=\"164\" formatCode=\"#,##0\"/>\
         <numFmt numFmtId=\"165\" formatCode=\"#,##0.0\"/>\
         <numFmt numFmtId=\"166\" formatCode=\"#,##0.00\"/>\
         <numFmt numFmtId=\"167\" formatCode=\"#,##0.000\"/></numFmts>"
    ));
    assert!(styles.contains("<cellXfs count=\"10\">"));
    let sheet = part(&zip, "xl/worksheets/sheet1.xml");
    assert!(sheet.contains("<c r=\"A2\" s=\"8\"><v>1.000</v></c>"));
    assert!(sheet.contains("<c r=\"B2\" s=\"4\"><v>2.0</v></c>"));
    assert!(sheet.contains("<c r=\"A3\" s=\"2\"><v>3</v></c>"));
    assert!(sheet.contains("<c r=\"B3\" s=\"6\"><v>-4.00</v></c>"));
    // A workbook without amounts writes no number formats.
    let mut plain = Workbook::new(CREATED).unwrap();
    plain.sheet("S", vec![vec![Cell::Int(1)]]).unwrap();
    let styles = part(&plain.to_bytes().unwrap(), "xl/styles.xml");
    assert!(!styles.contains("<numFmts"));
    assert!(styles.contains("<cellXfs count=\"2\">"));
}

#[test]
fn money_is_written_with_the_currency_decimals() {
    assert_eq!(
        Cell::money(Money::from_minor(-330_000, Currency::DKK)),
        amount("-3300.00")
    );
    assert_eq!(
        Cell::money(Money::from_minor(5, Currency::EUR)),
        amount("0.05")
    );
    assert_eq!(
        Cell::money(Money::from_minor(0, Currency::GBP)),
        amount("0.00")
    );
}

#[test]
fn bad_sheets_and_cells_are_refused() {
    let mut book = Workbook::new(CREATED).unwrap();
    assert_eq!(book.to_bytes().unwrap_err(), XlsxError::NoSheets);
    book.sheet("Budget", vec![]).unwrap();
    let long = "x".repeat(32);
    for name in [
        "",
        long.as_str(),
        "a/b",
        "a[1]",
        "what?",
        "a:b",
        "a*",
        "a\\b",
        "'quoted'",
        "tab\there",
        "history",
        "BUDGET",
    ] {
        assert!(
            matches!(book.sheet(name, vec![]), Err(XlsxError::SheetName { .. })),
            "{name:?}"
        );
    }
    book.sheet(&"x".repeat(31), vec![]).unwrap();
    for bad in [
        "", "-", "1.", ".5", "+1", "1e3", "1,5", " 1", "1.2.3", "0x10",
    ] {
        assert_eq!(
            book.sheet("Bad", vec![vec![], vec![Cell::Empty, amount(bad)]]),
            Err(XlsxError::Cell {
                sheet: "Bad".into(),
                cell: "B2".into(),
                reason: format!("amount {bad:?} is not -?[0-9]+(.[0-9]+)?"),
            }),
            "{bad:?}"
        );
    }
    let huge = "x".repeat(32_768);
    assert!(matches!(
        book.sheet("Long", vec![vec![Cell::Text(huge)]]),
        Err(XlsxError::Cell { .. })
    ));
    let wide = vec![vec![Cell::Empty; 16_385]];
    assert!(matches!(
        book.sheet("Wide", wide),
        Err(XlsxError::TooBig { .. })
    ));
    // Column 16 384 is XFD, the last one.
    let mut cells = vec![Cell::Empty; 16_384];
    cells[16_383] = Cell::Int(1);
    let mut edge = Workbook::new(CREATED).unwrap();
    edge.sheet("Edge", vec![cells]).unwrap();
    let sheet = part(&edge.to_bytes().unwrap(), "xl/worksheets/sheet1.xml");
    assert!(sheet.contains("<c r=\"XFD1\" s=\"1\"><v>1</v></c>"));
    assert!(sheet.contains("<dimension ref=\"A1:XFD1\"/>"));
}

#[test]
fn csv_fields_become_cells() {
    let rows = csv_rows(
        "h1,h2,h3\r\n\"a, b\",\"say \"\"hi\"\"\",\"two\r\nlines\"\n\
         -3300.00,12,0\n-0.5,007,12345678901234567\n1234567.12345678,-12,0.0\n,\"\",x,\n",
    )
    .unwrap();
    assert_eq!(
        rows,
        vec![
            vec![text("h1"), text("h2"), text("h3")],
            vec![text("a, b"), text("say \"hi\""), text("two\r\nlines")],
            vec![amount("-3300.00"), Cell::Int(12), Cell::Int(0)],
            vec![amount("-0.5"), text("007"), text("12345678901234567")],
            vec![amount("1234567.12345678"), Cell::Int(-12), amount("0.0")],
            vec![Cell::Empty, Cell::Empty, text("x"), Cell::Empty],
        ]
    );
    // 16 significant digits are more than a double holds; trailing zeros are not significant.
    assert_eq!(
        csv_rows("1234567890.123456").unwrap(),
        vec![vec![text("1234567890.123456")]]
    );
    assert_eq!(
        csv_rows("123456789012345.000").unwrap(),
        vec![vec![amount("123456789012345.000")]]
    );
    assert_eq!(
        csv_rows("0.000000000000000001").unwrap(),
        vec![vec![amount("0.000000000000000001")]]
    );
    assert_eq!(csv_rows("").unwrap(), Vec::<Vec<Cell>>::new());
    assert_eq!(
        csv_rows("\u{FEFF}a\n\nb").unwrap(),
        vec![vec![text("a")], vec![Cell::Empty], vec![text("b")]]
    );
    assert_eq!(csv_rows("a,").unwrap(), vec![vec![text("a"), Cell::Empty]]);
    assert_eq!(
        csv_rows("1e5,+1,1.,.5, 1").unwrap(),
        vec![["1e5", "+1", "1.", ".5", " 1"].map(text).to_vec()]
    );
    for (bad, line) in [
        ("a\n\"open", 2),
        ("a\n\"x\"y", 2),
        ("ab\"c\"", 1),
        ("a\rb", 1),
        ("\"a\nb\"\nc\rd", 3),
    ] {
        assert!(
            matches!(csv_rows(bad), Err(XlsxError::Csv { line: l, .. }) if l == line),
            "{bad:?}: {:?}",
            csv_rows(bad)
        );
    }
}

#[test]
fn a_csv_report_becomes_a_sheet_with_the_same_cells() {
    let csv = "code,indicator,women,total\nEECO01,\"unemployed, including long-term\",6,11\n\
               EECO12,participants with disabilities,,\n";
    let mut book = Workbook::new(CREATED).unwrap();
    book.csv_sheet("ESF+", csv).unwrap();
    let sheet = part(&book.to_bytes().unwrap(), "xl/worksheets/sheet1.xml");
    assert!(sheet.contains(
        "<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t xml:space=\"preserve\">EECO01</t></is></c>\
         <c r=\"B2\" t=\"inlineStr\"><is><t xml:space=\"preserve\">unemployed, including long-term</t>\
         </is></c><c r=\"C2\"><v>6</v></c><c r=\"D2\"><v>11</v></c></row>"
    ));
    assert!(sheet.contains(
        "<row r=\"3\"><c r=\"A3\" t=\"inlineStr\"><is><t xml:space=\"preserve\">EECO12</t></is></c>\
         <c r=\"B3\" t=\"inlineStr\"><is><t xml:space=\"preserve\">participants with disabilities</t>\
         </is></c></row>"
    ));
    assert!(matches!(
        Workbook::new(CREATED).unwrap().csv_sheet("Bad", "\"x"),
        Err(XlsxError::Csv { line: 1, .. })
    ));
}

/// `tests/vectors/xlsx-sample.xlsx`, which `tools/test_xlsx.py` opens with openpyxl, is
/// exactly what this writer makes today.
#[test]
fn the_golden_workbook_is_byte_stable() {
    let path = vectors_dir().join("xlsx-sample.xlsx");
    let actual = sample(CREATED).to_bytes().unwrap();
    if std::env::var_os("PBR_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `just gen`", path.display()));
    assert!(
        expected == actual,
        "{} moved; if deliberate, run `just gen`",
        path.display()
    );
}
