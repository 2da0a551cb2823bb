//! A statement back from its JSON (`docs/settlement.md`), so that a bundle's statement can be
//! hashed without the ledger that computed it.
//!
//! The JSON is read into a [`Statement`], which is then written back with
//! [`Statement::to_json`]: the two must be equal, so every derived field (`from`, `to`,
//! `net`, a decision's `reason`) and every spelling (two decimals, lowercase hex) is checked
//! by the same code that writes them, and the hash covers [`Statement::canonical_bytes`],
//! the bytes `docs/format.md` §9 fixes. The double entry is checked on top: two postings
//! per line that moves money, none for a memo line, totals per party in id order.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pbr_core::date::Period;
use pbr_core::event::RejectReason;
use pbr_core::money::{Currency, Money};
use pbr_core::settle::engine::Decision;
use pbr_core::settle::{
    Cap, DecisionResult, FacilityPosition, Line, LineKey, Posting, Previous, Statement, Total,
};
use serde_json::Value;

/// A field of the statement JSON, named by its path for error messages.
struct Field<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Field<'a> {
    fn get(&self, key: &str) -> Result<Field<'a>, String> {
        let object = self
            .value
            .as_object()
            .ok_or_else(|| format!("{} is not an object", self.path))?;
        let value = object
            .get(key)
            .ok_or_else(|| format!("{}.{key} is missing", self.path))?;
        Ok(Field {
            value,
            path: format!("{}.{key}", self.path),
        })
    }

    fn str(&self) -> Result<&'a str, String> {
        self.value
            .as_str()
            .ok_or_else(|| format!("{} is not a string", self.path))
    }

    fn u64(&self) -> Result<u64, String> {
        self.value
            .as_u64()
            .ok_or_else(|| format!("{} is not an unsigned integer", self.path))
    }

    fn u32(&self) -> Result<u32, String> {
        u32::try_from(self.u64()?).map_err(|_| format!("{} is larger than a u32", self.path))
    }

    fn bool(&self) -> Result<bool, String> {
        self.value
            .as_bool()
            .ok_or_else(|| format!("{} is not a boolean", self.path))
    }

    fn items(&self) -> Result<Vec<Field<'a>>, String> {
        let array = self
            .value
            .as_array()
            .ok_or_else(|| format!("{} is not an array", self.path))?;
        Ok(array
            .iter()
            .enumerate()
            .map(|(i, value)| Field {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    fn optional(&self) -> Option<&Field<'a>> {
        (!self.value.is_null()).then_some(self)
    }

    fn opt_str(&self) -> Result<Option<String>, String> {
        self.optional()
            .map(|f| f.str().map(str::to_owned))
            .transpose()
    }

    fn period(&self) -> Result<Period, String> {
        self.str()?
            .parse()
            .map_err(|e: pbr_core::CoreError| format!("{}: {}", self.path, e.reason))
    }

    fn date(&self) -> Result<NaiveDate, String> {
        pbr_core::date::parse_date(self.str()?).map_err(|e| format!("{}: {}", self.path, e.reason))
    }

    fn money(&self, currency: Currency) -> Result<Money, String> {
        Money::parse(self.str()?, currency).map_err(|e| format!("{}: {}", self.path, e.reason))
    }

    fn cap(&self) -> Result<Option<Cap>, String> {
        let Some(name) = self.opt_str()? else {
            return Ok(None);
        };
        [Cap::Participant, Cap::Company, Cap::Period, Cap::Contract]
            .into_iter()
            .find(|c| c.name() == name)
            .map(Some)
            .ok_or_else(|| format!("{}: {name:?} is not a cap", self.path))
    }

    fn hash(&self) -> Result<[u8; 32], String> {
        pbr_log::hex::decode_hash(self.str()?)
            .ok_or_else(|| format!("{} is not 64 lowercase hex digits", self.path))
    }
}

/// Reads a statement JSON into a [`Statement`] and checks that it writes back to exactly
/// that JSON; returns the statement (whose `hash` is the JSON's, not yet recomputed).
pub(crate) fn from_json(value: &Value, path: &str) -> Result<Statement, String> {
    let root = Field {
        value,
        path: path.to_owned(),
    };
    let currency_code = root.get("currency")?;
    let currency: Currency = serde_json::from_value(currency_code.value.clone())
        .map_err(|_| format!("{} is not a currency", currency_code.path))?;
    let period = root.get("period")?.period()?;
    let previous = match root.get("previous")?.optional() {
        None => None,
        Some(p) => Some(Previous {
            seq: p.get("seq")?.u64()?,
            period: p.get("period")?.period()?,
            log_position: p.get("log_position")?.u64()?,
        }),
    };
    let decisions = root
        .get("decisions")?
        .items()?
        .iter()
        .map(|d| decision(d, currency, period))
        .collect::<Result<Vec<_>, String>>()?;
    let lines = root
        .get("lines")?
        .items()?
        .iter()
        .map(|l| line(l, currency))
        .collect::<Result<Vec<_>, String>>()?;
    let totals = root
        .get("totals")?
        .items()?
        .iter()
        .map(|t| {
            Ok(Total {
                party: t.get("party")?.str()?.to_owned(),
                pays: t.get("pays")?.money(currency)?,
                receives: t.get("receives")?.money(currency)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let postings = root
        .get("postings")?
        .items()?
        .iter()
        .map(|p| {
            Ok(Posting {
                line: p.get("line")?.u32()?,
                party: p.get("party")?.str()?.to_owned(),
                account: p.get("account")?.str()?.to_owned(),
                amount: p.get("amount")?.money(currency)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let facility = match root.get("facility")?.optional() {
        None => None,
        Some(f) => Some(FacilityPosition {
            cash: f.get("cash")?.money(currency)?,
            outstanding: f.get("outstanding")?.money(currency)?,
            drawn: f.get("drawn")?.money(currency)?,
        }),
    };
    let statement = Statement {
        contract: root.get("contract")?.str()?.to_owned(),
        period,
        final_period: root.get("final")?.bool()?,
        currency,
        log_position: root.get("log_position")?.u64()?,
        previous,
        decisions,
        lines,
        totals,
        postings,
        facility,
        hash: root.get("hash")?.hash()?,
    };
    if let Some(difference) = first_difference(value, &statement.to_json(), path) {
        return Err(format!(
            "{difference} is not as pbr writes a statement (docs/settlement.md)"
        ));
    }
    Ok(statement)
}

fn decision(d: &Field<'_>, currency: Currency, period: Period) -> Result<Decision, String> {
    let result_field = d.get("result")?;
    let reason = d.get("reason")?.opt_str()?;
    let result = match (result_field.str()?, reason) {
        ("accepted", None) => DecisionResult::Accepted,
        ("clawed-back", None) => DecisionResult::ClawedBack,
        ("rejected", Some(reason)) => {
            let reason: RejectReason = serde_json::from_value(Value::String(reason.clone()))
                .map_err(|_| format!("{}: {reason:?} is not a reject reason", d.path))?;
            DecisionResult::Rejected(reason)
        }
        (other, _) => {
            return Err(format!(
                "{}: {other:?} with that reason is not a decision result",
                result_field.path
            ));
        }
    };
    Ok(Decision {
        claim_seq: d.get("claim_seq")?.u64()?,
        event_seq: d.get("event_seq")?.u64()?,
        subject: d.get("subject")?.str()?.to_owned(),
        outcome: d.get("outcome")?.str()?.to_owned(),
        date: d.get("date")?.date()?,
        // Not in the JSON nor in the hashed bytes; the statement's period stands in.
        period,
        result,
        price: d.get("price")?.money(currency)?,
        amount: d.get("amount")?.money(currency)?,
        cap: d.get("cap")?.cap()?,
    })
}

fn line(l: &Field<'_>, currency: Currency) -> Result<Line, String> {
    Ok(Line {
        n: l.get("n")?.u32()?,
        key: LineKey {
            accrual: l.get("accrual")?.period()?,
            rule: l.get("rule")?.str()?.to_owned(),
            subject: l.get("subject")?.opt_str()?,
            from: l.get("from")?.str()?.to_owned(),
            to: l.get("to")?.str()?.to_owned(),
            claim: l.get("claim")?.optional().map(Field::u64).transpose()?,
        },
        adjustment: l.get("adjustment")?.bool()?,
        amount: l.get("amount")?.money(currency)?,
        events: l
            .get("events")?
            .items()?
            .iter()
            .map(Field::u64)
            .collect::<Result<_, _>>()?,
        cap: l.get("cap")?.cap()?,
        calc: l.get("calc")?.str()?.to_owned(),
    })
}

/// The path of the first place where `got` differs from `want` (keys in `want`'s order,
/// then keys only `got` has), or `None` when they are equal.
pub(crate) fn first_difference(got: &Value, want: &Value, path: &str) -> Option<String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w
            .keys()
            .chain(g.keys().filter(|k| !w.contains_key(*k)))
            .find_map(|key| {
                let inner = format!("{path}.{key}");
                match (g.get(key), w.get(key)) {
                    (Some(g), Some(w)) => first_difference(g, w, &inner),
                    _ => Some(inner),
                }
            }),
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => g
            .iter()
            .zip(w)
            .enumerate()
            .find_map(|(i, (g, w))| first_difference(g, w, &format!("{path}[{i}]"))),
        _ if got == want => None,
        _ => Some(path.to_owned()),
    }
}

/// Checks the double entry: each line that moves money posts `−amount` on `from` and
/// `+amount` on `to`, both on one account, in that order; a memo line posts nothing; the
/// totals are each party's sums, in party id order.
pub(crate) fn check_double_entry(statement: &Statement, path: &str) -> Result<(), String> {
    let zero = Money::zero(statement.currency);
    let mut expected: Vec<(u32, &str, Money)> = Vec::new();
    let mut totals: BTreeMap<&str, (Money, Money)> = BTreeMap::new();
    let overflow = |_| format!("{path}: the amounts overflow");
    for line in statement.lines.iter().filter(|l| !l.is_memo()) {
        expected.push((
            line.n,
            &line.key.from,
            line.amount.checked_neg().map_err(overflow)?,
        ));
        expected.push((line.n, &line.key.to, line.amount));
        let from = totals.entry(&line.key.from).or_insert((zero, zero));
        from.0 = from.0.checked_add(line.amount).map_err(overflow)?;
        let to = totals.entry(&line.key.to).or_insert((zero, zero));
        to.1 = to.1.checked_add(line.amount).map_err(overflow)?;
    }
    let got: Vec<(u32, &str, Money)> = statement
        .postings
        .iter()
        .map(|p| (p.line, p.party.as_str(), p.amount))
        .collect();
    if got != expected {
        return Err(format!(
            "{path}.postings are not the double entry of its lines (−amount on `from`, \
             +amount on `to` for each line that moves money)"
        ));
    }
    if let Some(pair) = statement
        .postings
        .chunks(2)
        .find(|pair| pair.iter().any(|p| p.account != pair[0].account))
    {
        return Err(format!(
            "{path}.postings of line {} are on two accounts",
            pair[0].line
        ));
    }
    let got: Vec<(&str, Money, Money)> = statement
        .totals
        .iter()
        .map(|t| (t.party.as_str(), t.pays, t.receives))
        .collect();
    let expected: Vec<(&str, Money, Money)> = totals
        .into_iter()
        .map(|(party, (pays, receives))| (party, pays, receives))
        .collect();
    if got != expected {
        return Err(format!(
            "{path}.totals are not what its lines make each party pay and receive"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A golden statement vector (`tests/vectors/statement-*.json`): its JSON, canonical
    /// bytes and hash, as the ledger computed them.
    fn vector(name: &str) -> Result<(Value, String, String), String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/vectors")
            .join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
        let field = |key: &str| {
            v[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{name}: no {key}"))
        };
        Ok((
            v["statement"].clone(),
            field("canonical_hex")?,
            field("hash")?,
        ))
    }

    #[test]
    fn golden_statements_read_back_to_their_canonical_bytes() -> Result<(), String> {
        // The demo's: sustainment runs and a facility. Scenario A's: accepted, rejected and
        // clawed-back decisions, a cap, the previous statement and a waterfall.
        for name in ["statement-demo.json", "statement-a-2013-Q4.json"] {
            let (json, canonical, hash) = vector(name)?;
            let statement = from_json(&json, "statement")?;
            let bytes = statement.canonical_bytes().map_err(|e| e.reason)?;
            assert_eq!(pbr_core::ids::hex(&bytes), canonical, "{name}");
            assert_eq!(pbr_core::ids::hex(&statement.hash), hash, "{name}");
            check_double_entry(&statement, "statement")?;
        }
        Ok(())
    }

    #[test]
    fn a_statement_that_pbr_would_write_differently_is_refused() -> Result<(), String> {
        let (json, _, _) = vector("statement-a-2013-Q4.json")?;
        type Tamper = fn(&mut Value);
        let cases: [(&str, Tamper); 4] = [
            ("one decimal", |s| {
                s["lines"][0]["amount"] = Value::from("1.0")
            }),
            ("a wrong period end", |s| {
                s["to"] = Value::from("2013-12-30")
            }),
            ("a wrong net", |s| {
                s["totals"][0]["net"] = Value::from("0.01")
            }),
            ("an extra field", |s| s["issued_seq"] = Value::from(3)),
        ];
        for (what, tamper) in cases {
            let mut bad = json.clone();
            tamper(&mut bad);
            let refused = from_json(&bad, "statement").err().unwrap_or_default();
            assert!(
                refused.contains("is not as pbr writes a statement"),
                "{what}: {refused}"
            );
        }
        Ok(())
    }

    #[test]
    fn postings_that_do_not_balance_their_lines_are_refused() -> Result<(), String> {
        let (json, _, _) = vector("statement-a-2013-Q4.json")?;
        let mut statement = from_json(&json, "statement")?;
        statement.postings.swap(0, 1);
        assert!(check_double_entry(&statement, "s").is_err());
        let mut statement = from_json(&json, "statement")?;
        assert!(statement.totals.len() > 1);
        statement.totals.reverse();
        assert!(check_double_entry(&statement, "s").is_err());
        Ok(())
    }
}
