//! A deterministic sample ledger: the same bytes on every machine, every run.
//!
//! It backs `pbr demo` and the golden vectors in `tests/vectors/` (a sample export, and
//! proofs exactly as `pbr proof --json` prints them). It is an IMPACT60-style history over
//! two years: the jobcentre enrols 24 citizens in two waves and records their monthly
//! self-sufficiency from the registers; a foundation gives the provider a set-up grant; the
//! provider records its quarterly costs; a social investor lends working capital against a
//! fee and guarantees the deficit; and every quarter the jobcentre issues the statement.
//! At the end the parties' treasuries record the payments each statement called for, and
//! the provider records the ESF+ leaving and follow-up records of the first wave's leavers:
//! recorded late, at their real business dates, so that every statement covers exactly the
//! events before it.
//! Its keys, and the secret behind its participant references, come from fixed names, so
//! they are *demo keys*: anyone can recompute them, and they must never sign a real ledger.

use chrono::NaiveDate;
use pbr_core::cpr::{Cpr, PseudonymKey};
use pbr_core::date::{Month, Period};
use std::collections::BTreeMap;

use pbr_core::event::{
    Attributes, ContractRegistered, CostRecorded, EntryStatus, Event, FundsDisbursed, Gender,
    MonthlyStatusRecorded, ParticipantEnrolled, ParticipantFollowedUp, ParticipantLeft, Payload,
    PaymentRecorded, Purpose, ResultStatus, SelfSufficiency,
};
use pbr_core::ids::{EventId, ParticipantRef};
use pbr_core::money::{Currency, Money};
use pbr_core::settle::Statement;
use pbr_log::{SignedCheckpoint, SignerKey};

use crate::{Input, Ledger, LedgerError};

/// The ledger id of the sample ledger.
pub const SAMPLE_ORIGIN: &str = "demo.pbr.example/impact60";
/// The contract id of the sample's events.
pub const SAMPLE_CONTRACT: &str = "impact60-demo";
/// The checkpoint time of the sample ledger (2026-01-15T00:00:00Z), fixed for determinism.
pub const SAMPLE_TIME: u64 = 1_768_435_200;
/// The size of the sample's first checkpoint, which the quorum's witnesses cosign: the
/// checkpoint a partner keeps, to ask later for a consistency proof.
pub const SAMPLE_FIRST_CHECKPOINT: u64 = 40;
/// The quarters the sample settles, 2024-Q1 to 2025-Q4.
pub const SAMPLE_QUARTERS: u32 = 8;

/// A demo key derived from its name; never use one outside a demo or a test.
pub fn demo_key(name: &str) -> SignerKey {
    let seed = blake3::derive_key("pbr demo key v1", name.as_bytes());
    // Invariant: the demo names below are valid key names.
    SignerKey::from_seed(name, seed).expect("demo key names are valid")
}

/// A demo party's witness key (type `0x04`, named `<party>-witness`), derived from the
/// party's name; never use one outside a demo or a test.
pub fn demo_witness_key(party: &str) -> SignerKey {
    let seed = blake3::derive_key("pbr demo witness key v1", party.as_bytes());
    // Invariant: the demo names below are valid key names.
    SignerKey::witness_from_seed(&format!("{party}-witness"), seed)
        .expect("demo key names are valid")
}

/// The demo parties' witness keys, in the order of [`demo_keys`].
pub fn demo_witness_keys() -> [SignerKey; 4] {
    demo_keys().map(|key| demo_witness_key(key.name()))
}

/// The demo ledger's log key, named after [`SAMPLE_ORIGIN`]; never use it outside a demo.
pub fn demo_log_key() -> SignerKey {
    let seed = blake3::derive_key("pbr demo log key v1", SAMPLE_ORIGIN.as_bytes());
    // Invariant: the origin is a valid key name.
    SignerKey::from_seed(SAMPLE_ORIGIN, seed).expect("the sample origin is a valid key name")
}

