//! Settlement through the facade: statements, issuing, audit, balances, explain, diff and
//! what-if. The arithmetic is `pbr_core::settle`; this module chooses the log prefix (the
//! projections for "now", a replay for an earlier position) and appends issue events.
//!
//! "Now" reads the durable projections, which already hold what the last issued statement
//! settled, so settling does not replay the log. Anything about an earlier position
//! (`--at-seq`, `--known-at`, `explain` of an old statement, `diff`, `audit`) replays from
//! the start: that is the auditor's independent recomputation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use pbr_core::date::Period;
use pbr_core::event::{Event, Payload, SettlementIssued};
use pbr_core::ids::EventId;
use pbr_core::settle::balance::{PartyBalance, balances};
use pbr_core::settle::engine::{Entitlement, entitlement};
use pbr_core::settle::{LineKey, Statement, TermsSource, settle};
use pbr_core::state::State;
use pbr_core::terms::Terms;
use pbr_core::{CoreError, Money};

use crate::{Input, Ledger, LedgerError, SignerKey};

/// Which log prefix a question is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// Everything recorded.
    Head,
    /// The events with seq below this.
    Seq(u64),
    /// The events recorded at or before this time (µs since the Unix epoch).
    KnownAt(i64),
}

/// One issued statement, recomputed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audited {
    /// The seq of its `settlement-issued` event.
    pub seq: u64,
    /// The contract.
    pub contract: String,
    /// The period.
    pub period: Period,
    /// The hash the issuer recorded.
    pub recorded: [u8; 32],
    /// The hash recomputed from the log and the terms in force then, or why it could not be.
    pub recomputed: Result<[u8; 32], String>,
}

impl Audited {
    /// Whether the recomputation matches the record.
    pub fn matches(&self) -> bool {
        self.recomputed.as_ref().is_ok_and(|h| *h == self.recorded)
    }
}

/// One changed amount between two log positions.
#[derive(Clone, Debug)]
pub struct Change {
    /// The amount's key.
    pub key: LineKey,
    /// Before.
    pub before: Money,
    /// After.
    pub after: Money,
    /// The events between the two positions that changed it.
    pub caused_by: Vec<u64>,
    /// How the new amount is computed.
    pub calc: String,
}

/// What changed for one contract between two log positions.
#[derive(Clone, Debug)]
pub struct Diff {
    /// The contract.
    pub contract: String,
    /// The period through which entitlements were compared.
    pub through: Period,
    /// Changed amounts.
    pub changes: Vec<Change>,
    /// Balances before and after, per party, where they differ.
    pub balances: Vec<(PartyBalance, PartyBalance)>,
}

/// A contract settled under alternative terms beside its own.
#[derive(Clone, Debug)]
pub struct WhatIf {
    /// The contract's own period through which it was computed (the other terms were
    /// computed through theirs that ends on the same day, of another calendar if they settle
    /// by another).
    pub through: Period,
    /// Per party: (real, alternative) net amounts due to it through `through`.
    pub parties: BTreeMap<String, (Money, Money)>,
    /// Per rule: (real, alternative) totals.
    pub rules: BTreeMap<String, (Money, Money)>,
}

fn domain(e: CoreError) -> LedgerError {
    LedgerError::Domain(e.reason)
}

impl Ledger {
    /// The state after the prefix `at` names, and that prefix's length.
    pub fn state_for(&mut self, at: At) -> Result<(State, u64), LedgerError> {
        let len = match at {
            At::Head => {
                self.ensure_complete()?;
                return Ok((self.state.clone(), self.state.applied));
            }
            At::Seq(n) => n.min(self.log.len()),
            At::KnownAt(t) => self.len_known_at(t)?,
        };
        Ok((self.state_at(len)?, len))
    }

    /// The statement of `period` as of now, without recording it.
    pub fn settle(&mut self, contract: &str, period: Period) -> Result<Statement, LedgerError> {
        self.ensure_complete()?;
        let (statement, _) =
            settle(&self.state, contract, period, self.state.applied).map_err(domain)?;
        Ok(statement)
    }

