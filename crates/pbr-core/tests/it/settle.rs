//! Settlement properties over random contracts and event streams, built in memory through
//! `State::admit` and `State::apply` (no log, no ledger), plus examples pinning rules of
//! `scenarios.md` §5.0.
//!
//! A random run registers a contract (2–5 outcomes, optional caps, prerequisites,
//! exclusions, split or home-party payers, sustainment, waterfall, facility, co-financing,
//! success bonus), enrols 1–20 participants and then plays a script of operations over up to
//! eight quarters: claims, decisions (computed with `State::decide`, evidence valid or not,
//! sometimes dated in an already-settled quarter), claw-backs, corrections, monthly statuses
//! and money flows. Each quarter ends with a `settlement-issued` event (a few are skipped),
//! the last quarter always. Every event passes admission, signed with the key its author's
//! verifier key names: admission compares public-key bytes, so a fixed 32-byte key per party
//! stands in for an Ed25519 key pair.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use pbr_core::date::{Calendar, Month, Period};
use pbr_core::event::{
    Attributes, ClawbackReason, Correction, CorrectionReason, CostRecorded, Event, FundsDisbursed,
    MonthlyStatusRecorded, OutcomeClaimed, OutcomeClawedBack, OutcomeRejected, OutcomeVerified,
    ParticipantEnrolled, Payload, Purpose, RejectReason, Role, SelfSufficiency, SettlementIssued,
};
use pbr_core::ids::{EventId, ParticipantRef};
use pbr_core::money::{Currency, Money};
use pbr_core::settle::balance::balances;
use pbr_core::settle::engine::{DecisionResult, TermsSource, entitlement};
use pbr_core::settle::{Cap, Entitlement, LineKey, Statement, settle};
use pbr_core::state::{FlowKind, Signer, State};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

pub(crate) const CONTRACT: &str = "prop";
const CURRENCY: Currency = Currency::GBP;

// ---------------------------------------------------------------------------------------
// Keys and parties.

/// A fixed public key per party: admission compares these bytes with the key the terms give.
fn public_key(party: &str) -> [u8; 32] {
    *blake3::hash(format!("pbr-core settle test key {party}").as_bytes()).as_bytes()
}

/// The party's verifier key text, `<name>+<key id>+<base64(0x01 ‖ key)>`, as `ids.rs` parses.
pub(crate) fn verifier_key(party: &str) -> String {
    let key = public_key(party);
    let mut bytes = vec![1u8];
    bytes.extend_from_slice(&key);
    format!(
        "{party}+{}+{}",
        pbr_core::ids::hex(&key[..4]),
        base64(&bytes)
    )
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn participant_ref(i: usize) -> ParticipantRef {
    ParticipantRef(*blake3::hash(format!("participant {i}").as_bytes()).as_bytes())
}

fn commissioner(i: usize) -> String {
    format!("c{}", i + 1)
}

fn money(minor: i64) -> Money {
    Money::from_minor(minor, CURRENCY)
}

/// A non-negative amount as the terms write it.
fn amount(minor: i64) -> String {
    format!("\"{}.{:02}\"", minor / 100, minor % 100)
}

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub(crate) fn start() -> NaiveDate {
    date(2024, 1, 1)
}

pub(crate) fn quarter(k: u32) -> Period {
    Period::containing(Calendar::Quarter, start()).plus(k)
}

fn plus_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap()
}

fn minus_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap()
}

/// `back` days before `d` (after it when negative), no later than `end`.
fn shift(d: NaiveDate, back: i64, end: NaiveDate) -> NaiveDate {
    if back >= 0 {
        minus_days(d, back.unsigned_abs())
    } else {
        plus_days(d, back.unsigned_abs()).min(end)
    }
}

// ---------------------------------------------------------------------------------------
// The log: admission, application, issue.

/// An issued statement as the issuer saw it.
struct IssuedRecord {
    seq: u64,
    period: Period,
    statement: Statement,
    entitlement: Entitlement,
}

/// Events folded into a state the way the ledger does: admitted, then applied.
#[derive(Default)]
pub(crate) struct Log {
    state: State,
    events: Vec<Event>,
    issued: Vec<IssuedRecord>,
    /// How many statements went on from the previous one's carry.
    resumed: usize,
}

impl Log {
    fn seq(&self) -> u64 {
        self.events.len() as u64
    }

    /// Admits and applies `event`, signed with its author's key; panics if it is refused.
    pub(crate) fn append(&mut self, event: Event) -> u64 {
        let seq = self.seq();
        let key = public_key(&event.author);
        if let Err(e) = self.state.admit(seq, &event, Signer { public_key: &key }) {
            panic!(
                "seq {seq}: {} by {} refused: {e}",
                event.kind(),
                event.author
            );
        }
        self.state
            .apply(seq, &event)
            .unwrap_or_else(|e| panic!("seq {seq}: {} failed to apply: {e}", event.kind()));
        self.events.push(event);
        seq
    }

    pub(crate) fn event(
        &self,
        author: &str,
        business_date: NaiveDate,
        participant: Option<ParticipantRef>,
        payload: Payload,
    ) -> Event {
        let n = self.seq();
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&n.to_le_bytes());
        Event {
            contract: CONTRACT.into(),
            participant,
            business_date,
            payload,
            author: author.into(),
            recorded_at_micros: 1_700_000_000_000_000 + n as i64,
            id: EventId(id),
        }
    }

    pub(crate) fn register(&mut self, terms: &str) {
        let event = self.event(
            "c1",
            start(),
            None,
            Payload::ContractRegistered(pbr_core::event::ContractRegistered {
                terms: terms.to_owned(),
                terms_hash: *blake3::hash(terms.as_bytes()).as_bytes(),
            }),
        );
        self.append(event);
    }

    pub(crate) fn enrol(&mut self, i: usize, day: NaiveDate, age: u8, home: &str) {
        let event = self.event(
            home,
            day,
            Some(participant_ref(i)),
            Payload::ParticipantEnrolled(ParticipantEnrolled {
                attributes: Attributes {
                    age_at_entry: Some(age),
                    home_party: Some(home.to_owned()),
                    ..Attributes::default()
                },
            }),
        );
        self.append(event);
    }

    pub(crate) fn claim(
        &mut self,
        participant: usize,
        outcome: &str,
        on: NaiveDate,
        achieved: NaiveDate,
    ) -> u64 {
        let event = self.event(
            "prov",
            on,
            Some(participant_ref(participant)),
            Payload::OutcomeClaimed(OutcomeClaimed {
                outcome: outcome.to_owned(),
                company: None,
                achieved: pbr_core::date::to_days(achieved),
                activity_start: None,
                evidence: None,
            }),
        );
        self.append(event)
    }

    /// Records the decision the rules give on `on`, as the outcome's verifier; returns it.
    pub(crate) fn decide(
        &mut self,
        claim_seq: u64,
        on: NaiveDate,
        evidence_valid: bool,
    ) -> Result<(), RejectReason> {
        let verdict = self
            .state
            .decide(CONTRACT, claim_seq, on, evidence_valid)
            .unwrap_or_else(|e| panic!("decide claim {claim_seq}: {e}"));
        let verifier = self.decider(claim_seq, on);
        let payload = match verdict {
            Ok(()) => Payload::OutcomeVerified(OutcomeVerified { claim_seq }),
            Err(reason) => Payload::OutcomeRejected(OutcomeRejected { claim_seq, reason }),
        };
        let event = self.event(&verifier, on, None, payload);
        self.append(event);
        verdict
    }

    /// Who decides (and claws back) a claim: the evaluator the terms delegate to, or the
    /// first party that pays it.
    fn decider(&self, claim_seq: u64, on: NaiveDate) -> String {
        let contract = &self.state.contracts[CONTRACT];
        let claim = &contract.claims[&claim_seq];
        let terms = self.state.terms(CONTRACT, on).unwrap();
        let outcome = terms
            .outcomes
            .iter()
            .find(|o| o.code == claim.outcome)
            .unwrap();
        match outcome.verified_by {
            Role::Evaluator => "eval".to_owned(),
            _ => pbr_core::state::paying_parties(contract, outcome, &claim.subject)
                .into_iter()
                .min()
                .unwrap_or_else(|| "c1".to_owned()),
        }
    }

    fn claw_back(&mut self, claim_seq: u64, on: NaiveDate) -> u64 {
        let author = self.decider(claim_seq, on);
        let event = self.event(
            &author,
            on,
            None,
            Payload::OutcomeClawedBack(OutcomeClawedBack {
                claim_seq,
                reason: ClawbackReason::AuditFinding,
            }),
        );
        self.append(event)
    }

    fn correct(&mut self, retracts_seq: u64, on: NaiveDate) -> u64 {
        let event = self.event(
            "c1",
            on,
            None,
            Payload::Correction(Correction {
                retracts_seq,
                reason: CorrectionReason::DataEntry,
            }),
        );
        self.append(event)
    }

    /// Computes the statement of `period` now, records it, and keeps what it settled.
    ///
    /// The statement is computed both ways: as the ledger does, going on from the previous
    /// statement's carry when the state still keeps one, and from the contract's first
    /// period; they must be byte-identical. The entitlement kept is the one from the first
    /// period, which the properties check as a whole.
    fn issue(&mut self, period: Period) -> u64 {
        let seq = self.seq();
        let (statement, _) = settle(&self.state, CONTRACT, period, seq)
            .unwrap_or_else(|e| panic!("settle {period} at {seq}: {e}"));
        let mut from_start = self.state.clone();
        let carry = from_start
            .contracts
            .get_mut(CONTRACT)
            .and_then(|c| c.resume.take());
        let (full, entitlement) = settle(&from_start, CONTRACT, period, seq)
            .unwrap_or_else(|e| panic!("settle {period} at {seq} from the start: {e}"));
        assert_eq!(
            statement.canonical_bytes().unwrap(),
            full.canonical_bytes().unwrap(),
            "the statement of {period} at seq {seq} going on from {:?} differs from the one \
             computed from the first period",
            carry.map(|c| c.through),
        );
        self.resumed += usize::from(carry.is_some());
        let event = self.event(
            "c1",
            period.last_day(),
            None,
            Payload::SettlementIssued(SettlementIssued {
                period: period.to_string(),
                statement_hash: statement.hash,
                log_position: seq,
            }),
        );
        self.append(event);
        self.issued.push(IssuedRecord {
            seq,
            period,
            statement,
            entitlement,
        });
        seq
    }

    /// The statement of `period` now, without issuing it.
    pub(crate) fn statement(&self, period: Period) -> Statement {
        settle(&self.state, CONTRACT, period, self.seq()).unwrap().0
    }
}

// ---------------------------------------------------------------------------------------
// Random contracts.

#[derive(Clone, Debug)]
enum Payment {
    /// One commissioner.
    Single(usize),
    /// `count` commissioners, listed starting at `rotate` (so not always in id order).
    Split { count: usize, rotate: usize },
    /// The participant's home party.
    HomeParty,
}

