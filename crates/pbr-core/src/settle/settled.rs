//! What an issued statement settled, kept compact.
//!
//! The next statement subtracts, key by key, the cumulative entitlement the last issued
//! statement settled. That is one amount for every [`LineKey`] since the contract began
//! (three quarters of a million at 100,000 participants over three years), and it is part of
//! every state snapshot, so it is stored as a table rather than as a map of keys: each text a
//! key uses (rule, subject, parties) and each period once, sorted, and every key as indices
//! into those tables. Sorted tables make index order text order, so the keys, sorted by
//! their indices, are in [`LineKey`] order, and a snapshot decodes as flat arrays of numbers.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::date::Period;
use crate::money::Money;

use super::engine::{Entitlement, LineKey};

/// The cumulative entitlement an issued statement settled, by key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Settled {
    /// The seq of the issue event.
    pub seq: u64,
    /// Every period a key names, sorted.
    periods: Vec<Period>,
    /// Every text a key names, sorted, without repeats.
    names: Vec<String>,
    /// The amounts, sorted by key.
    amounts: Vec<(Key, Money)>,
}

/// A [`LineKey`] as indices into [`Settled`]'s tables; the field order is `LineKey`'s, so the
/// derived order is too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Key {
    accrual: u32,
    rule: u32,
    subject: Option<u32>,
    from: u32,
    to: u32,
    claim: Option<u64>,
}

