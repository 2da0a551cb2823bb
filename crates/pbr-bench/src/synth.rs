//! A synthetic IMPACT60-style ledger of any size, the same bytes for the same size on every
//! run: the settlement benchmark's input.
//!
//! One contract in the style of scenario C and `pbr demo`: sustainment payments for runs of
//! at least three fully or partly self-sufficient months inside each participant's 36-month
//! window (DKK, quarterly settlement), a liquidity facility and a deficit guarantee from a
//! social investor, a foundation's set-up grant and a success bonus. The parties sign with
//! demo keys (`pbr_ledger::sample::demo_key`). N participants are enrolled, a third each
//! starting on the first of January, February and March 2024; the jobcentre records a
//! `monthly-status-recorded` event for every participant and month of Y years from the
//! participant's start (N × 12Y events), the provider a `cost-recorded` event every quarter.
//!
//! Statuses follow a per-participant Markov chain driven by SplitMix64 from a fixed seed:
//! each month a participant keeps last month's status with probability 60 %, otherwise draws
//! one (none 45 %, partial 25 %, full 30 %), so runs form, qualify and break.
//!
//! Events go in through [`Ledger::append`], one batch per quarter (the enrolments and the
//! contract in a batch of their own), streamed from an iterator, never held in memory; the
//! statements of the first [`Shape::issued`] quarters are issued with [`Ledger::issue`]
//! after their quarter's batch, so the projections carry issued statements and balances
//! have something to add up.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use pbr_core::date::{Calendar, Month, Period};
use pbr_core::event::{
    ContractRegistered, CostRecorded, Event, FundsDisbursed, MonthlyStatusRecorded,
    ParticipantEnrolled, Payload, Purpose, SelfSufficiency,
};
use pbr_core::ids::{EventId, ParticipantRef};
use pbr_core::money::{Currency, Money};
use pbr_ledger::{Input, Ledger, SignerKey};

use crate::BenchResult;
use crate::data::{SplitMix64, THREADS};
use crate::report::Report;

/// The ledger id.
pub(crate) const ORIGIN: &str = "bench.pbr.example/impact60-synthetic";
/// The seed of the synthetic log's log key (a benchmark key, never a real one).
const LOG_SEED: [u8; 32] = [0x4c; 32];
/// The contract id.
pub(crate) const CONTRACT: &str = "impact60-bench";
const COMMISSIONER: &str = "aalborg-jobcenter";
const PROVIDER: &str = "fokus-provider";
const INVESTOR: &str = "dsk-investor";
const FUNDER: &str = "obelske-fund";
const STATUS_SEED: u64 = 0x7365_7474_6c65_7374;
const COST_SEED: u64 = 0x7365_7474_6c65_636f;
/// The first month anyone starts: January 2024.
const FIRST_YEAR: i32 = 2024;
/// Participants start in the first, second or third month.
const START_MONTHS: u64 = 3;
/// Per participant, in whole kroner: the set-up grant, the provider's cost per quarter
/// (± 10 %), the facility's limit and the guarantee's maximum.
const GRANT_PER_PARTICIPANT: i64 = 1_000;
const COST_PER_PARTICIPANT_QUARTER: i64 = 5_500;
const FACILITY_PER_PARTICIPANT: i64 = 10_000;
const ORE_PER_KRONE: i64 = 100;

/// The shape of a synthetic ledger.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) participants: u64,
    pub(crate) years: u32,
    /// The quarters whose statements are issued while building, from the first; at most
    /// the quarters before [`Shape::settled_quarter`].
    pub(crate) issued: u32,
}

impl Shape {
    /// The shape of `participants` × `years`, with `issued` statements (default: every
    /// quarter before the settled one).
    pub(crate) fn new(participants: u64, years: u32, issued: Option<u32>) -> BenchResult<Shape> {
        let mut shape = Shape {
            participants,
            years,
            issued: 0,
        };
        let issuable = shape.issuable();
        shape.issued = issued.unwrap_or(issuable);
        if shape.issued > issuable {
            return Err(format!(
                "--issued {}: only the {issuable} quarters before {} can be issued",
                shape.issued,
                shape.settled_quarter()
            )
            .into());
        }
        Ok(shape)
    }

    /// The index of the first month anyone starts.
    fn first_month() -> i32 {
        Month {
            year: FIRST_YEAR,
            month: 1,
        }
        .index()
    }

