//! A small, dependency-free, deterministic XLSX writer: the spreadsheet form of the reports.
//!
//! A [`Workbook`] holds one or more sheets, each a grid of [`Cell`]s (text, integers, exact
//! decimal amounts, or nothing); the first row of every sheet is the header, in bold and
//! frozen. [`Workbook::to_bytes`] writes the SpreadsheetML parts into a ZIP container,
//! and the same workbook always gives the same bytes:
//!
//! - the document's created and modified time is a parameter ([`Workbook::new`]), which
//!   the caller derives from the data (never from the clock); the ZIP entries carry the
//!   same time as their DOS timestamps (clamped to 1980–2107, the range DOS times hold);
//! - the ZIP is written here: entries in a fixed order, STORED (no compression), CRC-32
//!   computed in code, no extra fields, no data descriptors, no comments;
//! - the XML is written by hand in a fixed form, with inline strings (`t="inlineStr"`), so
//!   no string table depends on an insertion order; styles are numbered from sorted sets.
//!
//! Amounts never go through floating point: a [`Cell::Amount`] is written as its decimal
//! string (`<v>-3300.00</v>`), a numeric cell whose number format shows exactly as many
//! decimals as the string has (`#,##0.00` for two). A spreadsheet holds numbers as IEEE
//! doubles, so any reader shows a number of more than 15 significant digits rounded; the
//! XML still holds every digit. [`csv_rows`] keeps such numbers as text.
//!
//! [`csv_rows`] turns a CSV report (RFC 4180) into rows of cells, so any CSV report can be
//! offered as XLSX with the same cells; [`Workbook::csv_sheet`] adds it as a sheet.
//!
//! Text is XML-escaped; characters that XML 1.0 cannot hold or would not keep (control
//! characters other than tab and line feed, so also carriage return; U+FFFE, U+FFFF) are
//! written as `_xHHHH_`, the escape of ECMA-376 strings that Excel, LibreOffice and calamine
//! decode, and the `_` of a literal `_xHHHH_` in the text as `_x005F_`, so that readers
//! decode it back to itself. (openpyxl shows these escapes undecoded.)
//!
//! ```
//! use pbr_report::xlsx::{Cell, Workbook};
//!
//! let mut book = Workbook::new("2024-03-31T00:00:00Z")?;
//! book.sheet(
//!     "Budget",
//!     vec![
//!         vec![Cell::text("line"), Cell::text("year"), Cell::text("amount")],
//!         vec![Cell::text("savings"), Cell::Int(2024), Cell::Amount("-3300.00".into())],
//!     ],
//! )?;
//! book.csv_sheet("ESF+", "code,indicator,total\nEECO11,total number of participants,15\n")?;
//! let xlsx: Vec<u8> = book.to_bytes()?;
//! assert!(xlsx.starts_with(b"PK\x03\x04"));
//! # Ok::<(), pbr_report::xlsx::XlsxError>(())
//! ```
//!
//! `tools/test_xlsx.py` opens the golden workbook `tests/vectors/xlsx-sample.xlsx` (made by
//! `crates/pbr-report/tests/it/xlsx.rs`) with openpyxl, an independent reader.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use pbr_core::money::Money;

/// The most rows a sheet may have (Excel's limit).
pub const MAX_ROWS: usize = 1_048_576;
/// The most columns a sheet may have (Excel's limit, column `XFD`).
pub const MAX_COLUMNS: usize = 16_384;
/// The most characters (UTF-16 code units) a text cell may hold (Excel's limit).
pub const MAX_TEXT: usize = 32_767;
/// The most characters (UTF-16 code units) a sheet name may hold (Excel's limit).
pub const MAX_SHEET_NAME: usize = 31;

