//! `pbr report indigo`: the INDIGO project JSON (`domain.md` §2, `docs/reports.md`) of the
//! worked scenarios, loaded through the CLI. Expected figures come from
//! `tests/scenarios/<x>/expected.json` (transcribed by hand from scenarios.md), never from the
//! program's output. Amounts are compared as exact integers of minor units.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::scenarios::{load_scenario, logged_by_id, repo};
use crate::support::{pbr, pbr_ok};

/// An amount in minor units from a decimal string with two decimals ("-3300.00").
fn cents(text: &str) -> i64 {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let (units, minor) = digits
        .split_once('.')
        .unwrap_or_else(|| panic!("{text:?} is not an amount with two decimals"));
    assert_eq!(minor.len(), 2, "{text:?}");
    sign * (units.parse::<i64>().unwrap() * 100 + minor.parse::<i64>().unwrap())
}

/// A JSON string amount in minor units.
fn amount(value: &Value) -> i64 {
    cents(
        value
            .as_str()
            .unwrap_or_else(|| panic!("{value} is not a string")),
    )
}

/// `2013Q2` (scenarios.md) as the ledger's period id, `2013-Q2`.
fn period_id(quarter: &str) -> String {
    let (year, q) = quarter.split_once('Q').unwrap();
    format!("{year}-Q{q}")
}