    /// Months of status per participant.
    fn months(self) -> i32 {
        12 * self.years as i32
    }

    /// The last month anyone has a status for.
    fn last_month(self) -> i32 {
        Shape::first_month() + START_MONTHS as i32 - 1 + self.months() - 1
    }

    /// The quarters that hold statuses, in order.
    pub(crate) fn quarters(self) -> Vec<Period> {
        let first = quarter_of(Shape::first_month());
        let last = quarter_of(self.last_month());
        let mut quarters = Vec::new();
        let mut quarter = first;
        while quarter <= last {
            quarters.push(quarter);
            quarter = quarter.next();
        }
        quarters
    }

    /// The last quarter in which every participant has all three months recorded: the
    /// quarter the benchmark settles.
    pub(crate) fn settled_quarter(self) -> Period {
        quarter_of(Shape::first_month() + self.months() - 1)
    }

    /// The quarters before the settled one: at most this many can be issued.
    pub(crate) fn issuable(self) -> u32 {
        let settled = self.settled_quarter();
        self.quarters().iter().filter(|q| **q < settled).count() as u32
    }

    /// The number of events the ledger will hold.
    pub(crate) fn events(self) -> u64 {
        // The contract and the grant; enrolments; statuses; one cost per quarter; statements.
        2 + self.participants
            + self.participants * self.months() as u64
            + self.quarters().len() as u64
            + u64::from(self.issued)
    }
}

fn quarter_of(month: i32) -> Period {
    Period::containing(Calendar::Quarter, Month::from_index(month).last_day())
}

/// What building took.
pub(crate) struct Built {
    pub(crate) events: u64,
    /// Wall time of the `Ledger::append` calls.
    pub(crate) append: Duration,
    /// Wall time of the `Ledger::issue` calls.
    pub(crate) issue: Duration,
    /// Each issued statement: its period, its line count and the time `issue` took.
    pub(crate) issued: Vec<(Period, usize, Duration)>,
}

fn demo_keys() -> [SignerKey; 4] {
    [COMMISSIONER, PROVIDER, INVESTOR, FUNDER].map(pbr_ledger::sample::demo_key)
}

/// The contract's terms for `shape`.
pub(crate) fn terms(shape: Shape) -> BenchResult<String> {
    let [commissioner, provider, investor, funder] = demo_keys();
    let witness = |party: &str| pbr_ledger::sample::demo_witness_key(party).verifier_key();
    let log_key = pbr_log::SignerKey::from_seed(ORIGIN, LOG_SEED)?.verifier_key();
    let start = Month::from_index(Shape::first_month()).first_day();
    let enrol_to = Month::from_index(Shape::first_month() + START_MONTHS as i32 - 1).last_day();
    // Two months after the last status, so the last quarter with statuses is not final.
    let end = Month::from_index(shape.last_month() + 2).last_day();
    let limit = kroner(shape.participants, FACILITY_PER_PARTICIPANT)?;
    let max = u32::try_from(shape.participants)?;
    Ok(format!(
        r#"# Synthetic IMPACT60-style contract of the settlement benchmark (pbr-bench settle).
[contract]
id = "{CONTRACT}"
name = "IMPACT60-style benchmark contract, {participants} participants"
currency = "DKK"
rounding = "floor"
settlement = "quarter"
start = {start}
end = {end}

[log]
origin = "{ORIGIN}"
key = "{log_key}"

[[parties]]
id = "{COMMISSIONER}"
role = "commissioner"
name = "Aalborg Jobcenter (demo)"
key = "{}"
witness-key = "{}"

[[parties]]
id = "{PROVIDER}"
role = "provider"
name = "FOKUS (demo)"
key = "{}"

[[parties]]
id = "{INVESTOR}"
role = "guarantor"
name = "Den Sociale Kapitalfond (demo)"
key = "{}"
witness-key = "{}"

[[parties]]
id = "{FUNDER}"
role = "funder"
name = "Obelske Familiefond (demo)"
key = "{}"

[checkpoint]
quorum = ["{COMMISSIONER}", "{INVESTOR}"]

[enrolment]
from = {start}
to = {enrol_to}
max-participants = {max}

[sustainment]
run-months = 3
window-months = 36
full-price = "6163.00"
partial-price = "3081.50"
payer = "{COMMISSIONER}"
payee = "{PROVIDER}"

[facility]
lender = "{INVESTOR}"
borrower = "{PROVIDER}"
limit = "{limit}"
limit-on = "total-drawn"
fee = "1.5%"
fee-on = "total-drawn"

[guarantee]
guarantor = "{INVESTOR}"
beneficiary = "{PROVIDER}"
maximum = "{limit}"

[success-bonus]
amount = "1000000.00"
threshold = "50%"
payer = "{COMMISSIONER}"
payee = "{PROVIDER}"
"#,
        commissioner.verifier_key(),
        witness(commissioner.name()),
        provider.verifier_key(),
        investor.verifier_key(),
        witness(investor.name()),
        funder.verifier_key(),
        participants = shape.participants,
    ))
}