#[derive(Clone, Debug)]
struct OutcomeSpec {
    price_minor: i64,
    payment: Payment,
    /// An earlier outcome required (index, reduced modulo the outcome's own index).
    requires: Option<usize>,
    excludes: Option<usize>,
    max_claims: u32,
    verified_by_evaluator: bool,
    /// `achieved-by` at the end of this quarter, and a claim deadline 45 days later.
    window: Option<(u32, bool)>,
    min_age: Option<u32>,
    /// Paid at `numerator/denominator` of another outcome's price.
    partial: Option<(usize, u32, u32)>,
}

#[derive(Clone, Debug)]
struct CapsSpec {
    per_participant: Option<i64>,
    per_period: Option<i64>,
    contract: Option<i64>,
}

#[derive(Clone, Debug)]
struct SustainmentSpec {
    run_months: u32,
    window_months: u32,
    full_minor: i64,
    partial_minor: Option<i64>,
}

#[derive(Clone, Debug)]
struct WaterfallSpec {
    fill_limit: i64,
    share_percent: Option<u32>,
    cap_total: Option<i64>,
}

#[derive(Clone, Debug)]
struct FacilitySpec {
    limit: i64,
    limit_on_outstanding: bool,
    fee_tenths_percent: Option<u32>,
    guarantee: Option<i64>,
    /// The guarantor lends too (scenario C's DSK): `guar` is lender and guarantor.
    guarantor_lends: bool,
}

impl FacilitySpec {
    fn lender(&self) -> &'static str {
        if self.guarantor_lends { "guar" } else { "inv" }
    }
}

#[derive(Clone, Debug)]
struct ContractSpec {
    quarters: u32,
    commissioners: usize,
    outcomes: Vec<OutcomeSpec>,
    caps: Option<CapsSpec>,
    split_last: bool,
    invoice_negative_net: bool,
    order: usize,
    /// An enrolment window: (first day offset, length in days).
    enrolment: Option<(u64, u64)>,
    sustainment: Option<SustainmentSpec>,
    waterfall: Option<WaterfallSpec>,
    facility: Option<FacilitySpec>,
    co_financing: Option<(u32, u32)>,
    success_bonus: Option<(i64, u32)>,
}

impl ContractSpec {
    fn code(&self, i: usize) -> String {
        format!("O{}", i % self.outcomes.len() + 1)
    }

    /// Outcome `i` as a partial outcome: (parent index, numerator, denominator). The terms
    /// refuse an outcome that is partial of itself or of another partial outcome, so such a
    /// spec prices the outcome itself.
    fn partial(&self, i: usize) -> Option<(usize, u32, u32)> {
        let n = self.outcomes.len();
        let (parent, num, den) = self.outcomes[i].partial?;
        let parent = parent % n;
        (parent != i && self.outcomes[parent].partial.is_none()).then_some((
            parent,
            num.min(den - 1),
            den,
        ))
    }

    fn toml(&self) -> String {
        use std::fmt::Write as _;
        let mut t = String::new();
        let end = quarter(self.quarters - 1).last_day();
        let order = [
            None,
            Some("[\"decision-date\", \"subject\", \"outcome\"]"),
            Some("[\"seq\"]"),
            Some("[\"outcome\", \"decision-date\"]"),
            Some("[\"subject\"]"),
        ][self.order % 5];
        writeln!(
            t,
            "[contract]\nid = \"{CONTRACT}\"\nname = \"Property contract\""
        )
        .unwrap();
        writeln!(
            t,
            "currency = \"GBP\"\nrounding = \"floor\"\nsettlement = \"quarter\""
        )
        .unwrap();
        writeln!(t, "start = {}\nend = {end}", start()).unwrap();
        let split = if self.split_last {
            "last-party"
        } else {
            "first-party"
        };
        writeln!(t, "split-remainder = \"{split}\"").unwrap();
        let net = if self.invoice_negative_net {
            "invoice"
        } else {
            "carry-forward"
        };
        writeln!(t, "negative-net = \"{net}\"").unwrap();
        writeln!(t, "issuers = [\"c1\"]").unwrap();
        if let Some(order) = order {
            writeln!(t, "processing-order = {order}").unwrap();
        }
        let mut parties: Vec<(String, &str)> = (0..self.commissioners)
            .map(|i| (commissioner(i), "commissioner"))
            .collect();
        parties.extend([
            ("prov".to_owned(), "provider"),
            ("inv".to_owned(), "investor"),
            ("eval".to_owned(), "evaluator"),
            ("esf".to_owned(), "funder"),
            ("guar".to_owned(), "guarantor"),
        ]);
        for (id, role) in &parties {
            writeln!(
                t,
                "\n[[parties]]\nid = \"{id}\"\nrole = \"{role}\"\nname = \"Party {id}\"\nkey = \"{}\"",
                verifier_key(id)
            )
            .unwrap();
        }
        if let Some((from, days)) = self.enrolment {
            let from = plus_days(start(), from);
            writeln!(
                t,
                "\n[enrolment]\nfrom = {from}\nto = {}",
                plus_days(from, days)
            )
            .unwrap();
        }
        if let Some(caps) = &self.caps {
            writeln!(t, "\n[caps]").unwrap();
            for (name, cap) in [
                ("per-participant", caps.per_participant),
                ("per-period", caps.per_period),
                ("contract", caps.contract),
            ] {
                if let Some(cap) = cap {
                    writeln!(t, "{name} = {}", amount(cap)).unwrap();
                }
            }
        }
        let n = self.outcomes.len();
        for (i, o) in self.outcomes.iter().enumerate() {
            writeln!(
                t,
                "\n[[outcomes]]\ncode = \"{}\"\nname = \"Outcome {i}\"",
                self.code(i)
            )
            .unwrap();
            match self.partial(i) {
                Some((parent, num, den)) => writeln!(
                    t,
                    "partial-of = \"{}\"\nfraction = \"{num}/{den}\"",
                    self.code(parent)
                )
                .unwrap(),
                None => writeln!(t, "price = {}", amount(o.price_minor)).unwrap(),
            }
            writeln!(t, "payee = \"prov\"").unwrap();
            match &o.payment {
                Payment::Split { count, rotate } if self.commissioners >= 2 => {
                    let count = (*count).min(self.commissioners);
                    let payers: Vec<String> = (0..count)
                        .map(|k| format!("\"{}\"", commissioner((rotate + k) % self.commissioners)))
                        .collect();
                    writeln!(t, "payers = [{}]", payers.join(", ")).unwrap();
                }
                Payment::HomeParty => writeln!(t, "payer = \"home-party\"").unwrap(),
                Payment::Single(c) => {
                    writeln!(t, "payer = \"{}\"", commissioner(c % self.commissioners)).unwrap()
                }
                Payment::Split { .. } => writeln!(t, "payer = \"c1\"").unwrap(),
            }
            if o.max_claims > 1 {
                writeln!(t, "max-claims = {}", o.max_claims).unwrap();
            }
            if o.verified_by_evaluator {
                writeln!(t, "verified-by = \"evaluator\"\nverifiers = [\"eval\"]").unwrap();
            }
            if let Some(r) = o.requires.filter(|_| i > 0) {
                writeln!(t, "requires = [\"{}\"]", self.code(r % i)).unwrap();
            }
            if let Some(x) = o.excludes.filter(|x| x % n != i) {
                writeln!(t, "excludes = [\"{}\"]", self.code(x)).unwrap();
            }
            if let Some((q, deadline)) = o.window {
                let by = quarter(q % self.quarters).last_day();
                writeln!(t, "achieved-by = {by}").unwrap();
                if deadline {
                    writeln!(t, "claim-deadline = {}", plus_days(by, 45)).unwrap();
                }
            }
            if let Some(min) = o.min_age {
                writeln!(
                    t,
                    "eligibility = [{{ attribute = \"age-at-entry\", min = {min} }}]"
                )
                .unwrap();
            }
        }
        if let Some(s) = &self.sustainment {
            writeln!(
                t,
                "\n[sustainment]\nrun-months = {}\nwindow-months = {}\nfull-price = {}\npayer = \"c1\"\npayee = \"prov\"",
                s.run_months,
                s.window_months,
                amount(s.full_minor)
            )
            .unwrap();
            if let Some(partial) = s.partial_minor {
                writeln!(t, "partial-price = {}", amount(partial)).unwrap();
            }
        }
        if let Some(w) = &self.waterfall {
            writeln!(
                t,
                "\n[waterfall]\nsource = \"outcome-payments\"\nparty = \"prov\"\ntiers = ["
            )
            .unwrap();
            writeln!(
                t,
                "  {{ label = \"principal\", to = \"inv\", rule = \"fill\", limit = {} }},",
                amount(w.fill_limit)
            )
            .unwrap();
            if let Some(share) = w.share_percent {
                let cap = w
                    .cap_total
                    .map(|c| format!(", cap-total = {}", amount(c)))
                    .unwrap_or_default();
                writeln!(
                    t,
                    "  {{ label = \"gain share\", to = \"inv\", rule = \"share\", share = \"{share}%\"{cap} }},"
                )
                .unwrap();
            }
            writeln!(
                t,
                "  {{ label = \"provider\", to = \"prov\", rule = \"remainder\" }},\n]"
            )
            .unwrap();
        }
        if let Some(f) = &self.facility {
            let on = if f.limit_on_outstanding {
                "outstanding"
            } else {
                "total-drawn"
            };
            writeln!(
                t,
                "\n[facility]\nlender = \"{}\"\nborrower = \"prov\"\nlimit = {}\nlimit-on = \"{on}\"",
                f.lender(),
                amount(f.limit)
            )
            .unwrap();
            if let Some(fee) = f.fee_tenths_percent {
                writeln!(t, "fee = \"{}.{}%\"", fee / 10, fee % 10).unwrap();
            }
            if let Some(maximum) = f.guarantee {
                writeln!(
                    t,
                    "\n[guarantee]\nguarantor = \"guar\"\nbeneficiary = \"prov\"\nmaximum = {}",
                    amount(maximum)
                )
                .unwrap();
            }
        }
        if let Some((share, lag)) = self.co_financing {
            let reimburses: Vec<String> = (0..self.commissioners)
                .map(|i| format!("\"{}\"", commissioner(i)))
                .collect();
            writeln!(
                t,
                "\n[[co-financing]]\nfunder = \"esf\"\nshare = \"{share}%\"\nreimburses = [{}]\nlag = {lag}",
                reimburses.join(", ")
            )
            .unwrap();
        }
        if let Some((bonus, threshold)) = self.success_bonus {
            writeln!(
                t,
                "\n[success-bonus]\namount = {}\nthreshold = \"{threshold}%\"\npayer = \"c1\"\npayee = \"prov\"",
                amount(bonus)
            )
            .unwrap();
        }
        t
    }
}

/// What a correction retracts.
#[derive(Clone, Copy, Debug)]
enum Target {
    Decision,
    Claim,
    ClawBack,
    Month,
    Flow,
}