    /// Computes the statement of `period` and records it, signed with `key`; returns the
    /// statement and the seq of its `settlement-issued` event.
    pub fn issue(
        &mut self,
        contract: &str,
        period: Period,
        key: &SignerKey,
        now_micros: i64,
    ) -> Result<(Statement, u64), LedgerError> {
        self.ensure_complete()?;
        let (statement, entitlement) =
            settle(&self.state, contract, period, self.state.applied).map_err(domain)?;
        let hash = statement.hash;
        // Applying the event recomputes this very statement; hand it over instead.
        self.state.prepare_issue(
            statement.log_position,
            contract,
            period,
            statement.clone(),
            entitlement,
        );
        let event = Event {
            contract: contract.to_owned(),
            participant: None,
            business_date: period.last_day(),
            payload: Payload::SettlementIssued(SettlementIssued {
                period: period.to_string(),
                statement_hash: hash,
                log_position: statement.log_position,
            }),
            author: key.name().to_owned(),
            recorded_at_micros: 0,
            id: EventId::derived(
                b"pbr settlement",
                &format!(
                    "{contract}\u{1f}{period}\u{1f}{}",
                    pbr_core::ids::hex(&hash)
                ),
            ),
        };
        let report = self.append(
            vec![(
                format!("settlement {contract} {period}"),
                Input::Event(event),
            )],
            std::slice::from_ref(key),
            now_micros,
            |_, _| {},
        );
        self.state.forget_prepared();
        Ok((statement, report?.seqs.start))
    }

    /// Recomputes every issued statement from the log alone (a replay from the start, not
    /// the projections) and the terms in force when it was issued, each from the contract's
    /// first period: issuing goes on from the previous statement's carry, and the audit does
    /// not take that shortcut on trust.
    pub fn audit(&self, mut progress: impl FnMut(u64, u64)) -> Result<Vec<Audited>, LedgerError> {
        let len = self.log.len();
        let mut state = State::default();
        let mut audited = Vec::new();
        for entry in self.log.iter_from(0) {
            let (seq, bytes) = entry?;
            let event = decode(seq, &bytes)?;
            state
                .apply_recomputing(seq, &event)
                .map_err(|e| Self::projection_error(seq, e.reason))?;
            // Folding a `settlement-issued` event recomputes its statement from the state
            // before it (`State::apply`); compare that with the recorded hash.
            if let Payload::SettlementIssued(p) = &event.payload
                && let Some(issued) = state
                    .contracts
                    .get(&event.contract)
                    .and_then(|c| c.issued.last())
                    .filter(|issued| issued.seq == seq)
            {
                audited.push(Audited {
                    seq,
                    contract: event.contract.clone(),
                    period: issued.period,
                    recorded: p.statement_hash,
                    recomputed: issued
                        .recomputed
                        .as_ref()
                        .map(|summary| summary.hash)
                        .map_err(Clone::clone),
                });
            }
            if seq % 65_536 == 0 {
                progress(seq, len);
            }
        }
        progress(len, len);
        Ok(audited)
    }

    /// The balances of `contract` as of `at`, with only what was in effect on `effective`.
    pub fn balances(
        &mut self,
        contract: &str,
        at: At,
        effective: Option<NaiveDate>,
    ) -> Result<(u64, Vec<PartyBalance>), LedgerError> {
        if at == At::Head {
            // Now: straight from the projections, without copying the state.
            self.ensure_complete()?;
            let rows = balances_of(&self.state, contract, effective)?;
            return Ok((self.state.applied, rows));
        }
        let (state, len) = self.state_for(at)?;
        let rows = balances_of(&state, contract, effective)?;
        Ok((len, rows))
    }

    /// The issued statement recorded at `seq`, recomputed from the log before it.
    pub fn statement_at(&self, seq: u64) -> Result<Statement, LedgerError> {
        let event = self.event_at(seq)?;
        let Payload::SettlementIssued(p) = &event.payload else {
            return Err(LedgerError::Domain(format!(
                "seq {seq} is a {}, not a settlement-issued event",
                event.kind()
            )));
        };
        let period: Period = p.period.parse().map_err(domain)?;
        let state = self.state_at(seq)?;
        let (statement, _) = settle(&state, &event.contract, period, seq).map_err(domain)?;
        Ok(statement)
    }