impl Settled {
    /// The settled amounts `amounts`, recorded by the issue event at `seq`.
    pub fn new<'a>(seq: u64, amounts: impl IntoIterator<Item = (&'a LineKey, Money)>) -> Settled {
        let amounts: Vec<(&LineKey, Money)> = amounts.into_iter().collect();
        let mut periods: Vec<Period> = amounts.iter().map(|(k, _)| k.accrual).collect();
        periods.sort_unstable();
        periods.dedup();
        let mut names: Vec<&str> = Vec::new();
        for (key, _) in &amounts {
            names.extend([key.rule.as_str(), key.from.as_str(), key.to.as_str()]);
            names.extend(key.subject.as_deref());
        }
        names.sort_unstable();
        names.dedup();
        let name_of: HashMap<&str, u32> = names.iter().zip(0u32..).map(|(n, i)| (*n, i)).collect();
        let period_of: HashMap<Period, u32> =
            periods.iter().zip(0u32..).map(|(p, i)| (*p, i)).collect();
        // Invariant: both tables were built from these very keys, so every lookup succeeds.
        let name = |text: &str| name_of[text];
        let mut keys: Vec<(Key, Money)> = amounts
            .iter()
            .map(|(k, amount)| {
                let key = Key {
                    accrual: period_of[&k.accrual],
                    rule: name(&k.rule),
                    subject: k.subject.as_deref().map(name),
                    from: name(&k.from),
                    to: name(&k.to),
                    claim: k.claim,
                };
                (key, *amount)
            })
            .collect();
        // A key given twice keeps its last amount, as a map would.
        keys.reverse();
        keys.sort_by_key(|(key, _)| *key);
        keys.dedup_by_key(|(key, _)| *key);
        Settled {
            seq,
            periods,
            names: names.into_iter().map(str::to_owned).collect(),
            amounts: keys,
        }
    }

    /// What a statement issued at `seq` settled: its cumulative entitlement, which is the
    /// whole entitlement when the engine ran from the first period, and `previous` updated
    /// with the periods it went on with when it resumed from the previous statement (see
    /// [`super::engine::entitlement_after`]).
    pub fn of(previous: Option<&Settled>, entitlement: &Entitlement, seq: u64) -> Settled {
        let entries = entitlement.entries.iter().map(|e| (&e.key, e.amount));
        match (previous, entitlement.resumed_after) {
            (Some(previous), Some(_)) => previous.updated(seq, entries),
            _ => Settled::new(seq, entries),
        }
    }

    /// These amounts with `amounts` added or replacing the ones under the same key, without
    /// rebuilding the keys already here: the tables grow by the new texts and periods, and
    /// since they stay sorted, an old index maps to its new one in order, so the old keys
    /// stay sorted and the new ones merge in.
    fn updated<'a>(
        &self,
        seq: u64,
        amounts: impl IntoIterator<Item = (&'a LineKey, Money)>,
    ) -> Settled {
        let added = Settled::new(seq, amounts);
        let mut periods = self.periods.clone();
        periods.extend(&added.periods);
        periods.sort_unstable();
        periods.dedup();
        let mut names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        names.extend(added.names.iter().map(String::as_str));
        names.sort_unstable();
        names.dedup();
        let old = remapped(self, &periods, &names);
        let new = remapped(&added, &periods, &names);
        // Both sides are sorted; on a tie the added amount wins.
        let mut merged = Vec::with_capacity(self.amounts.len() + added.amounts.len());
        let mut old = old.into_iter().peekable();
        let mut new = new.into_iter().peekable();
        loop {
            let next = match (old.peek(), new.peek()) {
                (Some(o), Some(n)) if o.0 < n.0 => old.next(),
                (Some(o), Some(n)) if o.0 == n.0 => {
                    old.next();
                    new.next()
                }
                (Some(_), Some(_)) | (None, Some(_)) => new.next(),
                (Some(_), None) => old.next(),
                (None, None) => break,
            };
            merged.extend(next);
        }
        Settled {
            seq,
            periods,
            names: names.into_iter().map(str::to_owned).collect(),
            amounts: merged,
        }
    }

    /// The amount settled under `key`.
    pub fn get(&self, key: &LineKey) -> Option<Money> {
        let name = |text: &str| {
            self.names
                .binary_search_by(|n| n.as_str().cmp(text))
                .ok()
                .and_then(|i| u32::try_from(i).ok())
        };
        let subject = match key.subject.as_deref() {
            Some(subject) => Some(name(subject)?),
            None => None,
        };
        let wanted = Key {
            accrual: u32::try_from(self.periods.binary_search(&key.accrual).ok()?).ok()?,
            rule: name(&key.rule)?,
            subject,
            from: name(&key.from)?,
            to: name(&key.to)?,
            claim: key.claim,
        };
        self.amounts
            .binary_search_by_key(&wanted, |(k, _)| *k)
            .ok()
            .map(|i| self.amounts[i].1)
    }

    /// Every settled amount, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (LineKey, Money)> + '_ {
        self.amounts.iter().map(|(key, amount)| {
            let name = |i: u32| self.names[i as usize].clone();
            let key = LineKey {
                accrual: self.periods[key.accrual as usize],
                rule: name(key.rule),
                subject: key.subject.map(name),
                from: name(key.from),
                to: name(key.to),
                claim: key.claim,
            };
            (key, *amount)
        })
    }

    /// How many keys it settles.
    pub fn len(&self) -> usize {
        self.amounts.len()
    }

    /// Whether it settles nothing.
    pub fn is_empty(&self) -> bool {
        self.amounts.is_empty()
    }
}