fn expected(scenario: &str) -> Value {
    let path = repo().join(format!("tests/scenarios/{scenario}/expected.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn report(ledger: &str, extra: &[&str]) -> String {
    let mut args = vec!["--ledger", ledger, "report", "indigo"];
    args.extend_from_slice(extra);
    pbr_ok(&args)
}

/// The sum of `outcome_payments` per (period, payer, recipient), in minor units.
fn payments_by_period(project: &Value) -> BTreeMap<(String, String, String), i64> {
    let mut sums = BTreeMap::new();
    for row in project["outcome_payments"].as_array().unwrap() {
        assert_eq!(row["type"], "Actual");
        let key = (
            row["outcome_payment_plan_id"].as_str().unwrap().to_owned(),
            row["payer_organisation_id"].as_str().unwrap().to_owned(),
            row["recipient_organisation_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        *sums.entry(key).or_insert(0) += amount(&row["money"]["amount"]);
    }
    sums
}

/// The results by metric id.
fn results(project: &Value) -> BTreeMap<String, Value> {
    project["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["outcome_metric_id"].as_str().unwrap().to_owned(),
                r.clone(),
            )
        })
        .collect()
}

/// Asserts that the report names no participant: none of the participant references the
/// ledger's events carry, and no 64-hex string at all (a pseudonym, a hash or a key).
fn assert_no_participant_data(ledger: &str, text: &str) {
    let refs: BTreeSet<String> = logged_by_id(ledger)
        .values()
        .filter_map(|(_, event)| event["participant"].as_str().map(str::to_owned))
        .collect();
    assert!(!refs.is_empty(), "the scenario has participants");
    for r in &refs {
        assert_eq!(r.len(), 64, "{r}");
        assert!(!text.contains(r.as_str()), "participant {r} in the report");
    }
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        assert!(run < 64, "a 64-hex string in the report: {text}");
    }
}

/// Scenario A: the outcome payments per quarter are A.5's "DWP pays SPV (net)" column, the
/// results per outcome count A.4's accepted claims (rows 31 and 32, accepted but capped to
/// 0.00, included; row 17, clawed back by row 23, excluded), the SPV waterfall shows as
/// transactions, and the report is deterministic and holds no participant data.
#[test]
fn test_report_indigo_scenario_a() {
    let (_dir, ledger, _) = load_scenario("a");
    let text = report(&ledger, &[]);
    assert!(text.ends_with("}\n") && text.lines().count() == 1, "{text}");
    let project: Value = serde_json::from_str(&text).unwrap();
    let expected = expected("a");

    // Byte-identical on a second run, and with --json or the contract named.
    assert_eq!(report(&ledger, &[]), text);
    assert_eq!(report(&ledger, &["--contract", "scenario-a"]), text);
    assert_eq!(
        pbr_ok(&["--ledger", &ledger, "--json", "report", "indigo"]),
        text
    );
    assert_eq!(report(&ledger, &["--through", "2014-Q3"]), text);
    assert_no_participant_data(&ledger, &text);

    // The header: what the ledger knows and what it does not (null).
    assert_eq!(project["contract"], "scenario-a");
    assert_eq!(project["through"], "2014-Q3");
    assert_eq!(project["id"], Value::Null);
    assert_eq!(project["stage_development"], Value::Null);
    assert_eq!(
        project["name"],
        "Innovation Fund style rate card with participant and programme caps"
    );
    assert_eq!(
        project["dates"]["start_date_of_service_provision"],
        "2013-01-01"
    );
    assert_eq!(
        project["dates"]["anticipated_completion_date"],
        "2014-09-30"
    );
    assert_eq!(project["dates"]["outcomes_contract_signed"], Value::Null);

    // One payment plan per quarter, 2013-Q1 to 2014-Q3.
    let plans: Vec<&str> = project["outcome_payment_plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        plans,
        [
            "2013-Q1", "2013-Q2", "2013-Q3", "2013-Q4", "2014-Q1", "2014-Q2", "2014-Q3"
        ]
    );
    assert_eq!(
        project["outcome_payment_plans"][1]["period"],
        serde_json::json!({"start_date": "2013-04-01", "end_date": "2013-06-30"})
    );

    // A.5: what DWP pays the SPV each quarter, summed over the metrics.
    let sums = payments_by_period(&project);
    for key in sums.keys() {
        assert_eq!((key.1.as_str(), key.2.as_str()), ("dwp", "spv"), "{key:?}");
    }
    let mut cumulative = 0;
    for row in expected["quarters"]["rows"].as_array().unwrap() {
        let quarter = period_id(row["quarter"].as_str().unwrap());
        let paid = sums
            .get(&(quarter.clone(), "dwp".into(), "spv".into()))
            .copied()
            .unwrap_or(0);
        assert_eq!(paid, amount(&row["dwp_pays_spv"]), "{quarter}");
        cumulative += paid;
        assert_eq!(cumulative, amount(&row["cumulative_dwp_paid"]), "{quarter}");
    }
    assert_eq!(
        amount(&project["overall_project_finance"]["total_outcome_payments_made"]["amount"]),
        cumulative
    );
    assert_eq!(
        project["overall_project_finance"]["maximum_potential_outcome_payment_v2"],
        serde_json::json!({"currency": "GBP", "amount": "50000.00", "amount_usd": null})
    );
    // The claw-back (row 23) nets into O4's 2013-Q4 payment, which is negative.
    let o4_q4: Vec<&Value> = project["outcome_payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["outcome_metric_id"] == "O4" && p["outcome_payment_plan_id"] == "2013-Q4")
        .collect();
    assert_eq!(o4_q4.len(), 1);
    assert_eq!(amount(&o4_q4[0]["money"]["amount"]), -330_000);

    // A.4: accepted claims per outcome (PAID, PAID PARTIAL, ACCEPTED with 0 paid), less the
    // claw-back, and the participants behind them.
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut achievers: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for row in expected["claims"]["rows"].as_array().unwrap() {
        let outcome = row["outcome"].as_str().unwrap().to_owned();
        let participant = row["participant"].as_str().unwrap().to_owned();
        let decision = row["decision"].as_str().unwrap();
        let delta = match row["kind"].as_str().unwrap() {
            "claim" if decision.starts_with("PAID") || decision.starts_with("ACCEPTED") => 1,
            "claim" => 0,
            "clawback" => -1,
            other => panic!("{other}"),
        };
        *counts.entry(outcome.clone()).or_insert(0) += delta;
        *achievers
            .entry(outcome)
            .or_default()
            .entry(participant)
            .or_insert(0) += delta;
    }
    let results = results(&project);
    for (outcome, count) in &counts {
        let result = &results[outcome];
        assert_eq!(
            result["outcomes_achieved"].as_i64().unwrap(),
            *count,
            "{outcome}"
        );
        let positive = achievers[outcome].values().filter(|n| **n > 0).count();
        assert_eq!(
            result["number_with_positive_social_outcomes"]
                .as_u64()
                .unwrap(),
            positive as u64,
            "{outcome}"
        );
        assert_eq!(result["number_engaged_in_impact_bond"], 12, "{outcome}");
        assert_eq!(result["result_type"], "Final");
        assert_eq!(result["outcomes_validator_organisation_ids"], "dwp");
        assert_eq!(
            result["period"],
            serde_json::json!({"start_date": "2013-01-01", "end_date": "2014-09-30"})
        );
    }
    // By hand from A.4: O8 rows 6, 20, 24, 26, 30, 31 (31 capped to 0.00); O9 rows 18, 25,
    // 29, 32 (32 capped to 0.00); O4 rows 14, 15, 17, less 17's claw-back.
    assert_eq!(results["O8"]["outcomes_achieved"], 6);
    assert_eq!(results["O9"]["outcomes_achieved"], 4);
    assert_eq!(results["O4"]["outcomes_achieved"], 2);
    assert_eq!(
        results["O8"]["notes"],
        "includes 1 not paid and 2 paid in part because of a cap"
    );
    assert_eq!(
        results["O9"]["notes"],
        "includes 1 not paid because of a cap"
    );
    assert_eq!(results["O4"]["notes"], "excludes 1 clawed back");
    assert_eq!(results["O1"]["notes"], Value::Null);
    assert_eq!(results.len(), 9, "one result per outcome of A.2");

    // A.2: the rate card.
    let pricings: BTreeMap<&str, &Value> = project["outcome_pricings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["outcome_metric_id"].as_str().unwrap(), p))
        .collect();
    for (code, price) in [
        ("O1", "1300.00"),
        ("O2", "1400.00"),
        ("O3", "1100.00"),
        ("O4", "3300.00"),
        ("O5", "5100.00"),
        ("O6", "2000.00"),
        ("O7", "1200.00"),
        ("O8", "3500.00"),
        ("O9", "2000.00"),
    ] {
        assert_eq!(pricings[code]["price_per_unit"]["amount"], price, "{code}");
        assert_eq!(pricings[code]["currency"], "GBP");
    }
    let o9 = project["outcome_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "O9")
        .unwrap();
    assert_eq!(o9["definition"], "Sustained employment, 26 weeks");
    assert_eq!(
        o9["notes"],
        "once per participant; sustained 26 weeks; requires O8; achieved by 2014-03-31; \
         decided by 2014-06-30"
    );

    // Transactions: the investor's 30,000.00, and the SPV passing DWP's payments on (A.5).
    let transactions = project["transactions"].as_array().unwrap();
    let disbursed: Vec<&Value> = transactions
        .iter()
        .filter(|t| t["notes"] == "funds-disbursed:working-capital")
        .collect();
    assert_eq!(disbursed.len(), 1);
    assert_eq!(disbursed[0]["date"], "2013-01-01");
    assert_eq!(disbursed[0]["sending_organisation_id"], "investor");
    assert_eq!(disbursed[0]["receiving_organisation_id"], "spv");
    assert_eq!(amount(&disbursed[0]["money"]["amount"]), 3_000_000);
    for (rule, column, to) in [
        ("waterfall:principal", "investor_principal", "investor"),
        ("waterfall:return", "investor_return", "investor"),
        ("waterfall:performance surplus", "provider", "provider"),
    ] {
        for row in expected["quarters"]["rows"].as_array().unwrap() {
            let quarter = period_id(row["quarter"].as_str().unwrap());
            let last_day = project["outcome_payment_plans"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == quarter.as_str())
                .unwrap()["period"]["end_date"]
                .clone();
            let paid: i64 = transactions
                .iter()
                .filter(|t| t["notes"] == rule && t["date"] == last_day)
                .inspect(|t| {
                    assert_eq!(t["sending_organisation_id"], "spv");
                    assert_eq!(t["receiving_organisation_id"], to);
                })
                .map(|t| amount(&t["money"]["amount"]))
                .sum();
            assert_eq!(paid, amount(&row[column]), "{rule} {quarter}");
        }
    }
}

/// Scenario D: company milestones split between K1, K2 and K3 appear per payer, each
/// municipality's outcome payments per quarter are D.5's, and the ESF's reimbursements are
/// grants to each municipality.
#[test]
fn test_report_indigo_scenario_d_per_payer() {
    let (_dir, ledger, _) = load_scenario("d");
    let text = report(&ledger, &[]);
    assert_eq!(report(&ledger, &[]), text);
    assert_no_participant_data(&ledger, &text);
    for company in ["\"S1\"", "\"S2\"", "\"S3\"", "\"S4\""] {
        assert!(!text.contains(company), "{company} in the report");
    }
    let project: Value = serde_json::from_str(&text).unwrap();
    let expected = expected("d");
    let payments = project["outcome_payments"].as_array().unwrap();

    // D.4 rows 18, 19 and 21: CM1 in 2025-Q1, split per municipality.
    let mut cm1: BTreeMap<String, i64> = BTreeMap::new();
    for row in expected["claims"]["rows"].as_array().unwrap() {
        if row["outcome"] == "CM1" && row["quarter"] == "2025Q1" {
            for (k, share) in row["split"].as_object().unwrap() {
                *cm1.entry(k.clone()).or_insert(0) += amount(share);
            }
        }
    }
    assert_eq!(cm1.len(), 3);
    let rows: BTreeMap<String, i64> = payments
        .iter()
        .filter(|p| p["outcome_metric_id"] == "CM1" && p["outcome_payment_plan_id"] == "2025-Q1")
        .map(|p| {
            assert_eq!(p["recipient_organisation_id"], "operator");
            (
                p["payer_organisation_id"].as_str().unwrap().to_owned(),
                amount(&p["money"]["amount"]),
            )
        })
        .collect();
    assert_eq!(rows, cm1);
    assert_eq!(rows["K1"], 2_500_002);
    assert_eq!(rows["K2"], 2_499_999);

    // D.5: each municipality's outcome payments per quarter.
    let sums = payments_by_period(&project);
    let mut total = 0;
    for row in expected["quarters"]["rows"].as_array().unwrap() {
        let quarter = period_id(row["quarter"].as_str().unwrap());
        for (k, paid) in row["paid"].as_object().unwrap() {
            let actual = sums
                .get(&(quarter.clone(), k.clone(), "operator".into()))
                .copied()
                .unwrap_or(0);
            assert_eq!(actual, amount(paid), "{k} {quarter}");
            total += actual;
        }
    }
    assert_eq!(
        sums.values().sum::<i64>(),
        total,
        "no other payer or period"
    );
    assert_eq!(total, amount(&expected["operator"]["received"]));

    // D.5: the ESF's 50 % reimbursement, received at the end of the next quarter.
    let transactions = project["transactions"].as_array().unwrap();
    for row in expected["quarters"]["rows"].as_array().unwrap() {
        let quarter = period_id(row["quarter"].as_str().unwrap());
        let last_day = project["outcome_payment_plans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == quarter.as_str())
            .unwrap()["period"]["end_date"]
            .clone();
        for (k, esf) in row["esf_in"].as_object().unwrap() {
            let received: i64 = transactions
                .iter()
                .filter(|t| {
                    t["notes"] == "co-financing:esf"
                        && t["date"] == last_day
                        && t["receiving_organisation_id"] == k.as_str()
                })
                .inspect(|t| {
                    assert_eq!(t["sending_organisation_id"], "esf");
                    assert_eq!(t["transaction_type"], "Grant");
                })
                .map(|t| amount(&t["money"]["amount"]))
                .sum();
            assert_eq!(received, amount(esf), "ESF to {k} in {quarter}");
        }
    }

    // D.4: accepted claims per outcome; companies count as engaged for company outcomes.
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for row in expected["claims"]["rows"].as_array().unwrap() {
        if row["decision"] == "PAID" {
            *counts
                .entry(row["outcome"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    let results = results(&project);
    for (outcome, count) in &counts {
        assert_eq!(results[outcome]["outcomes_achieved"], *count, "{outcome}");
    }
    assert_eq!(results["CO1"]["outcomes_achieved"], 10);
    assert_eq!(results["CO1"]["number_engaged_in_impact_bond"], 15);
    assert_eq!(results["CM1"]["number_engaged_in_impact_bond"], 4);
    assert_eq!(
        results["CM1"]["outcomes_validator_organisation_ids"],
        "K1,K2,K3"
    );
    let cm1_metric = project["outcome_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "CM1")
        .unwrap();
    assert_eq!(
        cm1_metric["unit_type_of_targeted_service_users_or_beneficiaries"],
        "Other"
    );
    assert_eq!(
        cm1_metric["unit_description_of_service_user_or_beneficiaries"],
        "Company"
    );
}

/// `--through` cuts the report at a period: scenario A through 2013-Q3 has no claw-back
/// yet (row 23 is decided in 2013-Q4), and its results are interim. Bad periods and
/// contracts are bad input.
#[test]
fn test_report_indigo_through_and_errors() {
    let (_dir, ledger, _) = load_scenario("a");
    let project: Value = serde_json::from_str(&report(&ledger, &["--through", "2013-Q3"])).unwrap();
    assert_eq!(project["through"], "2013-Q3");
    assert_eq!(
        project["outcome_payment_plans"].as_array().unwrap().len(),
        3
    );
    let sums = payments_by_period(&project);
    let periods: BTreeSet<&str> = sums.keys().map(|k| k.0.as_str()).collect();
    assert_eq!(periods, BTreeSet::from(["2013-Q2", "2013-Q3"]));
    // A.5: 10,200.00 + 23,000.00 = the cumulative 33,200.00 of 2013Q3.
    assert_eq!(sums.values().sum::<i64>(), 3_320_000);
    let results = results(&project);
    // A.4 rows 14, 15, 17, all before the claw-back.
    assert_eq!(results["O4"]["outcomes_achieved"], 3);
    assert_eq!(results["O4"]["result_type"], "Interim");
    assert_eq!(results["O4"]["period"]["end_date"], "2013-09-30");

    for (args, message) in [
        (&["--through", "2013"][..], "not a settlement period"),
        (
            &["--through", "2013-13"],
            "--through: \"2013-13\" is not a period",
        ),
        (
            &["--through", "2012-Q4"],
            "before scenario-a's first settlement period",
        ),
        (
            &["--contract", "scenario-x"],
            "contract scenario-x is not registered",
        ),
    ] {
        let mut all = vec!["--ledger", ledger.as_str(), "report", "indigo"];
        all.extend_from_slice(args);
        let run = pbr(&all);
        assert_eq!(run.code, 3, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

/// Scenarios B and C: the payments for results that are not claims. B's repayments to DSI
/// out of measured savings (B.4) and C's payments for months of qualified runs (C.5) are the
/// outcome payments; C's facility and grant are transactions.
#[test]
fn test_report_indigo_savings_and_sustainment() {
    let (_dir, ledger, _) = load_scenario("b");
    let text = report(&ledger, &[]);
    assert_no_participant_data(&ledger, &text);
    let project: Value = serde_json::from_str(&text).unwrap();
    let expected_b = expected("b");
    let sums = payments_by_period(&project);
    for row in expected_b["quarters"]["rows"].as_array().unwrap() {
        let quarter = period_id(row["settled"].as_str().unwrap());
        let paid = sums
            .get(&(quarter.clone(), "brondby".into(), "dsi".into()))
            .copied()
            .unwrap_or(0);
        assert_eq!(paid, amount(&row["repayment"]), "{quarter}");
    }
    assert_eq!(
        sums.values().sum::<i64>(),
        amount(&expected_b["totals"]["repayments"])
    );
    let results_b = results(&project);
    let months: u64 = expected_b["quarters"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["off_benefit_months"].as_u64().unwrap())
        .sum();
    assert_eq!(results_b["savings"]["outcomes_achieved"], months);
    // B.3: B01, B02, B03, B05, B07, B08, B10 and B12 have off-benefit months.
    assert_eq!(
        results_b["savings"]["number_with_positive_social_outcomes"],
        8
    );
    assert_eq!(results_b["savings"]["number_engaged_in_impact_bond"], 18);

    let (_dir, ledger, _) = load_scenario("c");
    let text = report(&ledger, &[]);
    assert_no_participant_data(&ledger, &text);
    let project: Value = serde_json::from_str(&text).unwrap();
    let expected_c = expected("c");
    let sums = payments_by_period(&project);
    for row in expected_c["quarters"]["rows"].as_array().unwrap() {
        let quarter = period_id(row["quarter"].as_str().unwrap());
        let paid = sums
            .get(&(quarter.clone(), "aalborg".into(), "fokus".into()))
            .copied()
            .unwrap_or(0);
        assert_eq!(paid, amount(&row["outcome_payment"]), "{quarter}");
    }
    assert_eq!(
        sums.values().sum::<i64>(),
        amount(&expected_c["totals"]["outcome_payments"])
    );
    let results_c = results(&project);
    // C.7: 132 F-months and 42 P-months; no success bonus (11 of 24 achieved).
    assert_eq!(results_c["sustainment:full"]["outcomes_achieved"], 132);
    assert_eq!(results_c["sustainment:partial"]["outcomes_achieved"], 42);
    assert_eq!(results_c["success-bonus"]["outcomes_achieved"], 0);
    assert_eq!(
        results_c["success-bonus"]["number_with_positive_social_outcomes"],
        Value::Null
    );
    let transactions = project["transactions"].as_array().unwrap();
    let sum_of = |notes: &str| -> i64 {
        transactions
            .iter()
            .filter(|t| t["notes"] == notes)
            .map(|t| amount(&t["money"]["amount"]))
            .sum()
    };
    assert_eq!(
        sum_of("facility:draw"),
        amount(&expected_c["totals"]["drawn"])
    );
    assert_eq!(
        sum_of("facility:repayment"),
        amount(&expected_c["totals"]["drawn"])
    );
    assert_eq!(sum_of("facility:fee"), amount(&expected_c["totals"]["fee"]));
    assert_eq!(sum_of("funds-disbursed:grant"), 72_000_000);
}