/// Why a workbook cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XlsxError {
    /// The created time is not `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DD`.
    #[error("{0:?} is not a date-time YYYY-MM-DDTHH:MM:SSZ or a date YYYY-MM-DD")]
    Created(String),
    /// A sheet name that a spreadsheet application would refuse.
    #[error("sheet name {name:?}: {reason}")]
    SheetName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cell that cannot be written.
    #[error("sheet {sheet:?}, cell {cell}: {reason}")]
    Cell {
        /// The sheet's name.
        sheet: String,
        /// The cell's reference, e.g. `B3`.
        cell: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A sheet with more rows or columns than a spreadsheet holds.
    #[error("sheet {sheet:?}: more than {MAX_ROWS} rows or {MAX_COLUMNS} columns")]
    TooBig {
        /// The sheet's name.
        sheet: String,
    },
    /// A workbook needs at least one sheet.
    #[error("a workbook needs at least one sheet")]
    NoSheets,
    /// A part or the whole file exceeds 4 GiB, which needs ZIP64 (not written).
    #[error("the workbook exceeds the 4 GiB of a ZIP without ZIP64")]
    TooLarge,
    /// The CSV is malformed.
    #[error("CSV line {line}: {reason}")]
    Csv {
        /// The 1-based line where the problem is.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// One cell of a sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// No value: nothing is written.
    Empty,
    /// Text, written as an inline string: never a formula, even if it starts with `=`.
    Text(String),
    /// An integer, written as a number in the General format. Readers hold numbers as
    /// doubles: beyond ±2^53 they show it rounded.
    Int(i64),
    /// An exact decimal `-?[0-9]+(.[0-9]+)?`, e.g. `-3300.00`: written as a number with that
    /// exact string, in a number format with as many decimals as it has.
    Amount(String),
}

impl Cell {
    /// A text cell.
    pub fn text(text: impl Into<String>) -> Cell {
        Cell::Text(text.into())
    }

    /// An amount of money in major units with the currency's decimals (`-3300.00`).
    pub fn money(money: Money) -> Cell {
        Cell::Amount(money.to_decimal().to_string())
    }
}

/// A workbook: sheets in order, and the time the document is dated.
#[derive(Debug, Clone)]
pub struct Workbook {
    created: NaiveDateTime,
    sheets: Vec<Sheet>,
}

#[derive(Debug, Clone)]
struct Sheet {
    name: String,
    rows: Vec<Vec<Cell>>,
}

impl Workbook {
    /// An empty workbook dated `created`: `YYYY-MM-DDTHH:MM:SSZ` (UTC) or `YYYY-MM-DD`
    /// (midnight UTC), derived by the caller from the data. It is the document's created and
    /// modified time and the ZIP entries' timestamp.
    pub fn new(created: &str) -> Result<Workbook, XlsxError> {
        let bad = || XlsxError::Created(created.to_owned());
        let digits = |range: &[std::ops::Range<usize>]| {
            range
                .iter()
                .all(|r| created.as_bytes()[r.clone()].iter().all(u8::is_ascii_digit))
        };
        let created = match created.len() {
            10 if digits(&[0..4, 5..7, 8..10]) => NaiveDate::parse_from_str(created, "%Y-%m-%d")
                .map_err(|_| bad())?
                .and_hms_opt(0, 0, 0)
                .ok_or_else(bad)?,
            20 if digits(&[0..4, 5..7, 8..10, 11..13, 14..16, 17..19]) => {
                NaiveDateTime::parse_from_str(created, "%Y-%m-%dT%H:%M:%SZ").map_err(|_| bad())?
            }
            _ => return Err(bad()),
        };
        Ok(Workbook {
            created,
            sheets: Vec::new(),
        })
    }

    /// Adds a sheet named `name` holding `rows`; the first row is the header. Refuses a name
    /// a spreadsheet application would refuse (empty, longer than 31 characters, holding one
    /// of `[]:*?/\` or a control character, starting or ending with `'`, `History`, or the
    /// name of another sheet of this workbook, ignoring case), an amount that is not
    /// `-?[0-9]+(.[0-9]+)?`, text longer than 32 767 characters and a grid larger than
    /// 1 048 576 rows × 16 384 columns.
    pub fn sheet(&mut self, name: &str, rows: Vec<Vec<Cell>>) -> Result<(), XlsxError> {
        self.check_name(name)?;
        let too_big = || XlsxError::TooBig {
            sheet: name.to_owned(),
        };
        if rows.len() > MAX_ROWS {
            return Err(too_big());
        }
        for (r, row) in rows.iter().enumerate() {
            if row.len() > MAX_COLUMNS {
                return Err(too_big());
            }
            for (c, cell) in row.iter().enumerate() {
                let reason = match cell {
                    Cell::Amount(value) if decimal_scale(value).is_none() => {
                        format!("amount {value:?} is not -?[0-9]+(.[0-9]+)?")
                    }
                    Cell::Text(text) if text.encode_utf16().count() > MAX_TEXT => {
                        format!("text longer than {MAX_TEXT} characters")
                    }
                    _ => continue,
                };
                return Err(XlsxError::Cell {
                    sheet: name.to_owned(),
                    cell: cell_ref(r, c),
                    reason,
                });
            }
        }
        self.sheets.push(Sheet {
            name: name.to_owned(),
            rows,
        });
        Ok(())
    }

    /// Adds a sheet named `name` holding the cells of a CSV report ([`csv_rows`]).
    pub fn csv_sheet(&mut self, name: &str, csv: &str) -> Result<(), XlsxError> {
        self.sheet(name, csv_rows(csv)?)
    }

    fn check_name(&self, name: &str) -> Result<(), XlsxError> {
        let reason = if name.is_empty() {
            "empty"
        } else if name.encode_utf16().count() > MAX_SHEET_NAME {
            "longer than 31 characters"
        } else if name
            .chars()
            .any(|c| "[]:*?/\\".contains(c) || c.is_control())
        {
            "holds one of []:*?/\\ or a control character"
        } else if name.starts_with('\'') || name.ends_with('\'') {
            "starts or ends with '"
        } else if name.to_lowercase() == "history" {
            "is reserved"
        } else if self
            .sheets
            .iter()
            .any(|s| s.name.to_lowercase() == name.to_lowercase())
        {
            "is already a sheet of this workbook"
        } else {
            return Ok(());
        };
        Err(XlsxError::SheetName {
            name: name.to_owned(),
            reason,
        })
    }

    /// The `.xlsx` file: the same workbook gives the same bytes, on any machine.
    pub fn to_bytes(&self) -> Result<Vec<u8>, XlsxError> {
        if self.sheets.is_empty() {
            return Err(XlsxError::NoSheets);
        }
        let scales: BTreeSet<usize> = self
            .sheets
            .iter()
            .flat_map(|s| s.rows.iter().flatten())
            .filter_map(|cell| match cell {
                Cell::Amount(value) => decimal_scale(value),
                _ => None,
            })
            .collect();
        let styles = Styles {
            scales: scales.into_iter().collect(),
        };
        let mut zip = Zip::new(dos_time(self.created));
        zip.add("[Content_Types].xml", &self.content_types())?;
        zip.add("_rels/.rels", ROOT_RELS)?;
        zip.add("docProps/core.xml", &self.core())?;
        zip.add("docProps/app.xml", &self.app())?;
        zip.add("xl/workbook.xml", &self.workbook())?;
        zip.add("xl/_rels/workbook.xml.rels", &self.workbook_rels())?;
        zip.add("xl/styles.xml", &styles.xml())?;
        for (n, sheet) in self.sheets.iter().enumerate() {
            let path = format!("xl/worksheets/sheet{}.xml", n + 1);
            zip.add(&path, &sheet.xml(n == 0, &styles))?;
        }
        zip.finish()
    }

    fn content_types(&self) -> String {
        let mut xml = format!(
            "{XML_DECL}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>\
             <Override PartName=\"/docProps/app.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.extended-properties+xml\"/>\
             <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
             <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>"
        );
        for n in 1..=self.sheets.len() {
            let _ = write!(
                xml,
                "<Override PartName=\"/xl/worksheets/sheet{n}.xml\" \
                 ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
            );
        }
        xml.push_str("</Types>");
        xml
    }

    fn core(&self) -> String {
        let time = self.created.format("%Y-%m-%dT%H:%M:%SZ");
        format!(
            "{XML_DECL}<cp:coreProperties \
             xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
             xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" \
             xmlns:dcmitype=\"http://purl.org/dc/dcmitype/\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
             <dc:creator>pbr</dc:creator>\
             <dcterms:created xsi:type=\"dcterms:W3CDTF\">{time}</dcterms:created>\
             <dcterms:modified xsi:type=\"dcterms:W3CDTF\">{time}</dcterms:modified>\
             </cp:coreProperties>"
        )
    }

    fn app(&self) -> String {
        let mut names = String::new();
        for sheet in &self.sheets {
            let _ = write!(names, "<vt:lpstr>{}</vt:lpstr>", escape(&sheet.name));
        }
        let n = self.sheets.len();
        format!(
            "{XML_DECL}<Properties \
             xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\" \
             xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes\">\
             <Application>pbr</Application>\
             <HeadingPairs><vt:vector size=\"2\" baseType=\"variant\">\
             <vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant>\
             <vt:variant><vt:i4>{n}</vt:i4></vt:variant></vt:vector></HeadingPairs>\
             <TitlesOfParts><vt:vector size=\"{n}\" baseType=\"lpstr\">{names}</vt:vector></TitlesOfParts>\
             </Properties>"
        )
    }

    fn workbook(&self) -> String {
        let mut xml = format!(
            "{XML_DECL}<workbook xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\">\
             <bookViews><workbookView activeTab=\"0\"/></bookViews><sheets>"
        );
        for (n, sheet) in self.sheets.iter().enumerate() {
            let _ = write!(
                xml,
                "<sheet name=\"{}\" sheetId=\"{}\" r:id=\"rId{}\"/>",
                escape(&sheet.name),
                n + 1,
                n + 1
            );
        }
        xml.push_str("</sheets></workbook>");
        xml
    }

    fn workbook_rels(&self) -> String {
        let mut xml = format!("{XML_DECL}<Relationships xmlns=\"{PKG_REL_NS}\">");
        for n in 1..=self.sheets.len() {
            let _ = write!(
                xml,
                "<Relationship Id=\"rId{n}\" Type=\"{REL_NS}/worksheet\" \
                 Target=\"worksheets/sheet{n}.xml\"/>"
            );
        }
        let _ = write!(
            xml,
            "<Relationship Id=\"rId{}\" Type=\"{REL_NS}/styles\" Target=\"styles.xml\"/>\
             </Relationships>",
            self.sheets.len() + 1
        );
        xml
    }
}

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const ROOT_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
     <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
     <Relationship Id=\"rId1\" \
     Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" \
     Target=\"xl/workbook.xml\"/>\
     <Relationship Id=\"rId2\" \
     Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" \
     Target=\"docProps/core.xml\"/>\
     <Relationship Id=\"rId3\" \
     Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties\" \
     Target=\"docProps/app.xml\"/>\
     </Relationships>";

/// The cell formats: 0 plain, 1 bold (the header), then for each number of decimals that
/// amounts use, in increasing order, a plain and a bold format showing that many decimals
/// (number formats 164, 165, … in the same order).
struct Styles {
    scales: Vec<usize>,
}

impl Styles {
    fn xf(&self, cell: &Cell, header: bool) -> usize {
        let bold = usize::from(header);
        match cell {
            Cell::Amount(value) => {
                let scale = decimal_scale(value).unwrap_or(0);
                let index = self.scales.binary_search(&scale).unwrap_or(0);
                2 + 2 * index + bold
            }
            _ => bold,
        }
    }

    fn xml(&self) -> String {
        let mut xml = format!("{XML_DECL}<styleSheet xmlns=\"{MAIN_NS}\">");
        if !self.scales.is_empty() {
            let _ = write!(xml, "<numFmts count=\"{}\">", self.scales.len());
            for (n, &scale) in self.scales.iter().enumerate() {
                let decimals = if scale == 0 {
                    String::new()
                } else {
                    format!(".{}", "0".repeat(scale))
                };
                let _ = write!(
                    xml,
                    "<numFmt numFmtId=\"{}\" formatCode=\"#,##0{decimals}\"/>",
                    164 + n
                );
            }
            xml.push_str("</numFmts>");
        }
        xml.push_str(
            "<fonts count=\"2\">\
             <font><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font>\
             <font><b/><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font></fonts>\
             <fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill>\
             <fill><patternFill patternType=\"gray125\"/></fill></fills>\
             <borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
             <cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>",
        );
        let _ = write!(
            xml,
            "<cellXfs count=\"{}\">\
             <xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
             <xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/>",
            2 + 2 * self.scales.len()
        );
        for n in 0..self.scales.len() {
            for font in 0..2 {
                let _ = write!(
                    xml,
                    "<xf numFmtId=\"{}\" fontId=\"{font}\" fillId=\"0\" borderId=\"0\" xfId=\"0\" \
                     applyNumberFormat=\"1\"{}/>",
                    164 + n,
                    if font == 1 { " applyFont=\"1\"" } else { "" }
                );
            }
        }
        xml.push_str(
            "</cellXfs><cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/>\
             </cellStyles></styleSheet>",
        );
        xml
    }
}

impl Sheet {
    fn xml(&self, selected: bool, styles: &Styles) -> String {
        // The extent of the cells that hold something, and each column's width in characters.
        let mut last: Option<(usize, usize)> = None;
        let mut widths: Vec<usize> = Vec::new();
        for (r, row) in self.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let width = display_width(cell);
                if *cell != Cell::Empty {
                    last = Some(last.map_or((r, c), |(lr, lc)| (lr.max(r), lc.max(c))));
                    if widths.len() <= c {
                        widths.resize(c + 1, 0);
                    }
                    widths[c] = widths[c].max(width);
                }
            }
        }
        let dimension = match last {
            Some((r, c)) => format!("A1:{}", cell_ref(r, c)),
            None => "A1".to_owned(),
        };
        let mut xml = format!(
            "{XML_DECL}<worksheet xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\">\
             <dimension ref=\"{dimension}\"/><sheetViews><sheetView{} workbookViewId=\"0\">",
            if selected { " tabSelected=\"1\"" } else { "" }
        );
        if last.is_some() {
            xml.push_str(
                "<pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/>\
                 <selection pane=\"bottomLeft\" activeCell=\"A2\" sqref=\"A2\"/>",
            );
        }
        xml.push_str("</sheetView></sheetViews><sheetFormatPr defaultRowHeight=\"15\"/>");
        if !widths.is_empty() {
            xml.push_str("<cols>");
            for (c, width) in widths.iter().enumerate() {
                // Room for the characters and a margin; between Excel's default and 80.
                let width = (width + 2).clamp(10, 80);
                let _ = write!(
                    xml,
                    "<col min=\"{0}\" max=\"{0}\" width=\"{width}\" customWidth=\"1\"/>",
                    c + 1
                );
            }
            xml.push_str("</cols>");
        }
        xml.push_str("<sheetData>");
        for (r, row) in self.rows.iter().enumerate() {
            if row.iter().all(|cell| *cell == Cell::Empty) {
                continue;
            }
            let _ = write!(xml, "<row r=\"{}\">", r + 1);
            for (c, cell) in row.iter().enumerate() {
                let reference = cell_ref(r, c);
                let style = match styles.xf(cell, r == 0) {
                    0 => String::new(),
                    s => format!(" s=\"{s}\""),
                };
                let _ = match cell {
                    Cell::Empty => Ok(()),
                    Cell::Text(text) => write!(
                        xml,
                        "<c r=\"{reference}\"{style} t=\"inlineStr\"><is><t xml:space=\"preserve\">{}</t></is></c>",
                        escape_text(text)
                    ),
                    Cell::Int(value) => {
                        write!(xml, "<c r=\"{reference}\"{style}><v>{value}</v></c>")
                    }
                    Cell::Amount(value) => {
                        write!(xml, "<c r=\"{reference}\"{style}><v>{value}</v></c>")
                    }
                };
            }
            xml.push_str("</row>");
        }
        xml.push_str("</sheetData></worksheet>");
        xml
    }
}