#[derive(Clone, Debug)]
enum Op {
    Claim {
        participant: usize,
        outcome: usize,
        achieved_back: u64,
    },
    /// Decides an undecided claim, dated `back_days` before today: possibly in an
    /// already-settled quarter (a late decision) or, when negative, after today (a decision
    /// recorded before the period it settles in).
    Decide {
        pick: usize,
        evidence_valid: bool,
        back_days: i64,
    },
    ClawBack {
        pick: usize,
        back_days: i64,
    },
    Correct {
        pick: usize,
        target: Target,
    },
    /// Statuses of `months` consecutive months, the first `back_months` before today's.
    Month {
        participant: usize,
        back_months: i32,
        months: i32,
        status: SelfSufficiency,
    },
    Cost {
        minor: i64,
    },
    Disburse {
        minor: i64,
    },
}

#[derive(Clone, Debug)]
struct Timed {
    quarter: u32,
    day: u64,
    op: Op,
}

#[derive(Clone, Debug)]
struct RunSpec {
    contract: ContractSpec,
    /// Per participant: the enrolment day after the start, and the age at entry.
    participants: Vec<(u64, u8)>,
    ops: Vec<Timed>,
    /// Quarters whose statement is not issued (the last one always is).
    skip_issue: Vec<bool>,
}

fn payment() -> impl Strategy<Value = Payment> {
    prop_oneof![
        3 => (0usize..3).prop_map(Payment::Single),
        2 => (2usize..=3, 0usize..3).prop_map(|(count, rotate)| Payment::Split { count, rotate }),
        1 => Just(Payment::HomeParty),
    ]
}

prop_compose! {
    fn outcome_spec()(
        price_minor in prop_oneof![1i64..=1_000, 1_000i64..=300_000],
        payment in payment(),
        requires in proptest::option::weighted(0.3, 0usize..5),
        excludes in proptest::option::weighted(0.15, 0usize..5),
        max_claims in prop_oneof![3 => Just(1u32), 1 => Just(2u32)],
        verified_by_evaluator in proptest::bool::weighted(0.25),
        window in proptest::option::weighted(0.2, (0u32..8, any::<bool>())),
        min_age in proptest::option::weighted(0.2, 16u32..22),
        partial in proptest::option::weighted(0.1, (0usize..5, 1u32..=3, 2u32..=5)),
    ) -> OutcomeSpec {
        OutcomeSpec {
            price_minor, payment, requires, excludes, max_claims, verified_by_evaluator, window,
            min_age, partial,
        }
    }
}

fn caps_spec() -> impl Strategy<Value = CapsSpec> {
    (
        proptest::option::weighted(0.6, prop_oneof![0i64..=50_000, 0i64..=600_000]),
        proptest::option::weighted(0.4, prop_oneof![0i64..=100_000, 0i64..=1_500_000]),
        proptest::option::weighted(0.4, prop_oneof![0i64..=200_000, 0i64..=3_000_000]),
    )
        .prop_map(|(per_participant, per_period, contract)| CapsSpec {
            per_participant,
            per_period,
            contract,
        })
}

fn facility_spec() -> impl Strategy<Value = FacilitySpec> {
    (
        0i64..=800_000,
        any::<bool>(),
        proptest::option::of(1u32..=50),
        proptest::option::of(0i64..=500_000),
        any::<bool>(),
    )
        .prop_map(
            |(limit, limit_on_outstanding, fee_tenths_percent, guarantee, guarantor_lends)| {
                FacilitySpec {
                    limit,
                    limit_on_outstanding,
                    fee_tenths_percent,
                    guarantee,
                    guarantor_lends,
                }
            },
        )
}

prop_compose! {
    fn contract_spec()(
        quarters in 3u32..=8,
        commissioners in 1usize..=3,
        outcomes in proptest::collection::vec(outcome_spec(), 2..=5),
        caps in proptest::option::weighted(0.7, caps_spec()),
        split_last in proptest::bool::weighted(0.2),
        invoice_negative_net in proptest::bool::weighted(0.3),
        order in 0usize..5,
        enrolment in proptest::option::weighted(0.3, (0u64..10, 10u64..60)),
        sustainment in proptest::option::weighted(0.3, (1u32..=3, 3u32..=12, 1i64..=100_000, proptest::option::of(1i64..=50_000))
            .prop_map(|(run_months, window_months, full_minor, partial_minor)| SustainmentSpec {
                run_months, window_months, full_minor, partial_minor,
            })),
        waterfall in proptest::option::weighted(0.3, (0i64..=500_000, proptest::option::of(1u32..=99), proptest::option::of(0i64..=300_000))
            .prop_map(|(fill_limit, share_percent, cap_total)| WaterfallSpec { fill_limit, share_percent, cap_total })),
        facility in proptest::option::weighted(0.3, facility_spec()),
        co_financing in proptest::option::weighted(0.3, (1u32..=100, 0u32..=2)),
        success_bonus in proptest::option::weighted(0.2, (0i64..=1_000_000, 1u32..=100)),
    ) -> ContractSpec {
        ContractSpec {
            quarters, commissioners, outcomes, caps, split_last, invoice_negative_net, order,
            enrolment, sustainment, waterfall, facility, co_financing, success_bonus,
        }
    }
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => Just(Target::Decision),
        2 => Just(Target::Claim),
        1 => Just(Target::ClawBack),
        1 => Just(Target::Month),
        1 => Just(Target::Flow),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let back = prop_oneof![8 => Just(0i64), 3 => 0i64..200, 1 => -90i64..0];
    prop_oneof![
        6 => (0usize..20, 0usize..5, 0u64..60).prop_map(|(participant, outcome, achieved_back)| {
            Op::Claim { participant, outcome, achieved_back }
        }),
        6 => (any::<usize>(), proptest::bool::weighted(0.8), back.clone())
            .prop_map(|(pick, evidence_valid, back_days)| Op::Decide { pick, evidence_valid, back_days }),
        1 => (any::<usize>(), back).prop_map(|(pick, back_days)| Op::ClawBack { pick, back_days }),
        1 => (any::<usize>(), target()).prop_map(|(pick, target)| Op::Correct { pick, target }),
        3 => (
            0usize..20,
            0i32..=4,
            1i32..=4,
            prop_oneof![1 => Just(SelfSufficiency::None), 2 => Just(SelfSufficiency::Partial), 3 => Just(SelfSufficiency::Full)],
        )
            .prop_map(|(participant, back_months, months, status)| Op::Month {
                participant,
                back_months,
                months,
                status,
            }),
        1 => (1i64..=200_000).prop_map(|minor| Op::Cost { minor }),
        1 => (1i64..=100_000).prop_map(|minor| Op::Disburse { minor }),
    ]
}

fn timed(quarters: u32) -> impl Strategy<Value = Timed> {
    (0..quarters, 0u64..91, op()).prop_map(|(quarter, day, op)| Timed { quarter, day, op })
}

fn run_spec_with(max_ops: usize) -> impl Strategy<Value = RunSpec> {
    contract_spec().prop_flat_map(move |contract| {
        let quarters = contract.quarters;
        (
            Just(contract),
            proptest::collection::vec((0u64..60, 14u8..30), 1..=20),
            proptest::collection::vec(timed(quarters), 0..=max_ops),
            proptest::collection::vec(proptest::bool::weighted(0.15), quarters as usize),
        )
            .prop_map(|(contract, participants, ops, skip_issue)| RunSpec {
                contract,
                participants,
                ops,
                skip_issue,
            })
    })
}

fn run_spec() -> impl Strategy<Value = RunSpec> {
    run_spec_with(120)
}

/// A run with at least one correction recorded right after an issued statement.
fn run_spec_with_corrections() -> impl Strategy<Value = RunSpec> {
    run_spec_with(100).prop_flat_map(|spec| {
        let quarters = spec.contract.quarters;
        (
            Just(spec),
            proptest::collection::vec((1..quarters, any::<usize>(), target()), 1..=3),
        )
            .prop_map(|(mut spec, corrections)| {
                for (quarter, pick, target) in corrections {
                    spec.ops.insert(
                        0,
                        Timed {
                            quarter,
                            day: 0,
                            op: Op::Correct { pick, target },
                        },
                    );
                }
                spec
            })
    })
}

// ---------------------------------------------------------------------------------------
// Playing a run.

fn business_date(event: &Event) -> NaiveDate {
    event.business_date
}

/// Plays `spec` through admission: registration, enrolments, then each quarter's
/// operations in date order followed by its statement.
fn play(spec: &RunSpec) -> Log {
    let c = &spec.contract;
    let mut log = Log::default();
    log.register(&c.toml());
    for (i, &(day, age)) in spec.participants.iter().enumerate() {
        let home = commissioner(i % c.commissioners);
        log.enrol(i, plus_days(start(), day), age, &home);
    }
    let mut ops: Vec<&Timed> = spec.ops.iter().collect();
    ops.sort_by_key(|t| (t.quarter, t.day));
    for q in 0..c.quarters {
        let period = quarter(q);
        for t in ops.iter().filter(|t| t.quarter == q) {
            let today = plus_days(period.first_day(), t.day).min(period.last_day());
            play_op(&mut log, spec, &t.op, today);
        }
        if q + 1 == c.quarters || !spec.skip_issue[q as usize] {
            log.issue(period);
        }
    }
    log
}

