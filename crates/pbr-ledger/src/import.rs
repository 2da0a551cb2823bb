//! Rows of facts, from CSV or JSON Lines, into ledger inputs (`docs/cli.md` "Import").
//!
//! A row names its `kind`, `contract`, business `date` and `author`, then the kind's fields
//! under the names of `docs/format.md` §8.4 (amounts as decimals in the contract's currency,
//! enumerations by name). A participant is either `participant` (the 64-hex reference) or
//! `cpr`, turned into the reference with the commissioner's secret here and never kept.
//! `id` is 32 hex digits or any token (hashed to an id); a row without one gets an id derived
//! from its content, so importing the same rows again appends nothing.
//!
//! Every error names the file, the line and the field: `claims.csv:9999: achieved: …`, and
//! quotes at most the first 40 characters of a bad value. A column or key that appears twice
//! in a row is an error naming both, never a silent choice of one.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use pbr_core::cpr::{Cpr, PseudonymKey};
use pbr_core::error::quoted;
use pbr_core::event::*;
use pbr_core::ids::{EventId, ParticipantRef};
use pbr_core::money::{Currency, Money};

use crate::append::{ClaimAction, ClaimRef, Input, Rejected};

/// One row: its location and its fields, as text.
///
/// The fields are the columns of the file and the row's values, in the file's order, each name
/// once (the readers refuse a repeated one); a file's rows share one list of column names, and
/// a CSV row keeps the record the reader made, so a row costs a few allocations, not a few per
/// field (the import's reading thread is the one that validates: `docs/performance.md`,
/// "Import").
pub struct Row {
    file: Arc<str>,
    line: usize,
    columns: Arc<[String]>,
    values: csv::StringRecord,
    /// Whether values are trimmed when read (CSV cells are; JSON and command-line values are
    /// taken as given).
    trim: bool,
    /// Which columns a rule has read, for [`Row::check_all_used`].
    used: RefCell<Vec<bool>>,
}

/// What a row needs from outside: the pseudonym key for `cpr`, and each contract's currency.
pub struct Context<'a> {
    /// The commissioner's pseudonym key, when rows give CPR numbers.
    pub pseudonyms: Option<&'a PseudonymKey>,
    /// The currency of a contract, if it is registered.
    pub currency: &'a dyn Fn(&str) -> Option<Currency>,
    /// How many CPR numbers failed the modulus-11 check: a warning only, since numbers
    /// without it have been issued since 2007 (`domain.md` §4.1).
    pub modulus_11_warnings: std::cell::Cell<u64>,
}

impl Row {
    /// A row from named fields, located at `file:line` for errors (a command line is
    /// `file` "command line", line 1).
    pub fn new(file: &str, line: usize, fields: BTreeMap<String, String>) -> Row {
        let (columns, values): (Vec<String>, csv::StringRecord) = fields.into_iter().unzip();
        Row::of_columns(Arc::from(file), line, columns.into(), values, false)
    }

    fn of_columns(
        file: Arc<str>,
        line: usize,
        columns: Arc<[String]>,
        values: csv::StringRecord,
        trim: bool,
    ) -> Row {
        Row {
            used: RefCell::new(vec![false; columns.len()]),
            file,
            line,
            columns,
            values,
            trim,
        }
    }

    fn error(&self, field: &str, reason: impl Into<String>) -> Rejected {
        Rejected {
            where_: format!("{}:{}: {field}", self.file, self.line),
            reason: reason.into(),
        }
    }