/// The characters a cell shows: its longest line of text, or its number as formatted
/// (sign, digits, thousands separators, decimals).
fn display_width(cell: &Cell) -> usize {
    let number = |text: &str| {
        let (sign, digits) = text.strip_prefix('-').map_or((0, text), |t| (1, t));
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let separators = whole.len().saturating_sub(1) / 3;
        let point = usize::from(!fraction.is_empty());
        sign + whole.len() + separators + point + fraction.len()
    };
    match cell {
        Cell::Empty => 0,
        Cell::Text(text) => text.lines().map(|l| l.chars().count()).max().unwrap_or(0),
        Cell::Int(value) => value.to_string().len(),
        Cell::Amount(value) => number(value),
    }
}

/// The number of decimals of `-?[0-9]+(.[0-9]+)?`, or `None` if `text` is not one.
fn decimal_scale(text: &str) -> Option<usize> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    (digits(whole) && fraction.is_none_or(digits)).then(|| fraction.map_or(0, str::len))
}

/// `A1`-style reference of the 0-based row `r` and column `c`.
fn cell_ref(r: usize, c: usize) -> String {
    let mut letters = Vec::new();
    let mut n = c + 1;
    while n > 0 {
        let rest = (n - 1) % 26;
        letters.push(char::from(b'A' + u8::try_from(rest).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect::<String>() + &(r + 1).to_string()
}

/// XML-escapes `&`, `<`, `>` and `"` (attribute values and element text; HTML too).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// [`escape`], plus the `_xHHHH_` escapes of SpreadsheetML strings: characters XML 1.0
/// cannot hold (or would normalise away, as a carriage return) become `_xHHHH_`, and the
/// `_` of a literal `_xHHHH_` becomes `_x005F_`.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => {
                let _ = write!(out, "_x{:04X}_", u32::from(c));
            }
            '_' if is_hex_escape(&text[i..]) => out.push_str("_x005F_"),
            c => out.push(c),
        }
    }
    out
}