/// `count × per` kroner as a decimal string.
fn kroner(count: u64, per: i64) -> BenchResult<String> {
    let total = i64::try_from(count)?
        .checked_mul(per)
        .ok_or("amount overflows")?;
    Ok(format!("{total}.00"))
}

/// The reference of participant `n`: any distinct 32 bytes will do, and a hash spreads them
/// like real pseudonyms.
fn participant(n: u64) -> ParticipantRef {
    ParticipantRef(blake3::derive_key(
        "pbr bench participant v1",
        &n.to_le_bytes(),
    ))
}

/// The month index participant `n` starts in.
fn start_month(n: u64) -> i32 {
    Shape::first_month() + (n % START_MONTHS) as i32
}

fn event(
    date: NaiveDate,
    participant: Option<ParticipantRef>,
    payload: Payload,
    author: &str,
    id: &str,
) -> Event {
    Event {
        contract: CONTRACT.to_owned(),
        participant,
        business_date: date,
        payload,
        author: author.to_owned(),
        // Set by `Ledger::append`.
        recorded_at_micros: 0,
        id: EventId::derived(ORIGIN.as_bytes(), id),
    }
}

/// A fixed clock: `recorded_at` of a batch is noon on the day after `date`.
fn clock(date: NaiveDate) -> BenchResult<i64> {
    let next = date.succ_opt().ok_or("no next day")?;
    let noon = next.and_hms_opt(12, 0, 0).ok_or("no noon")?;
    Ok(noon.and_utc().timestamp_micros())
}

/// The contract, the grant and every enrolment.
fn opening(shape: Shape) -> BenchResult<impl Iterator<Item = (String, Input)>> {
    let terms = terms(shape)?;
    let terms_hash = *blake3::hash(terms.as_bytes()).as_bytes();
    let start = Month::from_index(Shape::first_month()).first_day();
    let grant = Money::from_minor(
        i64::try_from(shape.participants)? * GRANT_PER_PARTICIPANT * ORE_PER_KRONE,
        Currency::DKK,
    );
    let head = [
        event(
            start,
            None,
            Payload::ContractRegistered(ContractRegistered { terms, terms_hash }),
            COMMISSIONER,
            "contract",
        ),
        event(
            start,
            None,
            Payload::FundsDisbursed(FundsDisbursed {
                from: FUNDER.into(),
                to: PROVIDER.into(),
                amount: grant,
                purpose: Purpose::Grant,
            }),
            FUNDER,
            "grant",
        ),
    ];
    let enrolments = (0..shape.participants).map(|n| {
        let attributes = pbr_ledger::sample::demo_attributes(n);
        event(
            Month::from_index(start_month(n)).first_day(),
            Some(participant(n)),
            Payload::ParticipantEnrolled(ParticipantEnrolled { attributes }),
            COMMISSIONER,
            &format!("enrol/{n}"),
        )
    });
    Ok(head
        .into_iter()
        .chain(enrolments)
        .map(|e| (String::new(), Input::Event(e))))
}

/// Every participant's current status and the generator that moves it on, month by month.
struct Statuses {
    current: Vec<SelfSufficiency>,
    rng: SplitMix64,
}

impl Statuses {
    fn new(participants: u64) -> Statuses {
        let mut rng = SplitMix64::new(STATUS_SEED);
        let current = (0..participants).map(|_| draw(&mut rng)).collect();
        Statuses { current, rng }
    }

    /// The status of participant `n` this month: last month's with probability 60 %,
    /// otherwise a fresh draw. Called once per participant and month, in month order.
    fn step(&mut self, n: usize) -> SelfSufficiency {
        if self.rng.below(100) >= 60 {
            self.current[n] = draw(&mut self.rng);
        }
        self.current[n]
    }
}