    fn where_(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The value of column `index`, empty if the record is short.
    fn value(&self, index: usize) -> &str {
        let value = self.values.get(index).unwrap_or_default();
        if self.trim { value.trim() } else { value }
    }

    /// The field's value, if present and not empty, marking it read.
    fn get(&self, field: &'static str) -> Option<&str> {
        let index = self.columns.iter().position(|column| column == field)?;
        self.used.borrow_mut()[index] = true;
        Some(self.value(index)).filter(|v| !v.is_empty())
    }

    fn text(&self, field: &'static str) -> Result<String, Rejected> {
        self.get(field)
            .map(str::to_owned)
            .ok_or_else(|| self.error(field, "missing"))
    }

    /// A name (of a contract, party, outcome or company): 1 to 64 plain characters, checked
    /// here so that a bad one is quoted short rather than echoed whole by admission.
    fn optional_name(&self, field: &'static str) -> Result<Option<String>, Rejected> {
        self.parsed(field, |v| {
            pbr_core::ids::check_name("the name", v)
                .map(|()| v.to_owned())
                .map_err(|e| e.reason)
        })
    }

    fn name_text(&self, field: &'static str) -> Result<String, Rejected> {
        self.optional_name(field)?
            .ok_or_else(|| self.error(field, "missing"))
    }

    fn parsed<T>(
        &self,
        field: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Rejected> {
        self.get(field)
            .map(|v| parse(v).map_err(|e| self.error(field, e)))
            .transpose()
    }

    fn required<T>(
        &self,
        field: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, Rejected> {
        self.parsed(field, parse)?
            .ok_or_else(|| self.error(field, "missing"))
    }

    fn date(&self, field: &'static str) -> Result<NaiveDate, Rejected> {
        self.required(field, |v| {
            pbr_core::date::parse_date(v).map_err(|e| e.reason)
        })
    }

    fn days(&self, field: &'static str) -> Result<i32, Rejected> {
        self.date(field).map(pbr_core::date::to_days)
    }

    fn optional_days(&self, field: &'static str) -> Result<Option<i32>, Rejected> {
        self.parsed(field, |v| {
            pbr_core::date::parse_date(v)
                .map(pbr_core::date::to_days)
                .map_err(|e| e.reason)
        })
    }

    fn number<T: std::str::FromStr>(&self, field: &'static str) -> Result<Option<T>, Rejected> {
        self.parsed(field, |v| {
            v.parse::<T>()
                .map_err(|_| format!("{} is not a whole number in range", quoted(v)))
        })
    }

    fn flag(&self, field: &'static str) -> Result<Option<bool>, Rejected> {
        self.parsed(field, |v| match v {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            other => Err(format!("{} is not true or false", quoted(other))),
        })
    }

    fn hash(&self, field: &'static str) -> Result<Option<[u8; 32]>, Rejected> {
        self.parsed(field, |v| {
            pbr_core::ids::parse_hex::<32>(v)
                .ok_or_else(|| "expected 64 lowercase hex digits".to_owned())
        })
    }

    fn name<T: serde::de::DeserializeOwned>(
        &self,
        field: &'static str,
    ) -> Result<Option<T>, Rejected> {
        self.parsed(field, |v| {
            serde_json::from_value(serde_json::Value::String(v.to_owned())).map_err(|_| {
                format!(
                    "{} is not one of the names docs/format.md §8.3 lists",
                    quoted(v)
                )
            })
        })
    }

    fn required_name<T: serde::de::DeserializeOwned>(
        &self,
        field: &'static str,
    ) -> Result<T, Rejected> {
        self.name(field)?
            .ok_or_else(|| self.error(field, "missing"))
    }

    fn money(&self, field: &'static str, currency: Option<Currency>) -> Result<Money, Rejected> {
        let currency = currency
            .ok_or_else(|| self.error("contract", "not registered, so its currency is unknown"))?;
        self.required(field, |v| Money::parse(v, currency).map_err(|e| e.reason))
    }

    /// Refuses fields no rule read: a misspelt column must not be silently ignored. Of several,
    /// the first by name is named.
    fn check_all_used(&self) -> Result<(), Rejected> {
        let used = self.used.borrow();
        let unread = self
            .columns
            .iter()
            .enumerate()
            .filter(|&(index, _)| !used[index] && !self.value(index).is_empty())
            .map(|(_, column)| column)
            .min();
        match unread {
            Some(field) => Err(self.error(&short(field), "unknown field for this kind")),
            None => Ok(()),
        }
    }

    /// The row as an input to append.
    pub fn input(&self, context: &Context<'_>) -> Result<(String, Input), Rejected> {
        // A record signed elsewhere travels whole, as in an export.
        if let Some(hex) = self.get("record_hex") {
            let bytes = pbr_core::ids::parse_hex_vec(hex)
                .ok_or_else(|| self.error("record_hex", "expected lowercase hex"))?;
            let record = pbr_log::Record::decode(&bytes)
                .map_err(|e| self.error("record_hex", e.to_string()))?;
            self.check_all_used()?;
            return Ok((self.where_(), Input::Signed(record)));
        }
        let kind = self.text("kind")?;
        let contract = self.name_text("contract")?;
        let date = self.date("date")?;
        let author = self.name_text("author")?;
        let participant = self.participant(context)?;
        let id = match self.get("id") {
            Some(text) => id_of(text),
            None => self.content_id(participant.as_ref()),
        };
        let currency = (context.currency)(&contract);
        let claim_ref = |row: &Row| -> Result<ClaimRef, Rejected> {
            match (row.number::<u64>("claim")?, row.get("claim_id")) {
                (Some(seq), None) => Ok(ClaimRef::Seq(seq)),
                (None, Some(text)) => Ok(ClaimRef::Id(id_of(text))),
                _ => Err(row.error("claim", "give exactly one of claim (a seq) and claim_id")),
            }
        };
        let payload = match kind.as_str() {
            "decision" => {
                let evidence_valid = match self.text("evidence")?.as_str() {
                    "valid" => true,
                    "invalid" => false,
                    other => {
                        return Err(self.error(
                            "evidence",
                            format!("{} is not valid or invalid", quoted(other)),
                        ));
                    }
                };
                let claim = claim_ref(self)?;
                self.check_all_used()?;
                let action = ClaimAction::Decide { evidence_valid };
                return Ok((
                    self.where_(),
                    Input::OnClaim {
                        contract,
                        claim,
                        date,
                        action,
                        author,
                        id,
                    },
                ));
            }
            "outcome-clawed-back" => {
                let claim = claim_ref(self)?;
                let action = ClaimAction::ClawBack(self.required_name("reason")?);
                self.check_all_used()?;
                return Ok((
                    self.where_(),
                    Input::OnClaim {
                        contract,
                        claim,
                        date,
                        action,
                        author,
                        id,
                    },
                ));
            }
            "party-registered" => {
                let key = self.text("key")?;
                let public_key = pbr_core::ids::verifier_key_public_key(&key).ok_or_else(|| {
                    self.error("key", "not a verifier key (<name>+<key id>+<base64>)")
                })?;
                Payload::PartyRegistered(PartyRegistered {
                    party: self.name_text("party")?,
                    role: self.required_name("role")?,
                    public_key,
                })
            }
            "participant-enrolled" => Payload::ParticipantEnrolled(ParticipantEnrolled {
                attributes: Attributes {
                    gender: self.name("gender")?,
                    age_at_entry: self.number("age_at_entry")?,
                    entry_status: self.name("entry_status")?,
                    isced: self.number("isced")?,
                    home_party: self.optional_name("home_party")?,
                    disability: self.flag("disability")?,
                    third_country_national: self.flag("third_country_national")?,
                    foreign_background: self.flag("foreign_background")?,
                    minority: self.flag("minority")?,
                    homeless: self.flag("homeless")?,
                    rural: self.flag("rural")?,
                },
            }),
            "participant-left" => Payload::ParticipantLeft(ParticipantLeft {
                status: self.required_name("status")?,
                // Required: the event holds yes or no, and an absent value must never be
                // recorded as "no" (ESF+ EECR03 would count it as no qualification gained).
                qualification_gained: self.flag("qualification_gained")?.ok_or_else(|| {
                    self.error(
                        "qualification_gained",
                        "missing: say yes or no (a leaving record cannot leave it unknown)",
                    )
                })?,
            }),
            "participant-followed-up" => Payload::ParticipantFollowedUp(ParticipantFollowedUp {
                status: self.required_name("status")?,
                improved: self.flag("improved")?,
            }),
            "company-registered" => Payload::CompanyRegistered(CompanyRegistered {
                company: self.name_text("company")?,
            }),
            "outcome-claimed" => Payload::OutcomeClaimed(OutcomeClaimed {
                outcome: self.name_text("outcome")?,
                company: self.optional_name("company")?,
                achieved: self.days("achieved")?,
                activity_start: self.optional_days("activity_start")?,
                evidence: self.hash("evidence")?,
            }),
            "retention-recorded" => Payload::RetentionRecorded(RetentionRecorded {
                activity: self.required_name("activity")?,
                hours_per_week: self.number("hours_per_week")?,
                from: self.days("from")?,
                to: self.days("to")?,
            }),
            "monthly-status-recorded" => Payload::MonthlyStatusRecorded(MonthlyStatusRecorded {
                month: self.required("month", |v| {
                    v.parse::<pbr_core::date::Month>()
                        .map(|m| m.index())
                        .map_err(|e| e.reason)
                })?,
                status: self.required_name("status")?,
            }),
            "funds-committed" => Payload::FundsCommitted(FundsCommitted {
                from: self.name_text("from")?,
                to: self.name_text("to")?,
                amount: self.money("amount", currency)?,
                purpose: self.required_name("purpose")?,
            }),
            "funds-disbursed" => Payload::FundsDisbursed(FundsDisbursed {
                from: self.name_text("from")?,
                to: self.name_text("to")?,
                amount: self.money("amount", currency)?,
                purpose: self.required_name("purpose")?,
            }),
            "cost-recorded" => Payload::CostRecorded(CostRecorded {
                party: self.name_text("party")?,
                amount: self.money("amount", currency)?,
            }),
            "payment-recorded" => Payload::PaymentRecorded(PaymentRecorded {
                from: self.name_text("from")?,
                to: self.name_text("to")?,
                amount: self.money("amount", currency)?,
                settlement_seq: self.number("settlement_seq")?,
            }),
            "settlement-issued" => Payload::SettlementIssued(SettlementIssued {
                period: self.required("period", |v| {
                    // Checked here so that a bad one is quoted short; kept as written.
                    v.parse::<pbr_core::date::Period>()
                        .map(|_| v.to_owned())
                        .map_err(|e| e.reason)
                })?,
                statement_hash: self
                    .hash("statement_hash")?
                    .ok_or_else(|| self.error("statement_hash", "missing"))?,
                log_position: self
                    .number("log_position")?
                    .ok_or_else(|| self.error("log_position", "missing"))?,
            }),
            "guarantee-called" => Payload::GuaranteeCalled(GuaranteeCalled {
                guarantor: self.name_text("guarantor")?,
                beneficiary: self.name_text("beneficiary")?,
                amount: self.money("amount", currency)?,
            }),
            "dispute-opened" => Payload::DisputeOpened(DisputeOpened {
                about_seq: self
                    .number("about_seq")?
                    .ok_or_else(|| self.error("about_seq", "missing"))?,
                reason: self.required_name("reason")?,
            }),
            "dispute-evidence-attached" => {
                Payload::DisputeEvidenceAttached(DisputeEvidenceAttached {
                    dispute_seq: self
                        .number("dispute_seq")?
                        .ok_or_else(|| self.error("dispute_seq", "missing"))?,
                    evidence: self
                        .hash("evidence")?
                        .ok_or_else(|| self.error("evidence", "missing"))?,
                })
            }
            "dispute-resolved" => Payload::DisputeResolved(DisputeResolved {
                dispute_seq: self
                    .number("dispute_seq")?
                    .ok_or_else(|| self.error("dispute_seq", "missing"))?,
                resolution: self.required_name("resolution")?,
            }),
            "correction" => Payload::Correction(Correction {
                retracts_seq: self
                    .number("retracts_seq")?
                    .ok_or_else(|| self.error("retracts_seq", "missing"))?,
                reason: self.required_name("reason")?,
            }),
            "contract-registered" | "contract-amended" => {
                return Err(self.error(
                    "kind",
                    "register or amend a contract with `pbr contract register|amend TERMS.toml`",
                ));
            }
            "outcome-verified" | "outcome-rejected" => {
                return Err(self.error(
                    "kind",
                    "record a verifier's decision as kind `decision`; the ledger applies the rules",
                ));
            }
            other => {
                return Err(self.error(
                    "kind",
                    format!(
                        "{} is not an event kind (docs/format.md §8.4)",
                        quoted(other)
                    ),
                ));
            }
        };
        self.check_all_used()?;
        let event = Event {
            contract,
            participant,
            business_date: date,
            payload,
            author,
            recorded_at_micros: 0,
            id,
        };
        Ok((self.where_(), Input::Event(event)))
    }

    fn participant(&self, context: &Context<'_>) -> Result<Option<ParticipantRef>, Rejected> {
        match (self.get("participant"), self.get("cpr")) {
            (Some(_), Some(_)) => Err(self.error("cpr", "give participant or cpr, not both")),
            (Some(text), None) => ParticipantRef::parse(text)
                .map(Some)
                .map_err(|e| self.error("participant", e.reason)),
            (None, Some(text)) => {
                let key = context.pseudonyms.ok_or_else(|| {
                    self.error(
                        "cpr",
                        "CPR numbers need the commissioner's secret (--secret-file)",
                    )
                })?;
                let (cpr, warnings) = Cpr::parse(text).map_err(|e| self.error("cpr", e.reason))?;
                if !warnings.is_empty() {
                    context
                        .modulus_11_warnings
                        .set(context.modulus_11_warnings.get() + 1);
                }
                Ok(Some(cpr.participant_ref(key)))
            }
            (None, None) => Ok(None),
        }
    }

    /// An id from the row's content: the same fact imported twice is one fact. The fields
    /// are taken by name, each once, as they always were: a different text would make a
    /// re-imported file's facts new ones.
    ///
    /// A CPR number never enters the id: the `cpr` cell is replaced by the participant's
    /// reference (the keyed pseudonym), because an unkeyed hash of a row holding a CPR number
    /// gives the number back to anyone who tries the few hundred million there are.
    fn content_id(&self, participant: Option<&ParticipantRef>) -> EventId {
        let mut columns: Vec<usize> = (0..self.columns.len()).collect();
        columns.sort_by(|&a, &b| self.columns[a].cmp(&self.columns[b]));
        let mut text = String::new();
        let reference = participant.map(ToString::to_string);
        for &index in &columns {
            let field = &self.columns[index];
            let value = self.value(index);
            if field == "id" || value.is_empty() {
                continue;
            }
            let value = match (field.as_str(), &reference) {
                ("cpr", Some(reference)) => reference.as_str(),
                ("cpr", None) => continue,
                _ => value,
            };
            text.push_str(field);
            text.push('\u{1f}');
            text.push_str(value);
            text.push('\u{1e}');
        }
        EventId::derived(b"pbr import row", &text)
    }
}

/// The id a row gives: 32 hex digits (with or without UUID dashes) as they are, any other
/// token hashed to an id. Most tokens are not hex ids, so they skip `EventId::parse` and its
/// error message.
fn id_of(text: &str) -> EventId {
    let digits = text.trim().chars().filter(|c| *c != '-');
    let hex_id = digits.clone().count() == 32 && digits.clone().all(|c| c.is_ascii_hexdigit());
    match hex_id.then(|| EventId::parse(text)) {
        Some(Ok(id)) => id,
        _ => EventId::derived(b"pbr import id", text),
    }
}

/// A JSON Lines row as its keys and values in the line's order, a repeated key kept, so that
/// it can be refused: `serde_json::Value` keeps only the last value of a key.
enum JsonRow {
    Object(Vec<(String, serde_json::Value)>),
    NotAnObject,
}

impl<'de> serde::Deserialize<'de> for JsonRow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<JsonRow, D::Error> {
        deserializer.deserialize_any(JsonRowVisitor)
    }
}

struct JsonRowVisitor;

impl<'de> serde::de::Visitor<'de> for JsonRowVisitor {
    type Value = JsonRow;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<JsonRow, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(pair) = map.next_entry::<String, serde_json::Value>()? {
            pairs.push(pair);
        }
        Ok(JsonRow::Object(pairs))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<JsonRow, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(JsonRow::NotAnObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<JsonRow, E> {
        Ok(JsonRow::NotAnObject)
    }

    fn visit_i64<E>(self, _: i64) -> Result<JsonRow, E> {
        Ok(JsonRow::NotAnObject)
    }

    fn visit_u64<E>(self, _: u64) -> Result<JsonRow, E> {
        Ok(JsonRow::NotAnObject)
    }

    fn visit_f64<E>(self, _: f64) -> Result<JsonRow, E> {
        Ok(JsonRow::NotAnObject)
    }

    fn visit_str<E>(self, _: &str) -> Result<JsonRow, E> {
        Ok(JsonRow::NotAnObject)
    }

    fn visit_unit<E>(self) -> Result<JsonRow, E> {
        Ok(JsonRow::NotAnObject)
    }
}

/// A column or key name as an error names it: cut after 40 characters, with `…`.
fn short(name: &str) -> String {
    match name.char_indices().nth(pbr_core::error::QUOTED_CHARS) {
        None => name.to_owned(),
        Some((end, _)) => format!("{}…", &name[..end]),
    }
}

/// The first name that appears twice, with the (0-based) positions of its first two
/// occurrences. Empty names are no fields (a CSV header's trailing commas) and are skipped.
fn first_repeated<'a>(names: impl Iterator<Item = &'a str>) -> Option<(&'a str, usize, usize)> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (index, name) in names.enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(&first) = seen.get(name) {
            return Some((name, first, index));
        }
        seen.insert(name, index);
    }
    None
}