/// The demo parties: the jobcentre (commissioner), the provider, the social investor
/// (facility and guarantee) and the foundation (grant).
pub fn demo_keys() -> [SignerKey; 4] {
    [
        demo_key("aalborg-jobcenter"),
        demo_key("fokus-provider"),
        demo_key("dsk-investor"),
        demo_key("obelske-fund"),
    ]
}

/// The demo secret behind participant references (public, so demo only).
pub fn demo_pseudonym_key() -> PseudonymKey {
    // Invariant: 32 bytes is the minimum the key derivation takes.
    PseudonymKey::from_secret(&blake3::derive_key("pbr demo key v1", b"pseudonym secret"))
        .expect("a 32-byte secret")
}

/// The synthetic CPR number of demo citizen `n` (1 to 24): born on day `n` of January 1990,
/// a serial that is not anyone's. It only ever exists in memory.
pub fn demo_cpr(n: u32) -> String {
    format!("{n:02}0190-{:04}", 4000 + n)
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    // Invariant: the sample's dates are literal, valid dates.
    NaiveDate::from_ymd_opt(year, month, day).expect("a valid sample date")
}

/// The sample contract: IMPACT60-style terms between the four demo parties.
pub fn sample_terms() -> String {
    let [jobcenter, provider, investor, fund] = demo_keys();
    let [jobcenter_w, provider_w, investor_w, fund_w] = demo_witness_keys();
    format!(
        r#"# The demo contract: IMPACT60-style payment for runs of self-sufficient months.
[contract]
id = "{SAMPLE_CONTRACT}"
name = "IMPACT60-style demo contract"
currency = "DKK"
rounding = "floor"
settlement = "quarter"
start = 2024-01-01
end = 2027-03-31

[log]
origin = "{SAMPLE_ORIGIN}"
key = "{log}"

[[parties]]
id = "aalborg-jobcenter"
role = "commissioner"
name = "Aalborg Jobcenter (demo)"
key = "{}"
witness-key = "{}"

[[parties]]
id = "fokus-provider"
role = "provider"
name = "FOKUS (demo)"
key = "{}"
witness-key = "{}"

[[parties]]
id = "dsk-investor"
role = "guarantor"
name = "Den Sociale Kapitalfond (demo)"
key = "{}"
witness-key = "{}"

[[parties]]
id = "obelske-fund"
role = "funder"
name = "Obelske Familiefond (demo)"
key = "{}"
witness-key = "{}"

[checkpoint]
quorum = ["aalborg-jobcenter", "fokus-provider"]

[enrolment]
from = 2024-01-01
to = 2024-06-30
max-participants = 24

[sustainment]
run-months = 3
window-months = 36
full-price = "6163.00"
partial-price = "3081.50"
payer = "aalborg-jobcenter"
payee = "fokus-provider"

[facility]
lender = "dsk-investor"
borrower = "fokus-provider"
limit = "800000.00"
limit-on = "total-drawn"
fee = "1.5%"
fee-on = "total-drawn"

[guarantee]
guarantor = "dsk-investor"
beneficiary = "fokus-provider"
maximum = "800000.00"

[success-bonus]
amount = "100000.00"
threshold = "50%"
payer = "aalborg-jobcenter"
payee = "fokus-provider"
"#,
        jobcenter.verifier_key(),
        jobcenter_w.verifier_key(),
        provider.verifier_key(),
        provider_w.verifier_key(),
        investor.verifier_key(),
        investor_w.verifier_key(),
        fund.verifier_key(),
        fund_w.verifier_key(),
        log = demo_log_key().verifier_key(),
    )
}