fn play_op(log: &mut Log, spec: &RunSpec, op: &Op, today: NaiveDate) {
    let n = spec.participants.len();
    let end = quarter(spec.contract.quarters - 1).last_day();
    let contract = &log.state.contracts[CONTRACT];
    let live = |seq: &u64| !log.state.retracted.contains(seq);
    match *op {
        Op::Claim {
            participant,
            outcome,
            achieved_back,
        } => {
            let p = participant % n;
            let enrolled = plus_days(start(), spec.participants[p].0);
            let on = today.max(enrolled);
            let achieved = minus_days(on, achieved_back).max(enrolled);
            let code = spec.contract.code(outcome);
            log.claim(p, &code, on, achieved);
        }
        Op::Decide {
            pick,
            evidence_valid,
            back_days,
        } => {
            let open: Vec<u64> = contract
                .claims
                .iter()
                .filter(|(seq, c)| live(seq) && c.decision.is_none() && c.clawed_back.is_none())
                .map(|(seq, _)| *seq)
                .collect();
            if open.is_empty() {
                return;
            }
            let claim_seq = open[pick % open.len()];
            let claimed = business_date(&log.events[claim_seq as usize]);
            let on = shift(today, back_days, end).max(claimed);
            log.decide(claim_seq, on, evidence_valid).ok();
        }
        Op::ClawBack { pick, back_days } => {
            let accepted: Vec<(u64, NaiveDate)> = contract
                .claims
                .iter()
                .filter(|(seq, c)| live(seq) && c.clawed_back.is_none())
                .filter_map(|(seq, c)| match c.decision {
                    Some((_, date, Ok(()))) => Some((*seq, date)),
                    _ => None,
                })
                .collect();
            if accepted.is_empty() {
                return;
            }
            let (claim_seq, decided) = accepted[pick % accepted.len()];
            // Never before the decision: admission accepts such a claw-back, but the engine
            // processes it first and it recovers nothing, so the claim stays paid.
            let on = shift(today, back_days, end).max(decided);
            log.claw_back(claim_seq, on);
        }
        Op::Correct { pick, target } => {
            let candidates: Vec<u64> = match target {
                // Not a clawed-back claim's decision: the claw-back would outlive it.
                Target::Decision => contract
                    .claims
                    .iter()
                    .filter(|(seq, c)| live(seq) && c.clawed_back.is_none())
                    .filter_map(|(_, c)| c.decision.map(|(seq, _, _)| seq))
                    .collect(),
                Target::Claim => contract
                    .claims
                    .keys()
                    .copied()
                    .filter(|s| live(s))
                    .collect(),
                Target::ClawBack => contract
                    .claims
                    .iter()
                    .filter(|(seq, _)| live(seq))
                    .filter_map(|(_, c)| c.clawed_back.map(|(seq, _)| seq))
                    .collect(),
                Target::Month => contract
                    .months
                    .values()
                    .flat_map(|m| m.range(i32::MIN..=i32::MAX).map(|(_, seq, _)| seq))
                    .collect(),
                Target::Flow => contract
                    .flows
                    .loaded()
                    .expect("a folded state holds every flow")
                    .seqs()
                    .collect(),
            };
            if candidates.is_empty() {
                return;
            }
            let retracts = candidates[pick % candidates.len()];
            log.correct(retracts, today);
        }
        Op::Month {
            participant,
            back_months,
            months,
            status,
        } => {
            let p = participant % n;
            let current = Month::of(today).index();
            let first = (current - back_months).max(Month::of(start()).index());
            let recorded: Vec<i32> = contract
                .months
                .get(&participant_ref(p))
                .map(|m| {
                    m.range(i32::MIN..=i32::MAX)
                        .map(|(month, _, _)| month)
                        .collect()
                })
                .unwrap_or_default();
            for month in first..(first + months).min(current + 1) {
                if recorded.contains(&month) {
                    continue;
                }
                // Register data about a citizen comes from its home municipality.
                let home = commissioner(p % spec.contract.commissioners);
                let event = log.event(
                    &home,
                    today,
                    Some(participant_ref(p)),
                    Payload::MonthlyStatusRecorded(MonthlyStatusRecorded { month, status }),
                );
                log.append(event);
            }
        }
        Op::Cost { minor } => {
            let event = log.event(
                "prov",
                today,
                None,
                Payload::CostRecorded(CostRecorded {
                    party: "prov".into(),
                    amount: money(minor),
                }),
            );
            log.append(event);
        }
        Op::Disburse { minor } => {
            let event = log.event(
                "inv",
                today,
                None,
                Payload::FundsDisbursed(FundsDisbursed {
                    from: "inv".into(),
                    to: "prov".into(),
                    amount: money(minor),
                    purpose: Purpose::WorkingCapital,
                }),
            );
            log.append(event);
        }
    }
}

/// Folds `events` into a fresh state with `apply` alone, as a replay or a snapshot restore
/// does, calling `before` with the state before each event.
fn fold(events: &[Event], mut before: impl FnMut(&State, u64, &Event)) -> State {
    let mut state = State::default();
    for (seq, event) in events.iter().enumerate() {
        before(&state, seq as u64, event);
        state.apply(seq as u64, event).unwrap();
    }
    state
}

fn snapshot(state: &State) -> Vec<u8> {
    bincode::serde::encode_to_vec(state, bincode::config::legacy()).unwrap()
}

fn restore(bytes: &[u8]) -> State {
    let (state, read): (State, usize) =
        bincode::serde::decode_from_slice(bytes, bincode::config::legacy()).unwrap();
    assert_eq!(read, bytes.len());
    state
}

/// Cases per property: the whole module runs in about two seconds in a debug build.
const CASES: u32 = 128;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// Checks.

/// Property 1: the postings of a statement sum to zero, and every line that moves money
/// has exactly two postings, `from` debited and `to` credited with the line's amount.
pub(crate) fn check_double_entry(statement: &Statement) -> Result<(), TestCaseError> {
    let sum: i64 = statement.postings.iter().map(|p| p.amount.minor).sum();
    prop_assert_eq!(sum, 0, "postings of {} sum to {}", statement.period, sum);
    for line in &statement.lines {
        let postings: Vec<_> = statement
            .postings
            .iter()
            .filter(|p| p.line == line.n)
            .collect();
        if line.is_memo() {
            prop_assert!(postings.is_empty(), "memo line {} has postings", line.n);
            continue;
        }
        prop_assert_eq!(postings.len(), 2, "line {} ({})", line.n, &line.key.rule);
        let (debit, credit) = (postings[0], postings[1]);
        prop_assert_eq!(&debit.party, &line.key.from);
        prop_assert_eq!(&credit.party, &line.key.to);
        prop_assert_eq!(debit.amount.minor, -line.amount.minor);
        prop_assert_eq!(credit.amount.minor, line.amount.minor);
        prop_assert_eq!(&debit.account, &credit.account);
    }
    let lines = statement.lines.len() as u32;
    prop_assert!(
        statement
            .postings
            .iter()
            .all(|p| (1..=lines).contains(&p.line))
    );
    // Totals: what the postings make each party pay and receive.
    let mut net: BTreeMap<&str, i64> = BTreeMap::new();
    for p in &statement.postings {
        *net.entry(p.party.as_str()).or_default() += p.amount.minor;
    }
    for total in &statement.totals {
        prop_assert_eq!(
            total.receives.minor - total.pays.minor,
            net.get(total.party.as_str()).copied().unwrap_or(0),
            "totals of {}",
            &total.party
        );
    }
    Ok(())
}

/// Net outcome payments (outcome, claw-back and sustainment lines) of an entitlement: per
/// subject, per accrual period and in total.
struct Nets {
    subject: BTreeMap<String, i64>,
    period: BTreeMap<Period, i64>,
    total: i64,
}

fn nets(entitlement: &Entitlement) -> Nets {
    let mut nets = Nets {
        subject: BTreeMap::new(),
        period: BTreeMap::new(),
        total: 0,
    };
    for entry in &entitlement.entries {
        let rule = entry.key.rule.as_str();
        let family = ["outcome:", "clawback:", "sustainment:"];
        if !family.iter().any(|f| rule.starts_with(f)) {
            continue;
        }
        let minor = entry.amount.minor;
        if let Some(subject) = &entry.key.subject {
            *nets.subject.entry(subject.clone()).or_default() += minor;
        }
        *nets.period.entry(entry.key.accrual).or_default() += minor;
        nets.total += minor;
    }
    nets
}

/// Property 3: caps hold on net amounts, and a decision names a cap exactly when it was
/// paid less than its price.
fn check_caps(spec: &ContractSpec, entitlement: &Entitlement) -> Result<(), TestCaseError> {
    for d in &entitlement.decisions {
        if d.result == DecisionResult::Accepted {
            prop_assert!(d.amount.minor >= 0 && d.amount <= d.price, "{d:?}");
            prop_assert_eq!(d.cap.is_some(), d.amount < d.price, "{:?}", d);
        }
    }
    let Some(caps) = &spec.caps else {
        return Ok(());
    };
    check_cap_consumption(caps, entitlement)?;
    let nets = nets(entitlement);
    if let Some(cap) = caps.per_participant {
        for (subject, net) in &nets.subject {
            prop_assert!(*net <= cap, "{subject} nets {net} > participant cap {cap}");
        }
    }
    if let Some(cap) = caps.per_period {
        for (period, net) in &nets.period {
            prop_assert!(*net <= cap, "{period} nets {net} > period cap {cap}");
        }
    }
    if let Some(cap) = caps.contract {
        prop_assert!(
            nets.total <= cap,
            "contract nets {} > cap {cap}",
            nets.total
        );
    }
    Ok(())
}

/// Caps are consumed exactly, on net, in processing order: replaying the entitlement's
/// decisions and claw-backs period by period (each period's sustainment after its claims),
/// every accepted claim is paid `min(price, headroom)` of the participant, period and
/// contract caps, and names the first cap that bound. Catches under-payment, which "never
/// exceeded" cannot.
fn check_cap_consumption(caps: &CapsSpec, entitlement: &Entitlement) -> Result<(), TestCaseError> {
    let mut subject_paid: BTreeMap<&str, i64> = BTreeMap::new();
    let mut total_paid = 0i64;
    let mut decisions = entitlement.decisions.iter().peekable();
    let mut period = quarter(0);
    while period <= entitlement.through {
        let mut period_paid = 0i64;
        while let Some(d) = decisions.next_if(|d| d.period == period) {
            let paid = subject_paid.entry(d.subject.as_str()).or_default();
            match d.result {
                DecisionResult::Accepted => {
                    let limits = [
                        (Cap::Participant, caps.per_participant, *paid),
                        (Cap::Period, caps.per_period, period_paid),
                        (Cap::Contract, caps.contract, total_paid),
                    ];
                    let (mut amount, mut named) = (d.price.minor, None);
                    for (kind, cap, used) in limits {
                        if let Some(cap) = cap
                            && (cap - used).max(0) < amount
                        {
                            amount = (cap - used).max(0);
                            named = Some(kind);
                        }
                    }
                    prop_assert_eq!(
                        (d.amount.minor, d.cap),
                        (amount, named),
                        "claim {} in {}: price {}",
                        d.claim_seq,
                        period,
                        d.price
                    );
                }
                DecisionResult::ClawedBack => {}
                DecisionResult::Rejected(_) => continue,
            }
            *paid += d.amount.minor;
            period_paid += d.amount.minor;
            total_paid += d.amount.minor;
        }
        for entry in &entitlement.entries {
            if entry.key.accrual == period && entry.key.rule.starts_with("sustainment:") {
                let subject = entry.key.subject.as_deref().unwrap_or_default();
                // After the period's claims: the period cap has nothing left to limit.
                *subject_paid.entry(subject).or_default() += entry.amount.minor;
                total_paid += entry.amount.minor;
            }
        }
        period = period.next();
    }
    prop_assert!(decisions.next().is_none(), "decisions out of period order");
    Ok(())
}

/// A retracted event no longer counts: no amount of the entitlement through `through` is
/// produced by it, no decision refers to it, and a retracted claim is neither paid nor
/// decided.
fn check_retractions(state: &State, through: Period) -> Result<(), TestCaseError> {
    let retracted = &state.retracted;
    let contract = &state.contracts[CONTRACT];
    let source = TermsSource::Versions(CONTRACT, contract);
    let entitlement = entitlement(contract, retracted, &source, through).unwrap();
    for entry in &entitlement.entries {
        let by = entry.events.iter().find(|seq| retracted.contains(seq));
        prop_assert!(
            by.is_none(),
            "{} of {} comes from retracted seq {:?}",
            entry.key.rule,
            entry.key.accrual,
            by
        );
        prop_assert!(
            !entry.key.claim.is_some_and(|c| retracted.contains(&c)),
            "{:?}",
            entry.key
        );
    }
    for d in &entitlement.decisions {
        prop_assert!(
            !retracted.contains(&d.claim_seq),
            "retracted claim {} decided",
            d.claim_seq
        );
        prop_assert!(
            !retracted.contains(&d.event_seq),
            "retracted decision {} counts",
            d.event_seq
        );
    }
    Ok(())
}

