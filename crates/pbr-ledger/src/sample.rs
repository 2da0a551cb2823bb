//! A deterministic sample ledger: the same bytes on every machine, every run.
//!
//! It backs `pbr demo` and the golden vectors in `tests/vectors/` (a sample export, and
//! proofs exactly as `pbr proof --json` prints them). It is a small IMPACT60-style history:
//! the jobcentre enrols 24 citizens in two waves and records their monthly
//! self-sufficiency from the registers; the provider records its quarterly costs. Its keys,
//! and the secret behind its participant references, come from fixed names, so they are
//! *demo keys*: anyone can recompute them, and they must never sign a real ledger.

use chrono::NaiveDate;
use pbr_core::cpr::{Cpr, PseudonymKey};
use pbr_core::date::Month;
use pbr_core::event::{
    Attributes, ContractRegistered, CostRecorded, EntryStatus, Event, Gender,
    MonthlyStatusRecorded, ParticipantEnrolled, Payload, SelfSufficiency,
};
use pbr_core::ids::EventId;
use pbr_core::money::{Currency, Money};
use pbr_log::{SignedCheckpoint, SignerKey};

use crate::{Input, Ledger, LedgerError};

/// The ledger id of the sample ledger.
pub const SAMPLE_ORIGIN: &str = "demo.pbr.example/impact60";
/// The contract id of the sample's events.
pub const SAMPLE_CONTRACT: &str = "impact60-demo";
/// The checkpoint time of the sample ledger (2025-01-01T00:00:00Z), fixed for determinism.
pub const SAMPLE_TIME: u64 = 1_735_689_600;
/// The size of the sample's first checkpoint, which only the first party signs: the
/// witness a partner keeps, to ask later for a consistency proof.
pub const SAMPLE_FIRST_CHECKPOINT: u64 = 40;

/// A demo key derived from its name; never use one outside a demo or a test.
pub fn demo_key(name: &str) -> SignerKey {
    let seed = blake3::derive_key("pbr demo key v1", name.as_bytes());
    // Invariant: the demo names below are valid key names.
    SignerKey::from_seed(name, seed).expect("demo key names are valid")
}

/// The demo parties: the jobcentre (commissioner) and the provider.
pub fn demo_keys() -> [SignerKey; 2] {
    [demo_key("aalborg-jobcenter"), demo_key("fokus-provider")]
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

/// The sample contract: IMPACT60-style terms between the two demo parties.
pub fn sample_terms() -> String {
    let [jobcenter, provider] = demo_keys();
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

[[parties]]
id = "aalborg-jobcenter"
role = "commissioner"
name = "Aalborg Jobcenter (demo)"
key = "{}"

[[parties]]
id = "fokus-provider"
role = "provider"
name = "FOKUS (demo)"
key = "{}"

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
"#,
        jobcenter.verifier_key(),
        provider.verifier_key()
    )
}

/// The sample's events, in order; each is authored (and signed) by one of [`demo_keys`].
fn sample_events() -> Result<Vec<Event>, LedgerError> {
    let pseudonyms = demo_pseudonym_key();
    let mut events = Vec::new();
    let mut push = |signer: usize, date: NaiveDate, participant, payload| {
        let n = events.len() as u64;
        events.push(Event {
            contract: SAMPLE_CONTRACT.to_owned(),
            participant,
            business_date: date,
            payload,
            author: demo_keys()[signer].name().to_owned(),
            // Set by `Ledger::append` from the sample's fixed clock.
            recorded_at_micros: 0,
            id: EventId::derived(SAMPLE_ORIGIN.as_bytes(), &n.to_string()),
        });
    };
    let terms = sample_terms();
    let terms_hash = *blake3::hash(terms.as_bytes()).as_bytes();
    push(
        0,
        date(2024, 1, 1),
        None,
        Payload::ContractRegistered(ContractRegistered { terms, terms_hash }),
    );
    let mut citizens = Vec::new();
    for n in 1..=24u32 {
        let (cpr, _) = Cpr::parse(&demo_cpr(n)).map_err(|e| LedgerError::Mismatch(e.reason))?;
        let participant = cpr.participant_ref(&pseudonyms);
        let start = if n <= 12 {
            date(2024, 1, 1)
        } else {
            date(2024, 4, 1)
        };
        let attributes = Attributes {
            gender: Some(if n % 2 == 0 {
                Gender::Woman
            } else {
                Gender::Man
            }),
            age_at_entry: Some(25 + (n % 30) as u8),
            entry_status: Some(if n % 3 == 0 {
                EntryStatus::Inactive
            } else {
                EntryStatus::LongTermUnemployed
            }),
            isced: Some((n % 4) as u8),
            ..Attributes::default()
        };
        push(
            0,
            start,
            Some(participant),
            Payload::ParticipantEnrolled(ParticipantEnrolled { attributes }),
        );
        citizens.push(participant);
    }
    // Monthly register status for the first wave, 2024-04 to 2024-09.
    for month in 4..=9u32 {
        for (i, participant) in citizens.iter().take(12).enumerate() {
            let status = match (i + month as usize) % 4 {
                0 => SelfSufficiency::Full,
                1 => SelfSufficiency::Partial,
                _ => SelfSufficiency::None,
            };
            let month = Month { year: 2024, month };
            push(
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
    // The provider's quarterly costs.
    for (quarter_end, kroner) in [
        (date(2024, 3, 31), 200_000),
        (date(2024, 6, 30), 200_000),
        (date(2024, 9, 30), 200_000),
        (date(2024, 12, 31), 200_000),
    ] {
        let amount = Money::from_minor(kroner * 100, Currency::DKK);
        push(
            1,
            quarter_end,
            None,
            Payload::CostRecorded(CostRecorded {
                party: "fokus-provider".into(),
                amount,
            }),
        );
    }
    Ok(events)
}

/// The number of records of the sample ledger.
pub fn sample_len() -> u64 {
    // The contract, 24 enrolments, 72 monthly statuses, 4 costs.
    101
}

/// Builds the sample ledger through [`Ledger::append`], so that every event passes the
/// same checks as a user's: in batches of 10, with a checkpoint at
/// [`SAMPLE_FIRST_CHECKPOINT`] signed by the jobcentre and a checkpoint of the whole log
/// signed by the jobcentre and co-signed by the provider.
pub fn build(ledger: &mut Ledger) -> Result<SignedCheckpoint, LedgerError> {
    let keys = demo_keys();
    let events = sample_events()?;
    debug_assert_eq!(events.len() as u64, sample_len());
    for (batch_number, batch) in events.chunks(10).enumerate() {
        let inputs: Vec<(String, Input)> = batch
            .iter()
            .map(|event| {
                (
                    format!("sample event {}", event.id),
                    Input::Event(event.clone()),
                )
            })
            .collect();
        // A fixed clock: one batch a minute, starting a month before the checkpoint.
        let now = (SAMPLE_TIME as i64 - 30 * 86_400 + 60 * batch_number as i64) * 1_000_000;
        ledger.append(inputs, &keys, now, |_, _| {})?;
        if ledger.log().len() == SAMPLE_FIRST_CHECKPOINT {
            ledger.sign_checkpoint(&keys[0], SAMPLE_TIME - 86_400)?;
        }
    }
    let note = ledger.sign_checkpoint(&keys[0], SAMPLE_TIME)?;
    ledger.cosign_checkpoint(&keys[1], Some(note.checkpoint.size))
}