/// The sample's events, in order; each is authored (and signed) by one of [`demo_keys`].
fn sample_steps() -> Result<Vec<Step>, LedgerError> {
    let mut steps = Vec::new();
    let mut count = 0u64;
    let mut push = |steps: &mut Vec<Step>, signer: usize, date: NaiveDate, participant, payload| {
        let n = count;
        count += 1;
        steps.push(Step::Event(Event {
            contract: SAMPLE_CONTRACT.to_owned(),
            participant,
            business_date: date,
            payload,
            author: demo_keys()[signer].name().to_owned(),
            // Set by `Ledger::append` from the sample's fixed clock.
            recorded_at_micros: 0,
            id: EventId::derived(SAMPLE_ORIGIN.as_bytes(), &n.to_string()),
        }));
    };
    let terms = sample_terms();
    let terms_hash = *blake3::hash(terms.as_bytes()).as_bytes();
    push(
        &mut steps,
        0,
        date(2024, 1, 1),
        None,
        Payload::ContractRegistered(ContractRegistered { terms, terms_hash }),
    );
    let citizens = citizens()?;
    for (participant, n) in citizens.iter().copied().zip(1..=24u32) {
        let start = if n <= 12 {
            date(2024, 1, 1)
        } else {
            date(2024, 4, 1)
        };
        let attributes = demo_attributes(u64::from(n));
        push(
            &mut steps,
            0,
            start,
            Some(participant),
            Payload::ParticipantEnrolled(ParticipantEnrolled { attributes }),
        );
    }
    push(
        &mut steps,
        3,
        date(2024, 1, 2),
        None,
        Payload::FundsDisbursed(FundsDisbursed {
            from: "obelske-fund".into(),
            to: "fokus-provider".into(),
            amount: Money::from_minor(72_000_000, Currency::DKK),
            purpose: Purpose::Grant,
        }),
    );
    let cost = |quarter: u32| {
        let kroner: i64 = if quarter < 4 { 250_000 } else { 200_000 };
        Money::from_minor(kroner * 100, Currency::DKK)
    };
    let mut quarter = Period::Quarter {
        year: 2024,
        quarter: 1,
    };
    for q in 0..SAMPLE_QUARTERS {
        for month in 0..3 {
            let month = Month::of(quarter.first_day()).index() + month;
            for (i, participant) in citizens.iter().enumerate() {
                let Some(status) = demo_status(i as u32 + 1, month) else {
                    continue;
                };
                let month = Month::from_index(month);
                push(
                    &mut steps,
                    0,
                    month.last_day(),
                    Some(*participant),
                    Payload::MonthlyStatusRecorded(MonthlyStatusRecorded {
                        month: month.index(),
                        status,
                    }),
                );
            }
        }
        push(
            &mut steps,
            1,
            quarter.last_day(),
            None,
            Payload::CostRecorded(CostRecorded {
                party: "fokus-provider".into(),
                amount: cost(q),
            }),
        );
        steps.push(Step::Settle(quarter));
        quarter = quarter.next();
    }
    Ok(steps)
}

/// One step of building the sample: append an event, or issue a quarter's statement.
enum Step {
    Event(Event),
    Settle(Period),
}

/// The register status of demo citizen `n` in month `index`, from a fixed pattern: a third
/// never become self-sufficient; the others start at a month of their own and then hold a
/// job (full) or a job with supplementary benefit (partial), with an occasional relapse.
/// `None` before the citizen's start date (nothing recorded).
fn demo_status(n: u32, index: i32) -> Option<SelfSufficiency> {
    let start = Month {
        year: 2024,
        month: if n <= 12 { 1 } else { 4 },
    }
    .index();
    if index < start {
        return None;
    }
    let month = (index - start) as u32;
    let begins = 2 + (n * 5) % 14;
    let never = n.is_multiple_of(3);
    let relapse = (month + n).is_multiple_of(11);
    let status = if never || month < begins || relapse {
        SelfSufficiency::None
    } else if (n + month / 4).is_multiple_of(4) {
        SelfSufficiency::Partial
    } else {
        SelfSufficiency::Full
    };
    Some(status)
}