/// The amounts of `from` with their indices into `periods` and `names`, tables that hold every
/// period and text of `from`, sorted: the order of the keys is kept.
fn remapped(from: &Settled, periods: &[Period], names: &[&str]) -> Vec<(Key, Money)> {
    // Invariant: the tables hold every period and text of `from`, and have fewer than 2^32
    // entries because `from`'s own did.
    let position = |found: Result<usize, usize>| {
        u32::try_from(found.expect("in the merged table")).expect("fewer than 2^32 entries")
    };
    let period: Vec<u32> = (from.periods.iter())
        .map(|p| position(periods.binary_search(p)))
        .collect();
    let name: Vec<u32> = (from.names.iter())
        .map(|n| position(names.binary_search(&n.as_str())))
        .collect();
    (from.amounts.iter())
        .map(|(k, amount)| {
            let key = Key {
                accrual: period[k.accrual as usize],
                rule: name[k.rule as usize],
                subject: k.subject.map(|s| name[s as usize]),
                from: name[k.from as usize],
                to: name[k.to as usize],
                claim: k.claim,
            };
            (key, *amount)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn key(
        accrual: &str,
        rule: &str,
        subject: Option<&str>,
        to: &str,
        claim: Option<u64>,
    ) -> LineKey {
        LineKey {
            accrual: accrual.parse().expect("a period"),
            rule: rule.into(),
            subject: subject.map(Into::into),
            from: "kommune".into(),
            to: to.into(),
            claim,
        }
    }

    #[test]
    fn keys_come_back_in_line_key_order_and_are_found() {
        let dkk = |minor| Money::from_minor(minor, Currency::DKK);
        let keys = [
            key(
                "2025-Q1",
                "sustainment:full",
                Some("participant:bb"),
                "provider",
                None,
            ),
            key(
                "2024-Q4",
                "outcome:O8",
                Some("participant:aa"),
                "provider",
                Some(7),
            ),
            key("2024-Q4", "outcome:O8", None, "provider", Some(7)),
            key("2025-Q1", "carry-forward", None, "investor", None),
            key(
                "2024-Q4",
                "outcome:O8",
                Some("participant:aa"),
                "provider",
                None,
            ),
        ];
        let settled = Settled::new(3, keys.iter().zip(1..).map(|(k, m)| (k, dkk(m))));
        let mut sorted: Vec<(LineKey, Money)> = keys.iter().cloned().zip((1..).map(dkk)).collect();
        sorted.sort();
        assert_eq!(settled.iter().collect::<Vec<_>>(), sorted);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(settled.get(k), Some(dkk(i as i64 + 1)), "{k:?}");
        }
        let absent = key("2025-Q2", "carry-forward", None, "investor", None);
        assert_eq!(settled.get(&absent), None);
        let other_party = key("2025-Q1", "carry-forward", None, "nobody", None);
        assert_eq!(settled.get(&other_party), None);
    }

    #[test]
    fn an_update_adds_and_replaces_as_a_fresh_table_would() {
        let dkk = |minor| Money::from_minor(minor, Currency::DKK);
        let before = [
            key(
                "2024-Q4",
                "outcome:O8",
                Some("participant:bb"),
                "provider",
                Some(7),
            ),
            key(
                "2025-Q1",
                "sustainment:full",
                Some("participant:dd"),
                "provider",
                None,
            ),
            key("2025-Q1", "carry-forward", None, "investor", None),
        ];
        let after = [
            // New texts and a new period sort before, between and after the old ones.
            key(
                "2025-Q2",
                "sustainment:full",
                Some("participant:aa"),
                "provider",
                None,
            ),
            key("2025-Q1", "carry-forward", None, "investor", None),
            key(
                "2024-Q4",
                "outcome:O8",
                Some("participant:cc"),
                "agency",
                Some(9),
            ),
            key("2025-Q2", "waterfall:senior", None, "zeta", None),
        ];
        let previous = Settled::new(1, before.iter().zip(1..).map(|(k, m)| (k, dkk(m))));
        let added = after.iter().zip(10..).map(|(k, m)| (k, dkk(m)));
        let updated = previous.updated(2, added.clone());
        let all: Vec<(LineKey, Money)> = previous.iter().collect();
        let fresh = Settled::new(2, all.iter().map(|(k, m)| (k, *m)).chain(added));
        assert_eq!(
            updated.iter().collect::<Vec<_>>(),
            fresh.iter().collect::<Vec<_>>()
        );
        assert_eq!(updated.len(), 6);
        assert_eq!(updated.get(&before[2]), Some(dkk(11)));
        assert_eq!(updated.get(&before[0]), Some(dkk(1)));
        assert_eq!(updated.seq, 2);
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_amount() {
        let dkk = |minor| Money::from_minor(minor, Currency::DKK);
        let k = key("2025-Q1", "savings", None, "kommune", None);
        let settled = Settled::new(1, [(&k, dkk(5)), (&k, dkk(9))]);
        assert_eq!(settled.len(), 1);
        assert_eq!(settled.get(&k), Some(dkk(9)));
    }
}