fn draw(rng: &mut SplitMix64) -> SelfSufficiency {
    match rng.below(100) {
        0..45 => SelfSufficiency::None,
        45..70 => SelfSufficiency::Partial,
        _ => SelfSufficiency::Full,
    }
}

/// The statuses of every participant active in `quarter`'s months, month by month, then the
/// provider's cost of the quarter; streamed.
fn quarter_events<'a>(
    shape: Shape,
    quarter: Period,
    statuses: &'a mut Statuses,
    cost_rng: &'a mut SplitMix64,
) -> impl Iterator<Item = (String, Input)> + 'a {
    let first = Month::of(quarter.first_day()).index();
    let months = shape.months();
    let participants = shape.participants;
    let active = (first..first + 3).flat_map(move |month| {
        (0..participants).filter_map(move |n| {
            let start = start_month(n);
            (start <= month && month < start + months).then_some((n, month))
        })
    });
    let status_events = active.map(move |(n, month)| {
        let status = statuses.step(n as usize);
        let m = Month::from_index(month);
        event(
            m.last_day(),
            Some(participant(n)),
            Payload::MonthlyStatusRecorded(MonthlyStatusRecorded {
                month: m.index(),
                status,
            }),
            COMMISSIONER,
            &format!("status/{n}/{month}"),
        )
    });
    let per_quarter = COST_PER_PARTICIPANT_QUARTER * participants as i64;
    // ± 10 %.
    let spread = per_quarter / 5;
    let cost_kroner = per_quarter - per_quarter / 10 + cost_rng.below(spread as u64 + 1) as i64;
    let cost = event(
        quarter.last_day(),
        None,
        Payload::CostRecorded(CostRecorded {
            party: PROVIDER.into(),
            amount: Money::from_minor(cost_kroner * ORE_PER_KRONE, Currency::DKK),
        }),
        PROVIDER,
        &format!("cost/{quarter}"),
    );
    status_events
        .chain(std::iter::once(cost))
        .map(|e| (String::new(), Input::Event(e)))
}

/// Builds the synthetic ledger of `shape` in `dir`.
pub(crate) fn build(report: &Report, dir: &Path, shape: Shape) -> BenchResult<Built> {
    let keys = demo_keys();
    let mut ledger = Ledger::create(dir, ORIGIN)?;
    ledger.set_threads(THREADS);
    let mut append = Duration::ZERO;
    let mut issue = Duration::ZERO;
    let mut issued = Vec::new();
    let start = Instant::now();
    let now = clock(Month::from_index(Shape::first_month()).first_day())?;
    let appended = ledger.append(opening(shape)?, &keys, now, |_, _| {})?;
    append += start.elapsed();
    report.progress(&format!(
        "settle: contract and {} enrolments appended in {:.1} s",
        shape.participants,
        append.as_secs_f64()
    ));
    let mut statuses = Statuses::new(shape.participants);
    let mut cost_rng = SplitMix64::new(COST_SEED);
    let quarters = shape.quarters();
    let mut events = appended.appended;
    for (number, quarter) in quarters.iter().enumerate() {
        let now = clock(quarter.last_day())?;
        let start = Instant::now();
        let inputs = quarter_events(shape, *quarter, &mut statuses, &mut cost_rng);
        let appended = ledger.append(inputs, &keys, now, |_, _| {})?;
        let took = start.elapsed();
        append += took;
        events += appended.appended;
        let mut line = format!(
            "settle: {quarter}: {} events appended in {:.1} s ({:.0} ev/s)",
            appended.appended,
            took.as_secs_f64(),
            appended.appended as f64 / took.as_secs_f64()
        );
        if (number as u32) < shape.issued {
            let start = Instant::now();
            let (statement, _) = ledger.issue(CONTRACT, *quarter, &keys[0], now + 1)?;
            let took = start.elapsed();
            issue += took;
            events += 1;
            issued.push((*quarter, statement.lines.len(), took));
            line.push_str(&format!(
                "; statement of {} lines issued in {:.1} s",
                statement.lines.len(),
                took.as_secs_f64()
            ));
        }
        report.progress(&line);
    }
    if events != shape.events() || ledger.log().len() != events {
        return Err(format!(
            "built {events} events ({} in the log), expected {}",
            ledger.log().len(),
            shape.events()
        )
        .into());
    }
    Ok(Built {
        events,
        append,
        issue,
        issued,
    })
}