/// Whether `text` starts with `_xHHHH_`.
fn is_hex_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 7
        && bytes.starts_with(b"_x")
        && bytes[2..6].iter().all(u8::is_ascii_hexdigit)
        && bytes[6] == b'_'
}

/// Rows of cells from a CSV report: RFC 4180 (fields separated by `,`, records by `\n` or
/// `\r\n`, a field in double quotes may hold `,`, line breaks and `""` for a quote; a
/// leading byte-order mark is dropped). The first record is the header.
///
/// A field that is a plain number becomes a numeric cell: `-?(0|[1-9][0-9]*)` an
/// [`Cell::Int`] (if it fits in 64 bits), `-?(0|[1-9][0-9]*)\.[0-9]+` an [`Cell::Amount`]
/// showing as many decimals as the CSV. An empty field stays empty, everything else is text,
/// including numbers a spreadsheet would change: with a leading zero (`007`), or more than
/// 15 significant digits (a double holds no more). So the sheet shows what the CSV says.
pub fn csv_rows(csv: &str) -> Result<Vec<Vec<Cell>>, XlsxError> {
    let csv = csv.strip_prefix('\u{FEFF}').unwrap_or(csv);
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    // Whether the next character starts a field, and whether a record has begun (so that
    // the line break that ends the last record begins no empty one).
    let mut field_start = true;
    let mut in_record = false;
    let mut line = 1;
    let error = |line, reason| Err(XlsxError::Csv { line, reason });
    let mut chars = csv.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if field_start => {
                let opened = line;
                loop {
                    match chars.next() {
                        None => return error(opened, "a quoted field is not closed"),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            line += usize::from(c == '\n');
                            field.push(c);
                        }
                    }
                }
                if !matches!(chars.peek(), None | Some(',' | '\n' | '\r')) {
                    return error(line, "text after a closing quote");
                }
                field_start = false;
                in_record = true;
            }
            '"' => return error(line, "a quote inside an unquoted field"),
            ',' => {
                row.push(csv_cell(std::mem::take(&mut field)));
                field_start = true;
                in_record = true;
            }
            '\r' if chars.peek() != Some(&'\n') => {
                return error(line, "a carriage return outside quotes");
            }
            '\r' => {}
            '\n' => {
                row.push(csv_cell(std::mem::take(&mut field)));
                rows.push(std::mem::take(&mut row));
                field_start = true;
                in_record = false;
                line += 1;
            }
            c => {
                field.push(c);
                field_start = false;
                in_record = true;
            }
        }
    }
    if in_record {
        row.push(csv_cell(field));
        rows.push(row);
    }
    Ok(rows)
}

