//! ESF+ participant micro-records and the common indicators (`domain.md` §3).
//!
//! The log's events stream through [`Records::push`], which keeps one micro-record per
//! participant of one contract (the ESF+ operation): the entry snapshot of
//! `participant-enrolled`, the leaving record of `participant-left` and the follow-up of
//! `participant-followed-up`. Events retracted by a `correction` are skipped; a retracted
//! enrolment removes the participant. [`Records::report`] then counts the indicators of
//! [`INDICATORS`] by gender, one category per participant (`docs/reports.md`).
//!
//! Unknown is not "no": an attribute that is not recorded makes a participant *unknown* in
//! every indicator that needs it (the row's `unknown` count), never a participant outside the
//! category; a participant whose gender is not recorded counts in the `gender_unknown`
//! column. The completeness rule names the records that lack a required attribute
//! ([`Report::incomplete`]) instead of hiding them.

mod indicators;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use pbr_core::event::{Attributes, EntryStatus, Event, Gender, Payload, ResultStatus};
use pbr_core::ids::ParticipantRef;

pub use indicators::{Entity, Flag, INDICATORS, Indicator, Measured, Rule, indicator};

use crate::{DateRange, ReportError};

/// The entry snapshot, from `participant-enrolled`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The seq of the enrolment.
    pub seq: u64,
    /// The entry (start) date.
    pub date: NaiveDate,
    /// The attributes at entry.
    pub attributes: Attributes,
}

/// The leaving record, from `participant-left`: the situation within four weeks of leaving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaving {
    /// The seq of the event.
    pub seq: u64,
    /// The leaving date.
    pub date: NaiveDate,
    /// The situation on leaving.
    pub status: ResultStatus,
    /// Whether a qualification was gained.
    pub qualification_gained: bool,
}

/// The follow-up six months after leaving, from `participant-followed-up`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowUp {
    /// The seq of the event.
    pub seq: u64,
    /// The date the situation refers to.
    pub date: NaiveDate,
    /// The situation six months after leaving.
    pub status: ResultStatus,
    /// Whether an employed participant's situation improved, if recorded.
    pub improved: Option<bool>,
}

/// A participant's micro-record: one row per participant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MicroRecord {
    /// The entry snapshot of the first participation.
    pub entry: Entry,
    /// The final leaving record: the latest by date, then seq.
    pub leaving: Option<Leaving>,
    /// The latest follow-up by date, then seq.
    pub follow_up: Option<FollowUp>,
}

/// A non-sensitive attribute the completeness rule requires (`domain.md` §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Required {
    /// `gender`.
    Gender,
    /// `age_at_entry`.
    Age,
    /// `entry_status` (the employment status).
    EntryStatus,
    /// `isced` (the education level).
    Education,
}

/// The attributes a record must hold to enter the indicator aggregates. Household situation,
/// also on §3.3's list, is not an attribute of the event vocabulary and no 2021–27 common
/// indicator reads it, so it is not required (`docs/reports.md`).
pub const REQUIRED: &[Required] = &[
    Required::Gender,
    Required::Age,
    Required::EntryStatus,
    Required::Education,
];

impl Required {
    /// The attribute's field name, as in an import row.
    pub fn name(self) -> &'static str {
        match self {
            Required::Gender => "gender",
            Required::Age => "age_at_entry",
            Required::EntryStatus => "entry_status",
            Required::Education => "isced",
        }
    }

    /// Whether `attributes` hold it.
    pub fn present_in(self, attributes: &Attributes) -> bool {
        match self {
            Required::Gender => attributes.gender.is_some(),
            Required::Age => attributes.age_at_entry.is_some(),
            Required::EntryStatus => attributes.entry_status.is_some(),
            Required::Education => attributes.isced.is_some(),
        }
    }
}

impl MicroRecord {
    /// The required attributes this record lacks, in [`REQUIRED`] order.
    pub fn missing(&self) -> Vec<&'static str> {
        REQUIRED
            .iter()
            .filter(|r| !r.present_in(&self.entry.attributes))
            .map(|r| r.name())
            .collect()
    }

    /// Whether the record holds every required attribute.
    pub fn is_complete(&self) -> bool {
        REQUIRED
            .iter()
            .all(|r| r.present_in(&self.entry.attributes))
    }

    /// The follow-up that counts: one dated on or after the final leaving date. A follow-up
    /// before it belongs to an earlier exit, whose results the final exit replaces.
    pub fn follow_up_after_leaving(&self) -> Option<&FollowUp> {
        let leaving = self.leaving.as_ref()?;
        self.follow_up.as_ref().filter(|f| f.date >= leaving.date)
    }

    /// The date an indicator measured at `measured` reads, if the record has one.
    fn date_of(&self, measured: Measured) -> Option<NaiveDate> {
        match measured {
            Measured::Entry => Some(self.entry.date),
            Measured::Leaving => self.leaving.as_ref().map(|l| l.date),
            Measured::SixMonths => self.follow_up_after_leaving().map(|f| f.date),
            Measured::Entity => None,
        }
    }
}