    /// What changed between the log prefixes of length `from` and `to`: every entitlement
    /// amount through the contract's final period (or `through`), with the events that
    /// changed it, and the balances.
    pub fn diff(
        &mut self,
        from: u64,
        to: u64,
        contract: Option<&str>,
        through: Option<Period>,
    ) -> Result<Vec<Diff>, LedgerError> {
        let (before, from) = self.state_for(At::Seq(from))?;
        let (after, to) = self.state_for(At::Seq(to))?;
        let mut contracts: Vec<&String> = after.contracts.keys().collect();
        if let Some(only) = contract {
            contracts.retain(|c| c.as_str() == only);
            if contracts.is_empty() {
                return Err(LedgerError::Domain(format!(
                    "contract {only} is not registered"
                )));
            }
        }
        // Retractions in the range change whatever the retracted events fed.
        let retracted_now: BTreeSet<u64> = after
            .retracted
            .difference(&before.retracted)
            .copied()
            .collect();
        let mut diffs = Vec::new();
        for id in contracts {
            let terms = latest_terms(&after, id)?;
            let calendar = terms.contract.settlement;
            // Any period form, as the contract's own period that ends with it.
            let through = match through {
                Some(period) => through_of(id, &terms, period)?,
                None => Period::containing(calendar, terms.contract.end.0),
            };
            let old = match before.contracts.get(id.as_str()) {
                Some(c) => Some(
                    entitlement(c, &before.retracted, &TermsSource::Versions(id, c), through)
                        .map_err(domain)?,
                ),
                None => None,
            };
            let c = &after.contracts[id.as_str()];
            let new = entitlement(c, &after.retracted, &TermsSource::Versions(id, c), through)
                .map_err(domain)?;
            let changes = changes(old.as_ref(), &new, from..to, &retracted_now);
            let old_rows = if before.contracts.contains_key(id.as_str()) {
                balances_of(&before, id, None)?
            } else {
                Vec::new()
            };
            let new_rows = balances_of(&after, id, None)?;
            let balances = new_rows
                .into_iter()
                .filter_map(|row| {
                    let old = old_rows.iter().find(|o| o.party == row.party).cloned();
                    match old {
                        Some(old) if old == row => None,
                        Some(old) => Some((old, row)),
                        None => Some((PartyBalance::zero(&row.party, row.net.currency), row)),
                    }
                })
                .collect();
            diffs.push(Diff {
                contract: id.clone(),
                through,
                changes,
                balances,
            });
        }
        Ok(diffs)
    }

    /// Settles `contract` through `period` under `alternative` terms over the same history,
    /// beside its own terms. Writes nothing.
    pub fn what_if(
        &mut self,
        contract: &str,
        alternative: Terms,
        period: Period,
    ) -> Result<WhatIf, LedgerError> {
        self.ensure_complete()?;
        let state = &self.state;
        let c = state
            .contracts
            .get(contract)
            .ok_or_else(|| LedgerError::Domain(format!("contract {contract} is not registered")))?;
        // Any period form, as each set of terms' own period that ends with it.
        let real_through = through_of(contract, &*latest_terms(state, contract)?, period)?;
        let alt_through = through_of("the other terms", &alternative, period)?;
        let real = entitlement(
            c,
            &state.retracted,
            &TermsSource::Versions(contract, c),
            real_through,
        )
        .map_err(domain)?;
        let alt = entitlement(
            c,
            &state.retracted,
            &TermsSource::Fixed(Arc::new(alternative)),
            alt_through,
        )
        .map_err(domain)?;
        let mut parties: BTreeMap<String, (Money, Money)> = BTreeMap::new();
        let mut rules: BTreeMap<String, (Money, Money)> = BTreeMap::new();
        let zero = Money::zero(real.currency);
        for (which, e) in [(0, &real), (1, &alt)] {
            for entry in &e.entries {
                let rule = entry
                    .key
                    .rule
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let slot = rules.entry(rule).or_insert((zero, zero));
                add_to(slot, which, entry.amount)?;
                if entry.key.from == entry.key.to {
                    continue;
                }
                let to = parties.entry(entry.key.to.clone()).or_insert((zero, zero));
                add_to(to, which, entry.amount)?;
                let from = parties
                    .entry(entry.key.from.clone())
                    .or_insert((zero, zero));
                add_to(from, which, entry.amount.checked_neg().map_err(domain)?)?;
            }
        }
        Ok(WhatIf {
            through: real_through,
            parties,
            rules,
        })
    }
}