/// The cell of one CSV field (see [`csv_rows`]).
fn csv_cell(field: String) -> Cell {
    if field.is_empty() {
        return Cell::Empty;
    }
    let Some(scale) = decimal_scale(&field) else {
        return Cell::Text(field);
    };
    let unsigned = field.strip_prefix('-').unwrap_or(&field);
    let leading_zero =
        unsigned.starts_with('0') && unsigned.len() > 1 && scale + 2 != unsigned.len();
    let digits = unsigned.replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    if leading_zero || significant.len() > 15 {
        return Cell::Text(field);
    }
    match field.parse::<i64>() {
        Ok(value) if scale == 0 => Cell::Int(value),
        _ => Cell::Amount(field),
    }
}

/// The DOS time and date of `at`, clamped to the years 1980–2107 they can hold.
fn dos_time(at: NaiveDateTime) -> (u16, u16) {
    let (year, month, day, hour, minute, second) = match at.year() {
        ..1980 => (1980, 1, 1, 0, 0, 0),
        2108.. => (2107, 12, 31, 23, 59, 58),
        year => (
            year,
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
        ),
    };
    let pack = |fields: [(u32, u32); 3]| {
        let value = fields.iter().fold(0, |acc, (v, bits)| (acc << bits) | v);
        u16::try_from(value).unwrap_or(0)
    };
    let time = pack([(hour, 5), (minute, 6), (second / 2, 5)]);
    let year = u32::try_from(year - 1980).unwrap_or(0);
    let date = pack([(year, 7), (month, 4), (day, 5)]);
    (time, date)
}