impl Flag {
    /// The flag's value in `attributes`: `None` when not recorded.
    pub fn value(self, attributes: &Attributes) -> Option<bool> {
        match self {
            Flag::Disability => attributes.disability,
            Flag::ThirdCountryNational => attributes.third_country_national,
            Flag::ForeignBackground => attributes.foreign_background,
            Flag::Minority => attributes.minority,
            Flag::Homeless => attributes.homeless,
            Flag::Rural => attributes.rural,
        }
    }
}

/// The seqs that the `correction` events among `events` retract. Give [`Records::new`] the
/// set for the whole log (or take `State::retracted`, which is the same set).
pub fn retracted_seqs<'a>(events: impl IntoIterator<Item = &'a Event>) -> BTreeSet<u64> {
    events
        .into_iter()
        .filter_map(|event| match &event.payload {
            Payload::Correction(c) => Some(c.retracts_seq),
            _ => None,
        })
        .collect()
}

/// The micro-records of one contract's participants, folded from the log in seq order.
#[derive(Clone, Debug)]
pub struct Records {
    contract: String,
    retracted: BTreeSet<u64>,
    records: BTreeMap<ParticipantRef, MicroRecord>,
}

impl Records {
    /// Empty records of `contract`. `retracted` holds every seq a `correction` anywhere in
    /// the log retracts: such events are skipped when pushed.
    pub fn new(contract: impl Into<String>, retracted: BTreeSet<u64>) -> Records {
        Records {
            contract: contract.into(),
            retracted,
            records: BTreeMap::new(),
        }
    }

    /// The contract.
    pub fn contract(&self) -> &str {
        &self.contract
    }

    /// Folds the event at `seq` in; push events in seq order. Events of other contracts,
    /// without a participant, of other kinds, or retracted are ignored, and so are leaving
    /// and follow-up records of a participant without a (non-retracted) enrolment.
    pub fn push(&mut self, seq: u64, event: &Event) {
        if event.contract != self.contract || self.retracted.contains(&seq) {
            return;
        }
        let Some(participant) = event.participant else {
            return;
        };
        let date = event.business_date;
        match &event.payload {
            Payload::ParticipantEnrolled(p) => {
                // Entry data refer to the first participation.
                self.records.entry(participant).or_insert(MicroRecord {
                    entry: Entry {
                        seq,
                        date,
                        attributes: p.attributes.clone(),
                    },
                    leaving: None,
                    follow_up: None,
                });
            }
            Payload::ParticipantLeft(p) => {
                if let Some(record) = self.records.get_mut(&participant)
                    && record
                        .leaving
                        .as_ref()
                        .is_none_or(|l| (date, seq) >= (l.date, l.seq))
                {
                    record.leaving = Some(Leaving {
                        seq,
                        date,
                        status: p.status,
                        qualification_gained: p.qualification_gained,
                    });
                }
            }
            Payload::ParticipantFollowedUp(p) => {
                if let Some(record) = self.records.get_mut(&participant)
                    && record
                        .follow_up
                        .as_ref()
                        .is_none_or(|f| (date, seq) >= (f.date, f.seq))
                {
                    record.follow_up = Some(FollowUp {
                        seq,
                        date,
                        status: p.status,
                        improved: p.improved,
                    });
                }
            }
            _ => {}
        }
    }

    /// The record of a participant.
    pub fn get(&self, participant: &ParticipantRef) -> Option<&MicroRecord> {
        self.records.get(participant)
    }

    /// Every record, by participant reference.
    pub fn iter(&self) -> impl Iterator<Item = (&ParticipantRef, &MicroRecord)> {
        self.records.iter()
    }