/// The ESF+ categories at entry of demo citizen `n`, from a fixed pattern (also used by the
/// benchmarks' synthetic ledgers).
pub fn demo_attributes(n: u64) -> Attributes {
    Attributes {
        gender: Some(if n.is_multiple_of(2) {
            Gender::Woman
        } else {
            Gender::Man
        }),
        age_at_entry: Some(25 + (n % 30) as u8),
        entry_status: Some(if n.is_multiple_of(3) {
            EntryStatus::Inactive
        } else {
            EntryStatus::LongTermUnemployed
        }),
        isced: Some((n % 4) as u8),
        ..Attributes::default()
    }
}

/// Builds the sample ledger through [`Ledger::append`] and [`Ledger::issue`], so that every
/// event passes the same checks as a user's: events in batches of at most 10, each quarter's
/// statement issued by the jobcentre after the quarter's facts, a checkpoint at
/// [`SAMPLE_FIRST_CHECKPOINT`] signed by the jobcentre and a checkpoint of the whole log
/// signed by the jobcentre and co-signed by the provider.
pub fn build(ledger: &mut Ledger) -> Result<SignedCheckpoint, LedgerError> {
    let keys = demo_keys();
    let mut minute = 0i64;
    // A fixed clock: one append a minute, starting a month before the checkpoint.
    let mut now = || {
        minute += 1;
        (SAMPLE_TIME as i64 - 30 * 86_400 + 60 * minute) * 1_000_000
    };
    let mut batch: Vec<(String, Input)> = Vec::new();
    let flush = |ledger: &mut Ledger, batch: &mut Vec<(String, Input)>, now: i64| {
        if batch.is_empty() {
            return Ok(());
        }
        ledger.append(std::mem::take(batch), &keys, now, |_, _| {})?;
        if ledger.log().len() == SAMPLE_FIRST_CHECKPOINT {
            checkpoint(ledger, SAMPLE_TIME - 86_400)?;
        }
        Ok::<(), LedgerError>(())
    };
    let mut statements = Vec::new();
    for step in sample_steps()? {
        match step {
            Step::Event(event) => {
                batch.push((format!("sample event {}", event.id), Input::Event(event)));
                if batch.len() == 10 {
                    flush(ledger, &mut batch, now())?;
                }
            }
            Step::Settle(quarter) => {
                flush(ledger, &mut batch, now())?;
                statements.push(ledger.issue(SAMPLE_CONTRACT, quarter, &keys[0], now())?);
            }
        }
    }
    flush(ledger, &mut batch, now())?;
    // Recorded late: the payments the statements called for, and the ESF+ records of the
    // first wave's leavers.
    let late = statements
        .iter()
        .flat_map(|(statement, seq)| payments(statement, *seq))
        .chain(esf_records(&citizens()?))
        .enumerate()
        .map(|(n, (signer, date, participant, payload))| Event {
            contract: SAMPLE_CONTRACT.to_owned(),
            participant,
            business_date: date,
            payload,
            author: keys[signer].name().to_owned(),
            recorded_at_micros: 0,
            id: EventId::derived(SAMPLE_ORIGIN.as_bytes(), &format!("late {n}")),
        });
    for event in late {
        batch.push((format!("sample event {}", event.id), Input::Event(event)));
        if batch.len() == 10 {
            flush(ledger, &mut batch, now())?;
        }
    }
    flush(ledger, &mut batch, now())?;
    checkpoint(ledger, SAMPLE_TIME)
}

/// Where the demo's witnesses keep what they cosigned: inside the demo ledger's directory,
/// as only a demo may.
pub const DEMO_WITNESS_DIR: &str = "demo-witnesses";

/// Signs a checkpoint of the whole log with the demo log key, and has the quorum's
/// witnesses (the jobcentre's and the provider's) cosign it at `time`, each checking a
/// consistency proof from the last size it cosigned.
fn checkpoint(ledger: &mut Ledger, time: u64) -> Result<SignedCheckpoint, LedgerError> {
    let size = ledger.sign_checkpoint(&demo_log_key())?.checkpoint.size;
    let mut note = None;
    for key in &demo_witness_keys()[..2] {
        let dir = ledger.log().dir().join(DEMO_WITNESS_DIR).join(key.name());
        let witness =
            pbr_log::witness::Witness::open(key.clone(), vec![demo_log_key().verifier_key()], &dir)
                .map_err(|e| LedgerError::Mismatch(e.to_string()))?;
        note = Some(ledger.witness_checkpoint(&witness, Some(size), time)?);
    }
    note.ok_or_else(|| LedgerError::Mismatch("the demo's quorum names no witness".into()))
}