/// CRC-32 (ISO-HDLC, the one of ZIP and PNG): reflected polynomial `0xEDB88320`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc = CRC_TABLE[usize::from((crc as u8) ^ byte)] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// A ZIP archive of STORED entries, written in the order they are added.
struct Zip {
    /// DOS time and date of every entry.
    time: (u16, u16),
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

impl Zip {
    fn new(time: (u16, u16)) -> Zip {
        Zip {
            time,
            out: Vec::new(),
            central: Vec::new(),
            entries: 0,
        }
    }

    fn add(&mut self, name: &str, data: &str) -> Result<(), XlsxError> {
        let data = data.as_bytes();
        let size = u32::try_from(data.len()).map_err(|_| XlsxError::TooLarge)?;
        let offset = u32::try_from(self.out.len()).map_err(|_| XlsxError::TooLarge)?;
        let name_len = u16::try_from(name.len()).map_err(|_| XlsxError::TooLarge)?;
        self.entries = self.entries.checked_add(1).ok_or(XlsxError::TooLarge)?;
        let crc = crc32(data);
        // The fields common to the local and the central header, from "version needed".
        let mut common = Vec::with_capacity(26);
        for half in [20, 0, 0, self.time.0, self.time.1] {
            common.extend_from_slice(&u16::to_le_bytes(half)); // version 2.0, flags, STORED
        }
        for word in [crc, size, size] {
            common.extend_from_slice(&word.to_le_bytes());
        }
        common.extend_from_slice(&name_len.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // no extra field

        self.out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&common);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(data);

        self.central
            .extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        self.central.extend_from_slice(&20u16.to_le_bytes()); // made by: MS-DOS, version 2.0
        self.central.extend_from_slice(&common);
        for half in [0u16, 0, 0] {
            self.central.extend_from_slice(&half.to_le_bytes()); // comment, disk, internal
        }
        self.central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<u8>, XlsxError> {
        let offset = u32::try_from(self.out.len()).map_err(|_| XlsxError::TooLarge)?;
        let size = u32::try_from(self.central.len()).map_err(|_| XlsxError::TooLarge)?;
        u32::try_from(self.out.len() + self.central.len() + 22).map_err(|_| XlsxError::TooLarge)?;
        self.out.append(&mut self.central);
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        for half in [0, 0, self.entries, self.entries] {
            self.out.extend_from_slice(&u16::to_le_bytes(half)); // disks, entries
        }
        self.out.extend_from_slice(&size.to_le_bytes());
        self.out.extend_from_slice(&offset.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes()); // no comment
        Ok(self.out)
    }
}