    /// The number of participants.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no participant is enrolled.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The indicator table of the operation `operation` over `period` (all time without
    /// one): indicators measured at entry count the participants who entered in the period,
    /// those measured on leaving the participants who left in it, and those measured six
    /// months after leaving the follow-ups dated in it.
    pub fn report(&self, operation: &str, period: Option<DateRange>) -> Report {
        let mut indicators = Vec::with_capacity(INDICATORS.len());
        let mut not_collected = Vec::new();
        let mut participants = 0;
        for indicator in INDICATORS {
            let tally = self.tally(indicator.rule, period);
            if indicator.rule == Rule::Participants {
                participants = tally.map_or(0, |t| t.total);
            }
            if tally.is_none() {
                not_collected.push(indicator.code);
            }
            indicators.push(Row {
                code: indicator.code,
                name: indicator.name,
                women: tally.map(|t| t.women),
                men: tally.map(|t| t.men),
                non_binary: tally.map(|t| t.non_binary),
                gender_unknown: tally.map(|t| t.gender_unknown),
                total: tally.map(|t| t.total),
                unknown: tally.map(|t| t.unknown),
            });
        }
        // The completeness rule: every record in scope of some indicator that lacks a
        // required attribute, by reference.
        let incomplete = self
            .records
            .iter()
            .filter(|(_, record)| record.in_scope(period))
            .filter_map(|(participant, record)| {
                let missing = record.missing();
                (!missing.is_empty()).then_some(Incomplete {
                    participant: *participant,
                    missing,
                })
            })
            .collect();
        Report {
            operation: operation.to_owned(),
            contract: self.contract.clone(),
            period: period.map(|p| p.to_string()),
            participants,
            indicators,
            not_collected,
            incomplete,
        }
    }

    /// The counts of one indicator, or `None` when its data are not collected.
    fn tally(&self, rule: Rule, period: Option<DateRange>) -> Option<Tally> {
        if let Rule::Entity(_) = rule {
            return None;
        }
        // Indicators on optional data are collected only if some record in scope holds them.
        let mut collected = !matches!(rule, Rule::Flag(_) | Rule::Improved);
        let mut tally = Tally::default();
        for record in self.records.values() {
            let Some(date) = record.date_of(rule.measured()) else {
                continue;
            };
            if period.is_some_and(|p| !p.contains(date)) {
                continue;
            }
            collected |= record.holds_data_of(rule);
            match record.member_of(rule) {
                Some(true) => tally.add(record.entry.attributes.gender),
                Some(false) => {}
                // Unknown is not "no": the participant may be in the category.
                None => tally.unknown += 1,
            }
        }
        collected.then_some(tally)
    }
}

/// Kleene's "and" of two answers that may be unknown: no if either is no, yes if both are
/// yes, otherwise unknown.
fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

impl MicroRecord {
    /// Whether the participant is in the category of an indicator with `rule`: `None` when
    /// an attribute the rule needs is not recorded. Call it on a record in the indicator's
    /// scope (one with a date for its [`Measured`]).
    pub fn member_of(&self, rule: Rule) -> Option<bool> {
        let a = &self.entry.attributes;
        match rule {
            Rule::EntryStatus(statuses) => a.entry_status.map(|s| statuses.contains(&s)),
            Rule::Age { min, max } => a.age_at_entry.map(|age| (min..=max).contains(&age)),
            Rule::Isced { min, max } => a.isced.map(|level| (min..=max).contains(&level)),
            Rule::Participants => Some(true),
            Rule::Flag(flag) => flag.value(a),
            Rule::LeavingStatus(status) => self.leaving.as_ref().map(|l| l.status == status),
            Rule::Qualification => self.leaving.as_ref().map(|l| l.qualification_gained),
            Rule::FollowUpStatus(status) => {
                self.follow_up_after_leaving().map(|f| f.status == status)
            }
            Rule::Improved => and(
                a.entry_status.map(|s| s == EntryStatus::Employed),
                self.follow_up_after_leaving().and_then(|f| f.improved),
            ),
            Rule::Entity(_) => None,
        }
    }

    /// Whether the record holds the optional datum an indicator on optional data reads (a
    /// flag at entry, or whether the situation improved at follow-up): such an indicator is
    /// collected only if some record in scope holds it.
    fn holds_data_of(&self, rule: Rule) -> bool {
        match rule {
            Rule::Flag(flag) => flag.value(&self.entry.attributes).is_some(),
            Rule::Improved => self
                .follow_up_after_leaving()
                .is_some_and(|f| f.improved.is_some()),
            _ => false,
        }
    }

    /// Whether any indicator of a report over `period` counts this record: its entry, its
    /// final leaving or the follow-up that counts falls in the period.
    fn in_scope(&self, period: Option<DateRange>) -> bool {
        [Measured::Entry, Measured::Leaving, Measured::SixMonths]
            .into_iter()
            .filter_map(|measured| self.date_of(measured))
            .any(|date| period.is_none_or(|p| p.contains(date)))
    }
}