fn add_to(slot: &mut (Money, Money), which: usize, amount: Money) -> Result<(), LedgerError> {
    let target = if which == 0 { &mut slot.0 } else { &mut slot.1 };
    *target = target.checked_add(amount).map_err(domain)?;
    Ok(())
}

fn decode(seq: u64, bytes: &[u8]) -> Result<Event, LedgerError> {
    let record = pbr_log::Record::decode(bytes)
        .map_err(|source| LedgerError::Log(pbr_log::LogError::BadRecord { seq, source }))?;
    Event::decode(&record.event_bytes).map_err(|e| LedgerError::Projection {
        seq,
        reason: e.reason,
    })
}

/// The period of `terms`' calendar that ends with `period` (any period form: `2025` is
/// `2025-Q4` to terms that settle every quarter), refusing one that ends inside a period of
/// theirs or before their first, where nothing could be found; errors begin with `what`.
fn through_of(what: &str, terms: &Terms, period: Period) -> Result<Period, LedgerError> {
    let calendar = terms.contract.settlement;
    let through = period
        .ending_with(calendar)
        .map_err(|e| LedgerError::Domain(format!("{what}: {}", e.reason)))?;
    let first = Period::containing(calendar, terms.contract.start.0);
    if through < first {
        return Err(LedgerError::Domain(format!(
            "{what}: {period} ends before the first settlement period, {first}"
        )));
    }
    Ok(through)
}

fn latest_terms(state: &State, contract: &str) -> Result<Arc<Terms>, LedgerError> {
    let c = state
        .contracts
        .get(contract)
        .ok_or_else(|| LedgerError::Domain(format!("contract {contract} is not registered")))?;
    c.versions
        .last()
        .ok_or_else(|| LedgerError::Domain(format!("contract {contract} has no terms")))?
        .terms(contract)
        .map_err(domain)
}

fn balances_of(
    state: &State,
    contract: &str,
    effective: Option<NaiveDate>,
) -> Result<Vec<PartyBalance>, LedgerError> {
    let terms = latest_terms(state, contract)?;
    let c = &state.contracts[contract];
    balances(c, terms.contract.currency, effective).map_err(domain)
}

/// The amounts that differ between two entitlements, each with the events in `range` (or
/// retracted by a correction in it) that it was computed from.
fn changes(
    old: Option<&Entitlement>,
    new: &Entitlement,
    range: std::ops::Range<u64>,
    retracted: &BTreeSet<u64>,
) -> Vec<Change> {
    let zero = Money::zero(new.currency);
    let caused = |events: &[u64]| -> Vec<u64> {
        let mut seqs: Vec<u64> = events
            .iter()
            .copied()
            .filter(|s| range.contains(s) || retracted.contains(s))
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs
    };
    let mut out = Vec::new();
    for entry in &new.entries {
        let before = old.map_or(zero, |o| o.amount(&entry.key));
        if before != entry.amount {
            let mut events = entry.events.clone();
            if let Some(old_entry) = old.and_then(|o| o.entry(&entry.key)) {
                events.extend(&old_entry.events);
            }
            out.push(Change {
                key: entry.key.clone(),
                before,
                after: entry.amount,
                caused_by: caused(&events),
                calc: entry.calc(),
            });
        }
    }
    if let Some(old) = old {
        for entry in &old.entries {
            if new.entry(&entry.key).is_none() && entry.amount.minor != 0 {
                out.push(Change {
                    key: entry.key.clone(),
                    before: entry.amount,
                    after: zero,
                    caused_by: caused(&entry.events),
                    calc: "no longer due".into(),
                });
            }
        }
    }
    out
}