/// The line amounts of statements summed per key, zero sums left out.
fn sum_lines<'a>(statements: impl IntoIterator<Item = &'a Statement>) -> BTreeMap<LineKey, i64> {
    let mut sums: BTreeMap<LineKey, i64> = BTreeMap::new();
    for statement in statements {
        for line in &statement.lines {
            *sums.entry(line.key.clone()).or_default() += line.amount.minor;
        }
    }
    sums.retain(|_, amount| *amount != 0);
    sums
}

/// Which lines must be adjustments: those of periods the previous statement settled.
fn check_adjustments(statement: &Statement) -> Result<(), TestCaseError> {
    let settled = statement.previous.as_ref().map(|p| p.period);
    for line in &statement.lines {
        prop_assert!(
            line.key.accrual <= statement.period,
            "line {} accrues later",
            line.n
        );
        let expected = settled.is_some_and(|q| line.key.accrual <= q);
        prop_assert_eq!(
            line.adjustment,
            expected,
            "{} line {} ({} of {}) after {:?}",
            statement.period,
            line.n,
            &line.key.rule,
            line.key.accrual,
            settled
        );
    }
    Ok(())
}

/// The entitlement through an earlier period is the later one cut at that period: computing
/// further never changes what an earlier period is owed, so an adjustment line comes from a
/// fact recorded after the statement it adjusts, never from settling on.
fn check_causal(state: &State, last: Period) -> Result<(), TestCaseError> {
    let contract = &state.contracts[CONTRACT];
    let source = TermsSource::Versions(CONTRACT, contract);
    let full = entitlement(contract, &state.retracted, &source, last).unwrap();
    let mut through = quarter(0);
    while through < last {
        let partial = entitlement(contract, &state.retracted, &source, through).unwrap();
        let cut: BTreeMap<&LineKey, i64> = full
            .entries
            .iter()
            .filter(|e| e.key.accrual <= through)
            .map(|e| (&e.key, e.amount.minor))
            .collect();
        let partial: BTreeMap<&LineKey, i64> = partial
            .entries
            .iter()
            .map(|e| (&e.key, e.amount.minor))
            .collect();
        prop_assert_eq!(partial, cut, "through {}", through);
        through = through.next();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(config(CASES))]

    /// Property 1, on every issued statement of a run.
    #[test]
    fn postings_sum_to_zero_and_pair_up(spec in run_spec()) {
        let log = play(&spec);
        prop_assert!(!log.issued.is_empty());
        for issued in &log.issued {
            check_double_entry(&issued.statement)?;
        }
    }

    /// Property 2: the statements issued quarter by quarter sum, per line key, to the one
    /// statement of the last quarter computed from the same facts with nothing issued.
    #[test]
    fn period_by_period_sums_to_the_union(spec in run_spec()) {
        let log = play(&spec);
        let last = log.issued.last().unwrap();
        let facts: Vec<Event> = log.events[..last.seq as usize].to_vec();
        let mut union_state = State::default();
        for (seq, event) in facts.iter().enumerate() {
            if !matches!(event.payload, Payload::SettlementIssued(_)) {
                union_state.apply(seq as u64, event).unwrap();
            }
        }
        let (union, _) = settle(&union_state, CONTRACT, last.period, last.seq).unwrap();
        prop_assert!(union.previous.is_none());
        prop_assert!(union.lines.iter().all(|l| !l.adjustment));
        let issued = sum_lines(log.issued.iter().map(|i| &i.statement));
        let union = sum_lines([&union]);
        for key in issued.keys().chain(union.keys()) {
            prop_assert_eq!(
                issued.get(key),
                union.get(key),
                "{} {} {:?} {}→{} claim {:?}",
                key.accrual, &key.rule, &key.subject, &key.from, &key.to, key.claim
            );
        }
    }

    /// Property 2 (continued): the entitlement through each earlier quarter is the final
    /// one cut at that quarter.
    #[test]
    fn earlier_periods_are_not_rewritten_by_settling_on(spec in run_spec()) {
        let log = play(&spec);
        check_causal(&log.state, log.issued.last().unwrap().period)?;
    }

    /// Property 3: caps on net amounts, at every issued statement.
    #[test]
    fn caps_hold_on_net(spec in run_spec()) {
        let log = play(&spec);
        for issued in &log.issued {
            check_caps(&spec.contract, &issued.entitlement)?;
        }
    }

    /// Property 4: the same prefix gives byte-identical statements, folded twice from
    /// nothing or restored from a bincode snapshot of the state.
    #[test]
    fn replays_and_snapshots_give_identical_statements(
        spec in run_spec(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let log = play(&spec);
        let issued: BTreeMap<u64, &IssuedRecord> = log.issued.iter().map(|i| (i.seq, i)).collect();
        // Two replays from nothing recompute every issued statement byte for byte.
        let mut replays = Vec::new();
        for _ in 0..2 {
            let mut failures = Vec::new();
            let state = fold(&log.events, |state, seq, _| {
                if let Some(i) = issued.get(&seq) {
                    let (again, _) = settle(state, CONTRACT, i.period, seq).unwrap();
                    if again.canonical_bytes().unwrap() != i.statement.canonical_bytes().unwrap()
                        || again.hash != i.statement.hash
                    {
                        failures.push(seq);
                    }
                }
            });
            prop_assert!(failures.is_empty(), "statements at {failures:?} differ on replay");
            replays.push(snapshot(&state));
        }
        prop_assert_eq!(&replays[0], &replays[1]);
        prop_assert_eq!(&replays[0], &snapshot(&log.state));
        for (i, recorded) in log.state.contracts[CONTRACT].issued.iter().enumerate() {
            let recomputed = recorded.recomputed.as_ref().unwrap();
            prop_assert_eq!(recomputed.hash, recorded.recorded_hash, "issued #{}", i);
        }
        // A snapshot at the cut, restored, settles the next period and folds the rest the same.
        let cut = cut.index(log.events.len() + 1);
        let mut original = fold(&log.events[..cut], |_, _, _| {});
        let mut restored = restore(&snapshot(&original));
        // The period after the last one issued in the prefix (none before registration).
        let next = original
            .contracts
            .get(CONTRACT)
            .map(|c| c.issued.last().map_or(quarter(0), |i| i.period.next()));
        if let Some(next) = next.filter(|p| *p <= quarter(spec.contract.quarters - 1)) {
            let a = settle(&original, CONTRACT, next, cut as u64).unwrap().0;
            let b = settle(&restored, CONTRACT, next, cut as u64).unwrap().0;
            prop_assert_eq!(a.canonical_bytes().unwrap(), b.canonical_bytes().unwrap());
            prop_assert_eq!(a.hash, b.hash);
        }
        for (seq, event) in log.events.iter().enumerate().skip(cut) {
            original.apply(seq as u64, event).unwrap();
            restored.apply(seq as u64, event).unwrap();
        }
        prop_assert_eq!(snapshot(&original), snapshot(&restored));
        prop_assert_eq!(snapshot(&restored), snapshot(&log.state));
    }

    /// Property 5: corrections recorded after a statement only add adjustment lines to the
    /// next one, and never change an issued statement recomputed at its own position.
    #[test]
    fn corrections_only_adjust(spec in run_spec_with_corrections()) {
        let log = play(&spec);
        for issued in &log.issued {
            check_adjustments(&issued.statement)?;
        }
        let mut recomputed = Vec::new();
        fold(&log.events, |state, seq, event| {
            if let Payload::SettlementIssued(p) = &event.payload {
                let period: Period = p.period.parse().unwrap();
                let again = settle(state, CONTRACT, period, seq).unwrap().0;
                recomputed.push((seq, again.hash == p.statement_hash));
            }
        });
        prop_assert!(recomputed.iter().all(|(_, same)| *same), "{recomputed:?}");
        prop_assert_eq!(recomputed.len(), log.issued.len());
        check_retractions(&log.state, log.issued.last().unwrap().period)?;
    }
}

/// Random runs of contracts with a liquidity facility (and often a guarantee, given by a
/// third party or by the lender itself), so that the final settlement meets loss cases as
/// often as repaid ones.
fn facility_run_spec() -> impl Strategy<Value = RunSpec> {
    (
        run_spec(),
        facility_spec(),
        proptest::option::of(0i64..=500_000),
    )
        .prop_map(|(mut spec, mut facility, guarantee)| {
            facility.guarantee = guarantee;
            spec.contract.facility = Some(facility);
            spec
        })
}

/// A party's `net` after every statement of `log` (`docs/settlement.md`, "Balances JSON").
fn net_of(log: &Log, party: &str) -> i64 {
    balances(&log.state.contracts[CONTRACT], CURRENCY, None)
        .unwrap()
        .iter()
        .find(|row| row.party == party)
        .map_or(0, |row| row.net.minor)
}

/// What the lines of every issued statement make `party` receive less pay, for `rule`.
fn settled_to(log: &Log, party: &str, rule: &str) -> i64 {
    log.issued
        .iter()
        .flat_map(|i| &i.statement.lines)
        .filter(|l| l.key.rule == rule && !l.is_memo())
        .map(|l| {
            let mut minor = 0;
            if l.key.to == party {
                minor += l.amount.minor;
            }
            if l.key.from == party {
                minor -= l.amount.minor;
            }
            minor
        })
        .sum()
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Property 6 (`docs/settlement.md`, "Which lines move money"): after the final
    /// settlement of a contract with a facility, the borrower's net is its final facility
    /// cash (plus a success bonus, which is paid outside the cash sequence); the lender's and
    /// the guarantor's nets together are the fee less what the borrower never repaid, so a
    /// loss is counted once; and every statement's postings sum to zero.
    #[test]
    fn a_facility_loss_is_counted_once(spec in facility_run_spec()) {
        prop_assume!(spec.contract.waterfall.is_none());
        let log = play(&spec);
        let facility = spec.contract.facility.as_ref().unwrap();
        let last = log.issued.last().unwrap();
        prop_assert!(last.statement.final_period);
        for issued in &log.issued {
            check_double_entry(&issued.statement)?;
        }
        let position = last.statement.facility.unwrap();
        let bonus = settled_to(&log, "prov", "success-bonus");
        prop_assert_eq!(net_of(&log, "prov"), position.cash.minor + bonus);
        let lender = facility.lender();
        let drawn = -settled_to(&log, lender, "facility:draw");
        let repaid = settled_to(&log, lender, "facility:repayment");
        let fee = settled_to(&log, lender, "facility:fee");
        let loss = drawn - repaid;
        // The lender may also have put money in directly (`Disburse` ops are from `inv`).
        let invested: i64 = log.state.contracts[CONTRACT]
            .flows
            .loaded()
            .unwrap()
            .iter()
            .filter(|(_, f)| f.kind == FlowKind::Disbursed && f.from == lender)
            .map(|(_, f)| f.amount.minor)
            .sum();
        let mut together = net_of(&log, lender) + invested;
        if facility.guarantee.is_some() && lender != "guar" {
            together += net_of(&log, "guar");
        }
        prop_assert_eq!(together, fee - loss, "drawn {} repaid {} fee {}", drawn, repaid, fee);
        // A written-off amount is what was outstanding, up to the guarantee, and moved
        // nothing: the statement's position is what stays outstanding after it.
        let written_off: i64 = last
            .statement
            .lines
            .iter()
            .filter(|l| l.key.rule == "facility:write-off")
            .map(|l| l.amount.minor)
            .sum();
        prop_assert_eq!(position.outstanding.minor, loss - written_off);
        if let Some(maximum) = facility.guarantee {
            prop_assert_eq!(written_off, loss.min(maximum));
        } else {
            prop_assert_eq!(written_off, 0);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Examples: rules of scenarios.md §5.0.

/// Terms with three commissioners, a provider and the given extra sections.
fn example_terms(contract: &str, outcomes: &str) -> String {
    let mut t = format!(
        "[contract]\nid = \"{CONTRACT}\"\nname = \"Example\"\ncurrency = \"GBP\"\n\
         rounding = \"floor\"\nsettlement = \"quarter\"\nstart = 2024-01-01\nend = 2024-12-31\n\
         issuers = [\"c1\"]\n{contract}\n"
    );
    for (id, role) in [
        ("c1", "commissioner"),
        ("c2", "commissioner"),
        ("c3", "commissioner"),
        ("prov", "provider"),
        ("eval", "evaluator"),
    ] {
        t.push_str(&format!(
            "\n[[parties]]\nid = \"{id}\"\nrole = \"{role}\"\nname = \"{id}\"\nkey = \"{}\"\n",
            verifier_key(id)
        ));
    }
    t.push_str(outcomes);
    t
}

fn example_log(terms: &str, participants: usize) -> Log {
    let mut log = Log::default();
    log.register(terms);
    for i in 0..participants {
        log.enrol(i, start(), 25, "c1");
    }
    log
}

/// The outcome lines of a statement by payer: (from, amount).
fn paid_by(statement: &Statement, claim: u64) -> Vec<(String, i64)> {
    statement
        .lines
        .iter()
        .filter(|l| l.key.claim == Some(claim) && l.key.rule.starts_with("outcome:"))
        .map(|l| (l.key.from.clone(), l.amount.minor))
        .collect()
}

/// §5.0.2: the leftover minor units of a split go to the first party in id order, whatever
/// the order the terms list the payers in (and to the last with `split-remainder =
/// "last-party"`).
#[test]
fn a_split_remainder_goes_to_the_first_party_in_id_order() {
    for (remainder, price, expected) in [
        (
            "first-party",
            "100.01",
            [("c1", 3335), ("c2", 3333), ("c3", 3333)],
        ),
        (
            "first-party",
            "100.00",
            [("c1", 3334), ("c2", 3333), ("c3", 3333)],
        ),
        (
            "last-party",
            "100.01",
            [("c1", 3333), ("c2", 3333), ("c3", 3335)],
        ),
    ] {
        let outcomes = format!(
            "\n[[outcomes]]\ncode = \"CM1\"\nname = \"Split\"\nprice = \"{price}\"\n\
             payers = [\"c3\", \"c1\", \"c2\"]\npayee = \"prov\"\n"
        );
        let terms = example_terms(&format!("split-remainder = \"{remainder}\""), &outcomes);
        let mut log = example_log(&terms, 1);
        let claim = log.claim(0, "CM1", date(2024, 2, 1), date(2024, 2, 1));
        assert_eq!(log.decide(claim, date(2024, 2, 10), true), Ok(()));
        let statement = log.statement(quarter(0));
        let expected: Vec<(String, i64)> =
            expected.iter().map(|(p, m)| (p.to_string(), *m)).collect();
        assert_eq!(paid_by(&statement, claim), expected, "{remainder} {price}");
        check_double_entry(&statement).unwrap();
        let postings: Vec<(String, i64)> = statement
            .postings
            .iter()
            .map(|p| (p.party.clone(), p.amount.minor))
            .collect();
        let mut debits: Vec<(String, i64)> =
            expected.iter().map(|(p, m)| (p.clone(), -m)).collect();
        debits.sort();
        let mut actual: Vec<(String, i64)> =
            postings.iter().filter(|(_, m)| *m < 0).cloned().collect();
        actual.sort();
        assert_eq!(actual, debits);
    }
}

const CAPPED_CARD: &str = "
[caps]
per-participant = \"1000.00\"

[[outcomes]]
code = \"O1\"
name = \"First\"
price = \"1000.00\"
payer = \"c1\"
payee = \"prov\"

[[outcomes]]
code = \"O2\"
name = \"Second\"
price = \"800.00\"
payer = \"c1\"
payee = \"prov\"

[[outcomes]]
code = \"O3\"
name = \"Needs the second\"
price = \"500.00\"
payer = \"c1\"
payee = \"prov\"
requires = [\"O2\"]
";

fn decision_of(
    statement: &Statement,
    claim: u64,
    result: DecisionResult,
) -> &pbr_core::settle::engine::Decision {
    statement
        .decisions
        .iter()
        .find(|d| d.claim_seq == claim && d.result == result)
        .unwrap_or_else(|| panic!("no {result:?} decision on claim {claim}"))
}

/// §5.0.8: caps use net amounts, so a claw-back restores headroom: participant 0's O2 is
/// paid in full after its O1 was clawed back; participant 1's O2, without the claw-back,
/// is capped to 0 by the participant cap. Next quarter the claw-back's headroom is still
/// there for participant 0 (nothing more to pay) and not for participant 1.
#[test]
fn a_clawback_restores_cap_headroom() {
    let mut log = example_log(&example_terms("", CAPPED_CARD), 2);
    let mut o1 = Vec::new();
    let mut o2 = Vec::new();
    for p in 0..2 {
        let claim = log.claim(p, "O1", date(2024, 1, 10), date(2024, 1, 5));
        assert_eq!(log.decide(claim, date(2024, 1, 15), true), Ok(()));
        o1.push(claim);
    }
    let clawback = log.claw_back(o1[0], date(2024, 2, 1));
    for p in 0..2 {
        let claim = log.claim(p, "O2", date(2024, 2, 10), date(2024, 2, 5));
        assert_eq!(log.decide(claim, date(2024, 2, 15), true), Ok(()));
        o2.push(claim);
    }
    let statement = log.statement(quarter(0));
    check_double_entry(&statement).unwrap();
    let clawed = decision_of(&statement, o1[0], DecisionResult::ClawedBack);
    assert_eq!(
        (clawed.event_seq, clawed.amount),
        (clawback, money(-100_000))
    );
    let restored = decision_of(&statement, o2[0], DecisionResult::Accepted);
    assert_eq!((restored.amount, restored.cap), (money(80_000), None));
    let capped = decision_of(&statement, o2[1], DecisionResult::Accepted);
    assert_eq!(
        (capped.amount, capped.cap),
        (money(0), Some(Cap::Participant))
    );
    assert_eq!(paid_by(&statement, o2[0]), vec![("c1".to_owned(), 80_000)]);
    assert_eq!(paid_by(&statement, o2[1]), vec![("c1".to_owned(), 0)]);
    let line = statement
        .lines
        .iter()
        .find(|l| l.key.claim == Some(o1[0]) && l.key.rule == "clawback:O1")
        .unwrap();
    assert_eq!(line.amount, money(-100_000));
}

/// §5.0.8: an outcome accepted but capped to 0 still counts as achieved and satisfies a
/// prerequisite; an outcome never accepted does not.
#[test]
fn an_outcome_capped_to_zero_still_satisfies_a_prerequisite() {
    let mut log = example_log(&example_terms("", CAPPED_CARD), 2);
    // Participant 0: O1 uses the whole cap, O2 is accepted at 0, then O3 (requires O2).
    let o1 = log.claim(0, "O1", date(2024, 1, 10), date(2024, 1, 5));
    assert_eq!(log.decide(o1, date(2024, 1, 15), true), Ok(()));
    let o2 = log.claim(0, "O2", date(2024, 1, 20), date(2024, 1, 18));
    assert_eq!(log.decide(o2, date(2024, 1, 25), true), Ok(()));
    let o3 = log.claim(0, "O3", date(2024, 2, 1), date(2024, 1, 30));
    assert_eq!(log.decide(o3, date(2024, 2, 5), true), Ok(()));
    // Participant 1: O3 without O2 fails the prerequisite.
    let lone = log.claim(1, "O3", date(2024, 2, 1), date(2024, 1, 30));
    assert_eq!(
        log.decide(lone, date(2024, 2, 5), true),
        Err(RejectReason::Prerequisite)
    );
    let statement = log.statement(quarter(0));
    let capped = decision_of(&statement, o2, DecisionResult::Accepted);
    assert_eq!(
        (capped.amount, capped.cap),
        (money(0), Some(Cap::Participant))
    );
    let after = decision_of(&statement, o3, DecisionResult::Accepted);
    assert_eq!(
        (after.amount, after.cap),
        (money(0), Some(Cap::Participant))
    );
    let rejected = decision_of(
        &statement,
        lone,
        DecisionResult::Rejected(RejectReason::Prerequisite),
    );
    assert_eq!(rejected.amount, money(0));
    // The capped outcome still gets its (zero) outcome line, with the cap named.
    let line = statement
        .lines
        .iter()
        .find(|l| l.key.claim == Some(o2))
        .unwrap();
    assert_eq!(
        (line.amount, line.cap, line.is_memo()),
        (money(0), Some(Cap::Participant), true)
    );
}

/// The generator reaches what the properties are about: over a fixed sample of runs it
/// produces every rejection reason, claw-backs, corrections, capped decisions, adjustment
/// lines and every rule family. Guards against a change (say, to
/// admission) that would quietly make the random runs trivial.
#[test]
fn the_generator_reaches_every_mechanism() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..100 {
        let spec = run_spec_with_corrections()
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let log = play(&spec);
        let mut see = |what: String| *seen.entry(what).or_default() += 1;
        for event in &log.events {
            see(format!("kind {}", event.kind()));
        }
        for issued in &log.issued {
            for line in &issued.statement.lines {
                see(format!(
                    "rule {}",
                    line.key.rule.split(':').next().unwrap_or("")
                ));
                if line.adjustment {
                    see("adjustment".into());
                }
            }
            for d in &issued.statement.decisions {
                match d.result {
                    DecisionResult::Rejected(reason) => see(format!("rejected {reason:?}")),
                    _ if d.cap.is_some() => see("capped".into()),
                    _ => {}
                }
            }
        }
    }
    let expected = [
        "kind correction",
        "kind outcome-clawed-back",
        "kind outcome-rejected",
        "kind monthly-status-recorded",
        "adjustment",
        "capped",
        "rejected EnrolmentWindow",
        "rejected Eligibility",
        "rejected OutcomeWindow",
        "rejected Evidence",
        "rejected Duplicate",
        "rejected MutuallyExclusive",
        "rejected ClaimDeadline",
        "rejected Prerequisite",
        "rule outcome",
        "rule clawback",
        "rule sustainment",
        "rule carry-forward",
        "rule waterfall",
        "rule facility",
        "rule co-financing",
        "rule success-bonus",
    ];
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|k| !seen.contains_key(*k))
        .collect();
    assert!(missing.is_empty(), "never generated: {missing:?}\n{seen:?}");
}

/// Whether `event` is admitted after the log's events.
fn admitted(log: &Log, event: &Event) -> Result<(), String> {
    let key = public_key(&event.author);
    log.state
        .admit(log.seq(), event, Signer { public_key: &key })
        .map_err(|e| e.to_string())
}

/// A claw-back dated before the decision it recovers is refused: the engine would process
/// it first and recover nothing, leaving the claim paid.
#[test]
fn a_clawback_cannot_precede_its_decision() {
    let mut log = example_log(&example_terms("", CAPPED_CARD), 1);
    let claim = log.claim(0, "O1", date(2024, 1, 10), date(2024, 1, 5));
    assert_eq!(log.decide(claim, date(2024, 1, 15), true), Ok(()));
    let early = log.event(
        "c1",
        date(2024, 1, 14),
        None,
        Payload::OutcomeClawedBack(OutcomeClawedBack {
            claim_seq: claim,
            reason: ClawbackReason::AuditFinding,
        }),
    );
    let refused = admitted(&log, &early).unwrap_err();
    assert!(refused.contains("cannot be dated before"), "{refused}");
    log.claw_back(claim, date(2024, 1, 15));
    let statement = log.statement(quarter(0));
    assert_eq!(
        decision_of(&statement, claim, DecisionResult::ClawedBack).amount,
        money(-100_000)
    );
}

/// A clawed-back claim whose decision is retracted cannot be decided again while the
/// claw-back stands: otherwise it would be paid in full and the old claw-back recover 0.
#[test]
fn a_clawed_back_claim_is_not_decided_again_until_the_clawback_is_corrected() {
    let mut log = example_log(&example_terms("", CAPPED_CARD), 1);
    let claim = log.claim(0, "O1", date(2024, 1, 10), date(2024, 1, 5));
    log.decide(claim, date(2024, 1, 15), true).unwrap();
    let decision = log.seq() - 1;
    let clawback = log.claw_back(claim, date(2024, 2, 1));
    log.correct(decision, date(2024, 2, 2));
    let again = log.event(
        "c1",
        date(2024, 2, 3),
        None,
        Payload::OutcomeVerified(OutcomeVerified { claim_seq: claim }),
    );
    let refused = admitted(&log, &again).unwrap_err();
    assert!(refused.contains("was clawed back"), "{refused}");
    // Once the claw-back is corrected too, the claim may be decided afresh.
    log.correct(clawback, date(2024, 2, 4));
    assert_eq!(log.decide(claim, date(2024, 2, 5), true), Ok(()));
    let statement = log.statement(quarter(0));
    let paid: i64 = statement
        .lines
        .iter()
        .filter(|l| l.key.claim == Some(claim))
        .map(|l| l.amount.minor)
        .sum();
    assert_eq!(paid, 100_000);
}

// ---------------------------------------------------------------------------------------
// Admission: the dates of claims, decisions and leavings (docs/validation.md, "Dates").

const DATED_CARD: &str = "
[enrolment]
from = 2024-01-01
to = 2024-06-30
participation-months = 12

[[outcomes]]
code = \"O1\"
name = \"Plain\"
price = \"100.00\"
payer = \"c1\"
payee = \"prov\"

[[outcomes]]
code = \"S13\"
name = \"In work 13 weeks\"
price = \"500.00\"
payer = \"c1\"
payee = \"prov\"
sustain-weeks = 13

[[outcomes]]
code = \"X1\"
name = \"One of two\"
price = \"300.00\"
payer = \"c1\"
payee = \"prov\"
excludes = [\"X2\"]

[[outcomes]]
code = \"X2\"
name = \"The other\"
price = \"300.00\"
payer = \"c1\"
payee = \"prov\"
excludes = [\"X1\"]
";

/// The reason code a refusal leads with, or `ok`.
fn code_of(result: Result<(), String>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(reason) => reason
            .split_once(": ")
            .map_or(reason.clone(), |(code, _)| code.to_owned()),
    }
}

/// A claim of `outcome` about participant `i`, as the provider would record it.
fn dated_claim(
    log: &Log,
    i: usize,
    outcome: &str,
    on: NaiveDate,
    achieved: NaiveDate,
    activity_start: Option<NaiveDate>,
) -> Event {
    log.event(
        "prov",
        on,
        Some(participant_ref(i)),
        Payload::OutcomeClaimed(OutcomeClaimed {
            outcome: outcome.to_owned(),
            company: None,
            achieved: pbr_core::date::to_days(achieved),
            activity_start: activity_start.map(pbr_core::date::to_days),
            evidence: None,
        }),
    )
}

/// Each refused claim with its reason code, and the accepted boundary cases: a claim on the
/// day of its achievement, a 13-week outcome achieved exactly 91 days after its start.
#[test]
fn claims_respect_their_dates() {
    let log = example_log(&example_terms("", DATED_CARD), 1);
    let d = |m, day| date(2024, m, day);
    let cases: [(&str, NaiveDate, NaiveDate, Option<NaiveDate>, &str); 7] = [
        ("O1", d(1, 10), d(1, 10), None, "ok"),
        ("O1", d(1, 9), d(1, 10), None, "claimed-before-achieved"),
        ("S13", d(4, 5), d(4, 1), None, "no-activity-start"),
        ("S13", d(4, 5), d(4, 1), Some(d(1, 1)), "ok"),
        (
            "S13",
            d(4, 5),
            d(3, 31),
            Some(d(1, 1)),
            "sustainment-not-reached",
        ),
        // The issue's case: a 13-week job that started on 1 September, claimed on the 6th.
        (
            "S13",
            d(9, 6),
            d(9, 6),
            Some(d(9, 1)),
            "sustainment-not-reached",
        ),
        ("S13", d(12, 1), d(12, 1), Some(d(9, 1)), "ok"),
    ];
    for (outcome, on, achieved, start, expected) in cases {
        let event = dated_claim(&log, 0, outcome, on, achieved, start);
        assert_eq!(
            code_of(admitted(&log, &event)),
            expected,
            "{outcome} claimed {on}, achieved {achieved}, started {start:?}"
        );
    }
}

/// A claim cannot be verified before it was achieved; on that day it can.
#[test]
fn a_claim_is_not_verified_before_its_achievement() {
    let mut log = example_log(&example_terms("", DATED_CARD), 1);
    let claim = log.claim(0, "O1", date(2024, 2, 10), date(2024, 2, 10));
    for (on, expected) in [
        (date(2024, 2, 9), "verified-before-achieved"),
        (date(2024, 2, 10), "ok"),
    ] {
        let event = log.event(
            "c1",
            on,
            None,
            Payload::OutcomeVerified(OutcomeVerified { claim_seq: claim }),
        );
        assert_eq!(code_of(admitted(&log, &event)), expected, "{on}");
    }
}

/// A leaving date lies within the participation: not before the start, not after the start
/// plus `participation-months`.
#[test]
fn a_leaving_date_lies_within_the_participation() {
    let log = example_log(&example_terms("", DATED_CARD), 1);
    for (on, expected) in [
        (date(2023, 12, 31), "left-outside-participation"),
        (date(2024, 1, 1), "ok"),
        (date(2025, 1, 1), "ok"),
        (date(2025, 1, 2), "left-outside-participation"),
    ] {
        let event = log.event(
            "c1",
            on,
            Some(participant_ref(0)),
            Payload::ParticipantLeft(pbr_core::event::ParticipantLeft {
                status: pbr_core::event::ResultStatus::Employed,
                qualification_gained: false,
            }),
        );
        assert_eq!(code_of(admitted(&log, &event)), expected, "{on}");
    }
}

/// An excluded outcome stops excluding once it is clawed back: X2 decided after X1's
/// claw-back is accepted; decided while X1 stands, it is rejected as mutually exclusive.
#[test]
fn a_clawed_back_outcome_stops_excluding() {
    let mut log = example_log(&example_terms("", DATED_CARD), 1);
    let first = log.claim(0, "X1", date(2024, 2, 1), date(2024, 2, 1));
    assert_eq!(log.decide(first, date(2024, 2, 5), true), Ok(()));
    let second = log.claim(0, "X2", date(2024, 3, 1), date(2024, 3, 1));
    assert_eq!(
        log.state
            .decide(CONTRACT, second, date(2024, 3, 2), true)
            .unwrap(),
        Err(RejectReason::MutuallyExclusive)
    );
    log.claw_back(first, date(2024, 3, 3));
    // Before the claw-back's date X1 still excluded X2; on and after it, no longer.
    assert_eq!(
        log.state
            .decide(CONTRACT, second, date(2024, 3, 2), true)
            .unwrap(),
        Err(RejectReason::MutuallyExclusive)
    );
    assert_eq!(log.decide(second, date(2024, 3, 3), true), Ok(()));
}

// ---------------------------------------------------------------------------------------
// The target group: eligibility on every attribute recorded at enrolment.

const TARGET_GROUP: &str = "
[enrolment]
from = 2024-01-01
to = 2024-06-30
eligibility = [
  { attribute = \"entry-status\", in = [\"long-term-unemployed\"] },
  { attribute = \"foreign-background\", is = true },
  { attribute = \"age-at-entry\", min = 25 },
]
REFUSE

[[outcomes]]
code = \"JOB\"
name = \"Job\"
price = \"100.00\"
payer = \"c1\"
payee = \"prov\"
eligibility = [{ attribute = \"gender\", in = [\"man\"] }]
";

/// An enrolment of participant `i` on `day` with some attributes.
fn enrolment(
    log: &Log,
    i: usize,
    day: NaiveDate,
    status: Option<pbr_core::event::EntryStatus>,
    foreign: Option<bool>,
    gender: Option<pbr_core::event::Gender>,
) -> Event {
    log.event(
        "c1",
        day,
        Some(participant_ref(i)),
        Payload::ParticipantEnrolled(ParticipantEnrolled {
            attributes: Attributes {
                age_at_entry: Some(30),
                entry_status: status,
                foreign_background: foreign,
                gender,
                ..Attributes::default()
            },
        }),
    )
}

/// With `refuse-at-enrolment`, an enrolment outside the window or the target group is
/// refused when it is recorded, with its reason; an attribute not recorded is not a "no"
/// that passes but an unknown that fails.
#[test]
fn a_contract_can_refuse_enrolments_outside_its_target_group() {
    use pbr_core::event::EntryStatus::{LongTermUnemployed, Unemployed};
    let terms = TARGET_GROUP.replace("REFUSE", "refuse-at-enrolment = true");
    let mut log = Log::default();
    log.register(&example_terms("", &terms));
    let d = |m, day| date(2024, m, day);
    let cases = [
        (d(3, 1), Some(LongTermUnemployed), Some(true), "ok"),
        (
            d(7, 1),
            Some(LongTermUnemployed),
            Some(true),
            "outside-enrolment-window",
        ),
        (
            d(3, 1),
            Some(Unemployed),
            Some(true),
            "outside-target-group",
        ),
        (
            d(3, 1),
            Some(LongTermUnemployed),
            Some(false),
            "outside-target-group",
        ),
        (d(3, 1), None, Some(true), "outside-target-group"),
        (
            d(3, 1),
            Some(LongTermUnemployed),
            None,
            "outside-target-group",
        ),
    ];
    for (i, (day, status, foreign, expected)) in cases.into_iter().enumerate() {
        let event = enrolment(&log, i, day, status, foreign, None);
        assert_eq!(code_of(admitted(&log, &event)), expected, "case {i}");
    }
    let unknown = enrolment(&log, 9, d(3, 1), None, Some(true), None);
    let reason = admitted(&log, &unknown).unwrap_err();
    assert!(
        reason.contains("entry-status in [long-term-unemployed]"),
        "{reason}"
    );
    assert!(reason.contains("not recorded"), "{reason}");
}

/// By default the enrolment is recorded and its claims are rejected for eligibility, the
/// target group's conditions first, then the outcome's own (gender here).
#[test]
fn by_default_the_target_group_rejects_claims() {
    use pbr_core::event::EntryStatus::{LongTermUnemployed, Unemployed};
    use pbr_core::event::Gender::{Man, Woman};
    let terms = TARGET_GROUP.replace("REFUSE", "");
    let mut log = Log::default();
    log.register(&example_terms("", &terms));
    let d = |m, day| date(2024, m, day);
    let people = [
        (Some(LongTermUnemployed), Some(true), Some(Man), Ok(())),
        (
            Some(Unemployed),
            Some(true),
            Some(Man),
            Err(RejectReason::Eligibility),
        ),
        (
            Some(LongTermUnemployed),
            None,
            Some(Man),
            Err(RejectReason::Eligibility),
        ),
        (
            Some(LongTermUnemployed),
            Some(true),
            Some(Woman),
            Err(RejectReason::Eligibility),
        ),
        (
            Some(LongTermUnemployed),
            Some(true),
            None,
            Err(RejectReason::Eligibility),
        ),
    ];
    for (i, (status, foreign, gender, expected)) in people.into_iter().enumerate() {
        let event = enrolment(&log, i, d(2, 1), status, foreign, gender);
        log.append(event);
        let claim = log.claim(i, "JOB", d(5, 1), d(5, 1));
        assert_eq!(
            log.decide(claim, d(5, 2), true),
            expected,
            "participant {i}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Several municipalities: savings and sustainment booked to each citizen's home party.

const HOME_PARTY: &str = "
[sustainment]
run-months = 3
window-months = 12
full-price = \"1000.00\"
payer = \"home-party\"
payee = \"prov\"

[savings]
monthly-rate = \"12326.01\"
attribution = \"70%\"
measure-from = \"2024-01\"
measure-to = \"2024-12\"
party = \"home-party\"
";

/// Two citizens of c1 and one of c2, each fully self-sufficient from January: each
/// municipality pays its own citizens' sustainment months and is credited its own savings,
/// priced per month (floor(12,326.01 × 70 %) = 8,628.20).
#[test]
fn savings_and_sustainment_go_to_each_citizens_home_party() {
    let mut log = Log::default();
    log.register(&example_terms("", HOME_PARTY));
    let homes = ["c1", "c1", "c2"];
    for (i, home) in homes.iter().enumerate() {
        log.enrol(i, date(2024, 1, 1), 30, home);
    }
    for month in 0..3 {
        let index = Month::of(date(2024, 1 + month, 1)).index();
        for (i, home) in homes.iter().enumerate() {
            let event = log.event(
                home,
                date(2024, 1 + month, 28),
                Some(participant_ref(i)),
                Payload::MonthlyStatusRecorded(MonthlyStatusRecorded {
                    month: index,
                    status: SelfSufficiency::Full,
                }),
            );
            log.append(event);
        }
    }
    let statement = log.statement(quarter(0));
    let sum = |rule: &str, from: &str| -> i64 {
        statement
            .lines
            .iter()
            .filter(|l| l.key.rule == rule && l.key.from == from)
            .map(|l| l.amount.minor)
            .sum()
    };
    // Three months each: c1 pays 2 × 3 × 1,000.00, c2 pays 3 × 1,000.00.
    assert_eq!(sum("sustainment:full", "c1"), 600_000);
    assert_eq!(sum("sustainment:full", "c2"), 300_000);
    assert_eq!(sum("sustainment:full", "c3"), 0);
    // Savings of 6 and 3 months at 8,628.20, each a memo line of its own party.
    assert_eq!(sum("savings", "c1"), 6 * 862_820);
    assert_eq!(sum("savings", "c2"), 3 * 862_820);
    for line in statement.lines.iter().filter(|l| l.key.rule == "savings") {
        assert_eq!(line.key.from, line.key.to);
    }
    check_double_entry(&statement).unwrap();
}

/// A participant without a home party cannot be booked to one: settling says so.
#[test]
fn home_party_savings_need_a_home_party() {
    let mut log = Log::default();
    log.register(&example_terms("", HOME_PARTY));
    let event = log.event(
        "c1",
        date(2024, 1, 1),
        Some(participant_ref(0)),
        Payload::ParticipantEnrolled(ParticipantEnrolled {
            attributes: Attributes::default(),
        }),
    );
    log.append(event);
    let event = log.event(
        "c1",
        date(2024, 1, 31),
        Some(participant_ref(0)),
        Payload::MonthlyStatusRecorded(MonthlyStatusRecorded {
            month: Month::of(date(2024, 1, 1)).index(),
            status: SelfSufficiency::Full,
        }),
    );
    log.append(event);
    let error = settle(&log.state, CONTRACT, quarter(0), log.seq()).unwrap_err();
    assert!(
        error.reason.contains("booked to the home party"),
        "{}",
        error.reason
    );
}

// ---------------------------------------------------------------------------------------
// Retention checks prove sustained outcomes.

const RETAINED_CARD: &str = "
[[outcomes]]
code = \"JOB13\"
name = \"In work 13 weeks, 15 hours a week or more\"
price = \"500.00\"
payer = \"c1\"
payee = \"prov\"
sustain-weeks = 13
retention = { activities = [\"employment\", \"self-employment\"], min-hours-per-week = 15 }
";

/// A retention check about participant `i`.
fn retention(
    log: &Log,
    i: usize,
    activity: pbr_core::event::Activity,
    hours: Option<u16>,
    from: NaiveDate,
    to: NaiveDate,
) -> Event {
    log.event(
        "c1",
        to,
        Some(participant_ref(i)),
        Payload::RetentionRecorded(pbr_core::event::RetentionRecorded {
            activity,
            hours_per_week: hours,
            from: pbr_core::date::to_days(from),
            to: pbr_core::date::to_days(to),
        }),
    )
}

/// A claim is accepted only when checks of a counted activity and enough hours cover every
/// day of its 13 weeks; the statement line names the checks that did.
#[test]
fn retention_checks_prove_a_sustained_outcome() {
    use pbr_core::event::Activity::{Education, Employment, SelfEmployment};
    let start = date(2024, 2, 5);
    let last = date(2024, 5, 5); // start + 91 days − 1
    let reached = date(2024, 5, 6);
    let mut log = example_log(&example_terms("", RETAINED_CARD), 6);
    type Checks = Vec<(pbr_core::event::Activity, Option<u16>, NaiveDate, NaiveDate)>;
    let cases: Vec<(Checks, Result<(), RejectReason>)> = vec![
        (vec![(Employment, Some(20), start, last)], Ok(())),
        (
            vec![
                (Employment, Some(20), start, date(2024, 3, 31)),
                (SelfEmployment, Some(15), date(2024, 4, 1), last),
            ],
            Ok(()),
        ),
        // A day missing between two checks.
        (
            vec![
                (Employment, Some(20), start, date(2024, 3, 30)),
                (Employment, Some(20), date(2024, 4, 1), last),
            ],
            Err(RejectReason::Retention),
        ),
        (
            vec![(Employment, Some(10), start, last)],
            Err(RejectReason::Retention),
        ),
        (
            vec![(Employment, None, start, last)],
            Err(RejectReason::Retention),
        ),
        (
            vec![(Education, Some(30), start, last)],
            Err(RejectReason::Retention),
        ),
    ];
    let mut check_seqs = Vec::new();
    for (i, (checks, expected)) in cases.iter().enumerate() {
        let mut seqs = Vec::new();
        for (activity, hours, from, to) in checks {
            let event = retention(&log, i, *activity, *hours, *from, *to);
            seqs.push(log.append(event));
        }
        check_seqs.push(seqs);
        let claim = dated_claim(&log, i, "JOB13", reached, reached, Some(start));
        let claim = log.append(claim);
        assert_eq!(log.decide(claim, reached, true), *expected, "case {i}");
    }
    let statement = log.statement(quarter(1));
    let lines: Vec<_> = statement
        .lines
        .iter()
        .filter(|l| l.key.rule == "outcome:JOB13")
        .collect();
    assert_eq!(lines.len(), 2, "the two covered claims are paid");
    for (line, seqs) in lines.iter().zip(&check_seqs) {
        for seq in seqs {
            assert!(
                line.events.contains(seq),
                "{:?} lacks check {seq}",
                line.events
            );
        }
        assert!(
            line.calc.contains("retained by the checks at seq"),
            "{}",
            line.calc
        );
    }
}

/// A retracted check no longer proves anything.
#[test]
fn a_retracted_retention_check_proves_nothing() {
    use pbr_core::event::Activity::Employment;
    let start = date(2024, 2, 5);
    let reached = date(2024, 5, 6);
    let mut log = example_log(&example_terms("", RETAINED_CARD), 1);
    let check = retention(&log, 0, Employment, Some(37), start, date(2024, 5, 5));
    let check = log.append(check);
    log.correct(check, date(2024, 5, 5));
    let claim = dated_claim(&log, 0, "JOB13", reached, reached, Some(start));
    let claim = log.append(claim);
    assert_eq!(
        log.decide(claim, reached, true),
        Err(RejectReason::Retention)
    );
}