/// Counts by gender, and the participants whose membership is unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    women: u64,
    men: u64,
    non_binary: u64,
    gender_unknown: u64,
    total: u64,
    unknown: u64,
}

impl Tally {
    fn add(&mut self, gender: Option<Gender>) {
        match gender {
            Some(Gender::Woman) => self.women += 1,
            Some(Gender::Man) => self.men += 1,
            Some(Gender::NonBinary) => self.non_binary += 1,
            None => self.gender_unknown += 1,
        }
        self.total += 1;
    }
}

/// One indicator's line: counts by gender, the total and the unknown, all `None` when not
/// collected.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    /// The code.
    pub code: &'static str,
    /// The indicator's text.
    pub name: &'static str,
    /// Women in the category.
    pub women: Option<u64>,
    /// Men in the category.
    pub men: Option<u64>,
    /// Non-binary persons in the category.
    pub non_binary: Option<u64>,
    /// Participants in the category whose gender is not recorded.
    pub gender_unknown: Option<u64>,
    /// Everyone in the category: the sum of the four gender cells.
    pub total: Option<u64>,
    /// Participants in the indicator's scope for whom an attribute it needs is not
    /// recorded, so that whether they are in the category is unknown; never in `total`.
    pub unknown: Option<u64>,
}

/// A record the completeness rule names: a participant in scope who lacks a required
/// attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incomplete {
    /// The participant's reference.
    pub participant: ParticipantRef,
    /// The required attributes not recorded, in [`REQUIRED`] order, by field name.
    pub missing: Vec<&'static str>,
}

impl Incomplete {
    /// The reference as tables show it: its first 12 hex digits, which `pbr log
    /// --participant` and the other commands that name a participant accept as a prefix.
    pub fn short(&self) -> String {
        let mut text = self.participant.to_string();
        text.truncate(12);
        text
    }
}

impl serde::Serialize for Incomplete {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Incomplete", 2)?;
        s.serialize_field("participant", &self.participant.to_string())?;
        s.serialize_field("missing", &self.missing)?;
        s.end()
    }
}

/// The ESF+ indicator table of an operation (its JSON is `docs/reports.md`'s).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The operation's name.
    pub operation: String,
    /// The contract whose participants it counts.
    pub contract: String,
    /// The period, `FROM..TO`, or `None` for all time.
    pub period: Option<String>,
    /// The grand total of participants who entered in the period (EECO11's total).
    pub participants: u64,
    /// Every indicator of [`INDICATORS`], in that order.
    pub indicators: Vec<Row>,
    /// The codes whose data are not collected (their counts are `None`).
    pub not_collected: Vec<&'static str>,
    /// The completeness rule: the records in scope that lack a required attribute, by
    /// participant reference.
    pub incomplete: Vec<Incomplete>,
}

/// The CSV header.
pub const CSV_HEADER: &str = "code,indicator,women,men,non_binary,gender_unknown,total,unknown";

/// The header of the incomplete records' sheet ([`Report::incomplete_rows`]).
pub const INCOMPLETE_HEADER: [&str; 2] = ["participant", "missing"];

impl Report {
    /// The table as CSV (RFC 4180, `\n` line ends): [`CSV_HEADER`], then one line per
    /// indicator; a count not collected is an empty cell.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        out.push_str(CSV_HEADER);
        out.push('\n');
        let cell = |n: Option<u64>| n.map_or_else(String::new, |n| n.to_string());
        for row in &self.indicators {
            let cells = [
                csv_field(row.code),
                csv_field(row.name),
                cell(row.women),
                cell(row.men),
                cell(row.non_binary),
                cell(row.gender_unknown),
                cell(row.total),
                cell(row.unknown),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// The completeness rule's records as the rows of a sheet: the header
    /// [`INCOMPLETE_HEADER`], then one row per record with the reference as tables show it
    /// ([`Incomplete::short`]) and the missing attributes separated by spaces, all text (a
    /// reference of twelve decimal digits stays a reference, not a number).
    pub fn incomplete_rows(&self) -> Vec<Vec<crate::xlsx::Cell>> {
        use crate::xlsx::Cell;
        let mut rows = vec![INCOMPLETE_HEADER.iter().map(|h| Cell::text(*h)).collect()];
        for record in &self.incomplete {
            rows.push(vec![
                Cell::text(record.short()),
                Cell::text(record.missing.join(" ")),
            ]);
        }
        rows
    }

    /// The report as one line of JSON, keys in the documented order.
    pub fn to_json(&self) -> Result<String, ReportError> {
        serde_json::to_string(self).map_err(|e| ReportError::Render(e.to_string()))
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