/// Reads rows from JSON Lines, streaming: one object per line, values strings, numbers,
/// booleans or null. Blank lines are skipped; a key that appears twice in a line is an error.
pub fn jsonl_rows<R: std::io::BufRead>(
    file: &str,
    reader: R,
) -> impl Iterator<Item = Result<Row, Rejected>> + use<R> {
    jsonl_rows_into(file, reader, None)
}

/// [`jsonl_rows`] for a ledger of `origin`: an export's checkpoint line of another origin is
/// an error, so that no log's records are replayed into another, whatever their terms say
/// (terms made before format 2 name no log).
pub fn jsonl_rows_into<R: std::io::BufRead>(
    file: &str,
    reader: R,
    origin: Option<String>,
) -> impl Iterator<Item = Result<Row, Rejected>> + use<R> {
    let file: Arc<str> = Arc::from(file);
    reader.lines().enumerate().filter_map(move |(index, line)| {
        let at = |field: &str, reason: String| Rejected {
            where_: format!("{file}:{}: {field}", index + 1),
            reason,
        };
        let line = match line {
            Ok(line) => line,
            Err(e) => return Some(Err(at("(read)", e.to_string()))),
        };
        if line.trim().is_empty() {
            return None;
        }
        let row = (|| {
            let row: JsonRow =
                serde_json::from_str(&line).map_err(|e| at("(json)", e.to_string()))?;
            let JsonRow::Object(object) = row else {
                return Err(at("(json)", "a row is a JSON object".into()));
            };
            if let Some((key, _, _)) = first_repeated(object.iter().map(|(key, _)| key.as_str())) {
                return Err(at(&short(key), "the key appears twice".into()));
            }
            let has = |name: &str| object.iter().any(|(key, _)| key == name);
            // An export is taken as it is (`docs/format.md` §5): its checkpoint line is the
            // source log's to sign, not a fact (`pbr restore` keeps it) ...
            if has("checkpoint") && !has("record_hex") && !has("kind") {
                if let Some(origin) = &origin
                    && let Some((_, serde_json::Value::String(note))) =
                        object.iter().find(|(key, _)| key == "checkpoint")
                {
                    let note = pbr_log::SignedCheckpoint::parse(note)
                        .map_err(|e| at("checkpoint", e.to_string()))?;
                    if &note.checkpoint.origin != origin {
                        return Err(at(
                            "checkpoint",
                            format!(
                                "an export of the log {}, but this ledger is {origin}: a log's \
                                 records are never replayed into another",
                                note.checkpoint.origin
                            ),
                        ));
                    }
                }
                return Ok(None);
            }
            // ... and beside each record it writes what follows from it: the decoded event
            // (never trusted: the record's bytes are), its seq in the source log and its
            // chain hash there, and its leaf hash, which must be the record's.
            let exported = has("record_hex");
            let object: Vec<(String, serde_json::Value)> = if exported {
                let record = object.iter().find(|(key, _)| key == "record_hex");
                let leaf = object.iter().find(|(key, _)| key == "leaf_hash");
                if let (Some((_, serde_json::Value::String(hex))), Some((_, leaf))) = (record, leaf)
                    && let Some(bytes) = pbr_core::ids::parse_hex_vec(hex)
                {
                    let actual = pbr_log::hex::encode(&pbr_log::hash::leaf_hash(&bytes));
                    if leaf.as_str() != Some(actual.as_str()) {
                        return Err(at(
                            "leaf_hash",
                            format!("is not the leaf hash of record_hex, {actual}"),
                        ));
                    }
                }
                object
                    .into_iter()
                    .filter(|(key, _)| {
                        !matches!(key.as_str(), "event" | "seq" | "chain_hash" | "leaf_hash")
                    })
                    .collect()
            } else {
                object
            };
            let mut columns = Vec::with_capacity(object.len());
            let mut values = csv::StringRecord::with_capacity(0, object.len());
            for (key, value) in &object {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    serde_json::Value::Null => String::new(),
                    _ => {
                        return Err(at(
                            &short(key),
                            "a field is a string, a number, a boolean or null".into(),
                        ));
                    }
                };
                columns.push(key.clone());
                values.push_field(&text);
            }
            Ok(Some(Row::of_columns(
                file.clone(),
                index + 1,
                columns.into(),
                values,
                false,
            )))
        })();
        row.transpose()
    })
}

/// Reads rows from CSV with a header line, streaming; an empty cell is an absent field. A
/// column name that appears twice in the header is an error naming both columns.
pub fn csv_rows<R: std::io::Read>(
    file: &str,
    reader: R,
) -> Result<impl Iterator<Item = Result<Row, Rejected>> + use<R>, Rejected> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let header = reader.headers().map_err(|e| Rejected {
        where_: format!("{file}:1: (header)"),
        reason: e.to_string(),
    })?;
    let header_line = header.position().map_or(1, |p| p.line());
    let headers: Arc<[String]> = header.iter().map(|h| h.trim().to_owned()).collect();
    if let Some((name, first, second)) = first_repeated(headers.iter().map(String::as_str)) {
        return Err(Rejected {
            where_: format!("{file}:{header_line}: {}", short(name)),
            reason: format!(
                "the column appears twice (columns {} and {})",
                first + 1,
                second + 1
            ),
        });
    }
    let file: Arc<str> = Arc::from(file);
    Ok(reader.into_records().map(move |record| {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Rejected {
                where_: format!("{file}:{line}: (csv)"),
                reason: e.to_string(),
            }
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        Ok(Row::of_columns(
            file.clone(),
            line,
            headers.clone(),
            record,
            true,
        ))
    }))
}