/// A late event: who signs it (an index into [`demo_keys`]), its date, its participant and
/// its payload.
type Late = (usize, NaiveDate, Option<ParticipantRef>, Payload);

/// The payments a statement calls for, a fortnight after its quarter: one per pair of
/// parties, the net of the lines that move money between them, paid by the party that owes.
fn payments(statement: &Statement, seq: u64) -> Vec<Late> {
    let mut owed: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for line in statement.lines.iter().filter(|line| !line.is_memo()) {
        let (from, to) = (line.key.from.as_str(), line.key.to.as_str());
        // One entry per unordered pair, positive when the first party owes the second.
        let (pair, sign) = if from < to {
            ((from, to), 1)
        } else {
            ((to, from), -1)
        };
        *owed.entry(pair).or_default() += sign * line.amount.minor;
    }
    let date = statement.period.last_day() + chrono::Days::new(14);
    owed.into_iter()
        .filter(|(_, minor)| *minor != 0)
        .filter_map(|((a, b), minor)| {
            let (from, to) = if minor > 0 { (a, b) } else { (b, a) };
            let signer = demo_keys().iter().position(|k| k.name() == from)?;
            Some((
                signer,
                date,
                None,
                Payload::PaymentRecorded(PaymentRecorded {
                    from: from.to_owned(),
                    to: to.to_owned(),
                    amount: Money::from_minor(minor.abs(), statement.currency),
                    settlement_seq: Some(seq),
                }),
            ))
        })
        .collect()
}

/// The ESF+ leaving and follow-up records of the first wave (citizens 1 to 12): those never
/// self-sufficient leave at the end of 2024, searching for a job or inactive; the others
/// leave at the end of June 2025, employed or in education, some with a qualification. Each
/// is followed up six months after leaving. The provider records them.
fn esf_records(citizens: &[ParticipantRef]) -> Vec<Late> {
    let mut late = Vec::new();
    for (i, participant) in citizens.iter().enumerate().take(12) {
        let n = i as u32 + 1;
        let (left, status, qualification, followed, later, improved) = if n.is_multiple_of(3) {
            let status = if n.is_multiple_of(2) {
                ResultStatus::Inactive
            } else {
                ResultStatus::JobSearching
            };
            (
                date(2024, 12, 31),
                status,
                false,
                date(2025, 6, 30),
                ResultStatus::Unemployed,
                None,
            )
        } else {
            let status = if n.is_multiple_of(5) {
                ResultStatus::Education
            } else {
                ResultStatus::Employed
            };
            (
                date(2025, 6, 30),
                status,
                n % 4 == 1,
                date(2025, 12, 31),
                ResultStatus::Employed,
                Some(n % 4 != 2),
            )
        };
        late.push((
            1,
            left,
            Some(*participant),
            Payload::ParticipantLeft(ParticipantLeft {
                status,
                qualification_gained: qualification,
            }),
        ));
        late.push((
            1,
            followed,
            Some(*participant),
            Payload::ParticipantFollowedUp(ParticipantFollowedUp {
                status: later,
                improved,
            }),
        ));
    }
    late
}

/// The demo citizens' participant references, citizen 1 first.
fn citizens() -> Result<Vec<ParticipantRef>, LedgerError> {
    let pseudonyms = demo_pseudonym_key();
    (1..=24u32)
        .map(|n| {
            let (cpr, _) = Cpr::parse(&demo_cpr(n)).map_err(|e| LedgerError::Mismatch(e.reason))?;
            Ok(cpr.participant_ref(&pseudonyms))
        })
        .collect()
}
