//! Acceptance tests of the settlement engine: the four worked scenarios of
//! `docs/scenarios.md` (§5.A to §5.D), loaded through the real CLI, every quarter's
//! statement issued in order with `pbr settle --issue` from the quarter of the terms'
//! `[contract] start` to the last quarter of the scenario's table, then compared with
//! `pbr balance` and `pbr audit`.
//!
//! The expected figures live in `tests/scenarios/<x>/expected.json`, transcribed by hand from
//! scenarios.md and never taken from the program's output; this file only says where each one
//! shows in the JSON of `docs/settlement.md`. Amounts are compared as exact integers of minor
//! units, never as floats. Each test collects every mismatch before failing, so one run lists
//! all the figures that disagree.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde_json::Value;

use crate::scenarios::{import_id, load_scenario, logged_by_id, repo, setup};
use crate::support::pbr_ok;

// ---------------------------------------------------------------------------------------------
// Amounts, quarters and the expected files.

/// An amount in minor units from a decimal string with exactly two decimals: "-1234.56" is
/// -123456. Anything else (floats, thousands separators, other precisions) is refused.
fn cents(text: &str) -> i64 {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match digits.split_once('.') {
        Some((units, minor)) if all_digits(units) && all_digits(minor) && minor.len() == 2 => {
            let units: i64 = units.parse().expect("an amount within i64");
            sign * (units * 100 + minor.parse::<i64>().unwrap())
        }
        _ => panic!("{text:?} is not an amount with two decimals"),
    }
}

/// A JSON string amount in minor units (see [`cents`]).
fn amount(value: &Value) -> i64 {
    cents(string(value))
}

/// Minor units as a decimal string, for messages.
fn show(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

/// A JSON string.
fn string(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"))
}

#[test]
fn amounts_parse_to_exact_minor_units() {
    assert_eq!(cents("10200.00"), 1_020_000);
    assert_eq!(cents("-3300.00"), -330_000);
    assert_eq!(cents("0.01"), 1);
    assert_eq!(cents("282499.99"), 28_249_999);
    assert_eq!(show(-1), "-0.01");
    for bad in [
        "1,200.00", "12.5", "12", "1e3", "-", ".50", "12.500", "- 1.00",
    ] {
        assert!(std::panic::catch_unwind(|| cents(bad)).is_err(), "{bad}");
    }
}

/// A calendar quarter, written `2013Q2` in scenarios.md and `2013-Q2` by `pbr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Quarter {
    year: i32,
    number: u32,
}

impl Quarter {
    /// From scenarios.md's `2013Q2`.
    fn parse(label: &str) -> Quarter {
        let (year, number) = label
            .split_once('Q')
            .unwrap_or_else(|| panic!("{label:?} is not a quarter"));
        Quarter {
            year: year.parse().unwrap(),
            number: number.parse().unwrap(),
        }
    }

    /// The quarter holding the `YYYY-MM-DD` date `date`.
    fn of_date(date: &str) -> Quarter {
        let mut parts = date.split('-');
        let year = parts.next().unwrap().parse().unwrap();
        let month: u32 = parts.next().unwrap().parse().unwrap();
        Quarter {
            year,
            number: (month - 1) / 3 + 1,
        }
    }

    fn next(self) -> Quarter {
        match self.number {
            4 => Quarter {
                year: self.year + 1,
                number: 1,
            },
            n => Quarter {
                year: self.year,
                number: n + 1,
            },
        }
    }

    /// As `pbr settle --period` takes it and statements print it.
    fn period(self) -> String {
        format!("{}-Q{}", self.year, self.number)
    }
}

impl Display for Quarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}Q{}", self.year, self.number)
    }
}

/// `tests/scenarios/<scenario>/expected.json`.
fn expected(scenario: &str) -> Value {
    let path = repo().join(format!("tests/scenarios/{scenario}/expected.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `rows` of a section of an expected file.
fn rows(section: &Value) -> &[Value] {
    section["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{section} has no rows"))
}

/// A value of the `[contract]` table of the scenario's terms (`key = value` on one line).
fn contract_term(scenario: &str, key: &str) -> String {
    let path = repo().join(format!("tests/scenarios/{scenario}/contract.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut in_contract = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_contract = line == "[contract]";
        } else if in_contract
            && let Some((name, value)) = line.split_once('=')
            && name.trim() == key
        {
            return value.trim().trim_matches('"').to_owned();
        }
    }
    panic!("{}: no [contract] {key}", path.display())
}

/// Mismatches collected over a whole scenario, so that one run reports every wrong figure.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn amount(&mut self, what: impl Display, expected: i64, actual: i64) {
        if expected != actual {
            self.0.push(format!(
                "{what}: expected {}, got {}",
                show(expected),
                show(actual)
            ));
        }
    }

    fn same<T: PartialEq + std::fmt::Debug>(&mut self, what: impl Display, expected: T, actual: T) {
        if expected != actual {
            self.0
                .push(format!("{what}: expected {expected:?}, got {actual:?}"));
        }
    }

    fn fail(&mut self, what: impl Display) {
        self.0.push(what.to_string());
    }

    fn finish(self, scenario: &str) {
        assert!(
            self.0.is_empty(),
            "scenario {scenario}: {} figure(s) disagree with scenarios.md:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Settling a scenario, and what every statement must satisfy.

/// A scenario's ledger with every quarter's statement issued.
struct Settled {
    _dir: tempfile::TempDir,
    ledger: String,
    contract: String,
    /// Every event of the import by id, with its seq (before any statement).
    log: BTreeMap<String, (u64, Value)>,
    /// The issued statements, in period order.
    statements: Vec<(Quarter, Value)>,
}

impl Settled {
    /// The issued statement of `quarter` (scenarios.md's `2013Q2`).
    fn statement(&self, quarter: &str) -> &Value {
        let quarter = Quarter::parse(quarter);
        self.statements
            .iter()
            .find(|(q, _)| *q == quarter)
            .map(|(_, statement)| statement)
            .unwrap_or_else(|| panic!("no statement of {quarter} was issued"))
    }

    /// The seq of the event imported with client id `client` (e.g. `A-row-23`).
    fn seq(&self, client: &str) -> u64 {
        self.log
            .get(&import_id(client))
            .unwrap_or_else(|| panic!("no event {client} in the log"))
            .0
    }

    /// The statement subject of the participant enrolled by the row `client` (e.g.
    /// `A-enrol-P01`): `participant:<ref hex>` of the enrolment event.
    fn participant(&self, client: &str) -> String {
        let (_, event) = self
            .log
            .get(&import_id(client))
            .unwrap_or_else(|| panic!("no event {client} in the log"));
        assert_eq!(event["kind"], "participant-enrolled", "{client}");
        format!("participant:{}", string(&event["participant"]))
    }

    /// `pbr balance --contract C --json`, by party.
    fn balances(&self) -> BTreeMap<String, Value> {
        let json = pbr_ok(&[
            "--ledger",
            &self.ledger,
            "balance",
            "--contract",
            &self.contract,
            "--json",
        ]);
        let balances: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(balances["contract"], self.contract.as_str(), "{json}");
        balances["parties"]
            .as_array()
            .unwrap_or_else(|| panic!("no parties in {json}"))
            .iter()
            .map(|party| (string(&party["party"]).to_owned(), party.clone()))
            .collect()
    }
}

/// The fields of a statement in docs/settlement.md, "Statement JSON".
const STATEMENT_FIELDS: [&str; 14] = [
    "contract",
    "period",
    "from",
    "to",
    "final",
    "currency",
    "log_position",
    "previous",
    "decisions",
    "lines",
    "totals",
    "postings",
    "facility",
    "hash",
];

/// Loads `scenario` through the CLI and issues its statements, one per quarter, in order, from
/// the quarter of `[contract] start` through `last` (the last quarter of the scenario's table),
/// signed with the commissioner's key. Checks each statement with [`check_statement`] and the
/// whole log with [`check_audit`].
fn settle_all(scenario: &str, last: Quarter) -> Settled {
    let (dir, ledger, keys) = load_scenario(scenario);
    let log = logged_by_id(&ledger);
    let (commissioner, _, _) = setup(scenario);
    let contract = contract_term(scenario, "id");
    let end = Quarter::of_date(&contract_term(scenario, "end"));
    let mut statements: Vec<(Quarter, Value)> = Vec::new();
    let mut quarter = Quarter::of_date(&contract_term(scenario, "start"));
    while quarter <= last {
        let period = quarter.period();
        let settle = |extra: &[&str]| -> Value {
            let mut args = vec![
                "--ledger",
                &ledger,
                "settle",
                "--contract",
                &contract,
                "--period",
                &period,
                "--json",
            ];
            args.extend_from_slice(extra);
            serde_json::from_str(&pbr_ok(&args)).unwrap()
        };
        let draft = settle(&[]);
        let issued = settle(&["--issue", "--key", &keys[commissioner]]);
        for name in STATEMENT_FIELDS {
            assert!(
                issued.get(name).is_some(),
                "{quarter}: no {name} in {issued}"
            );
            assert_eq!(
                issued[name], draft[name],
                "{quarter}: `settle --issue` prints the statement `settle` shows ({name})"
            );
        }
        check_statement(
            &issued,
            &contract,
            quarter,
            statements.last(),
            quarter == end,
        );
        statements.push((quarter, issued));
        quarter = quarter.next();
    }
    check_audit(&ledger, &contract, &statements);
    Settled {
        _dir: dir,
        ledger,
        contract,
        log,
        statements,
    }
}

/// docs/settlement.md, "Statement JSON", for every statement: it names its contract and
/// period, chains to the statement issued before it, is `final` exactly at the contract's
/// last quarter, its postings sum to zero, and so do its parties' totals.
fn check_statement(
    statement: &Value,
    contract: &str,
    quarter: Quarter,
    previous: Option<&(Quarter, Value)>,
    last: bool,
) {
    assert_eq!(statement["contract"], contract, "{quarter}");
    assert_eq!(statement["period"], quarter.period().as_str(), "{quarter}");
    assert_eq!(statement["final"], last, "{quarter}: final");
    match previous {
        None => assert!(statement["previous"].is_null(), "{quarter}: previous"),
        Some((before, earlier)) => {
            assert_eq!(
                statement["previous"]["period"],
                before.period().as_str(),
                "{quarter}: previous"
            );
            // An issued statement's seq is its log position (docs/settlement.md).
            assert_eq!(
                statement["previous"]["seq"], earlier["log_position"],
                "{quarter}: previous seq"
            );
        }
    }
    let postings = statement["postings"].as_array().expect("postings");
    let sum: i64 = postings.iter().map(|p| amount(&p["amount"])).sum();
    assert_eq!(sum, 0, "{quarter}: the postings sum to {}", show(sum));
    let totals = statement["totals"].as_array().expect("totals");
    let net: i64 = totals.iter().map(|t| amount(&t["net"])).sum();
    assert_eq!(net, 0, "{quarter}: the totals' net sum to {}", show(net));
}

/// `pbr audit --json` after all statements are issued: it exits 0, says `ok`, and lists each
/// issued statement once, at its seq, with the hash `settle --issue` printed recorded and
/// recomputed alike.
fn check_audit(ledger: &str, contract: &str, issued: &[(Quarter, Value)]) {
    let json = pbr_ok(&["--ledger", ledger, "audit", "--json"]);
    let audit: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(audit["ok"], true, "{json}");
    let listed: Vec<&Value> = audit["statements"]
        .as_array()
        .unwrap_or_else(|| panic!("no statements in {json}"))
        .iter()
        .filter(|s| s["contract"] == contract)
        .collect();
    assert_eq!(listed.len(), issued.len(), "{json}");
    for (entry, (quarter, statement)) in listed.iter().zip(issued) {
        assert_eq!(entry["period"], quarter.period().as_str(), "{json}");
        assert_eq!(entry["seq"], statement["log_position"], "{quarter}: {json}");
        assert_eq!(
            entry["recorded_hash"], statement["hash"],
            "{quarter}: {json}"
        );
        assert_eq!(
            entry["recomputed_hash"], statement["hash"],
            "{quarter}: {json}"
        );
        assert_eq!(entry["matches"], true, "{quarter}: {json}");
    }
}

// ---------------------------------------------------------------------------------------------
// Reading statements.

/// The lines of a statement.
fn lines(statement: &Value) -> &[Value] {
    statement["lines"].as_array().expect("lines")
}

/// The sum of the lines of `statement` that `which` selects.
fn line_sum(statement: &Value, which: impl Fn(&Value) -> bool) -> i64 {
    lines(statement)
        .iter()
        .filter(|line| which(line))
        .map(|line| amount(&line["amount"]))
        .sum()
}

/// A line's `rule`, `subject`, `from` or `to` (`""` when null).
fn field<'a>(line: &'a Value, name: &str) -> &'a str {
    line[name].as_str().unwrap_or("")
}

/// An outcome payment or its claw-back: `outcome:<code>` or `clawback:<code>`.
fn is_outcome_payment(line: &Value) -> bool {
    let rule = field(line, "rule");
    rule.starts_with("outcome:") || rule.starts_with("clawback:")
}

/// The decision of `statement` recorded by the event at `event_seq`.
fn decision(statement: &Value, event_seq: u64) -> Option<&Value> {
    statement["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["event_seq"].as_u64() == Some(event_seq))
}

/// The "expected decision" column of §5.A.4 and §5.D.4 as a statement decision's `result`,
/// `reason` (docs/validation.md) and `cap` (docs/settlement.md). The programme cap of §5.A is
/// the terms' `[caps] contract`, so a cap named "programme" is `contract`.
fn decision_fields(text: &str) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    match text {
        "PAID" => ("accepted", None, None),
        "PAID PARTIAL (participant cap)" | "ACCEPTED, 0 paid (participant cap)" => {
            ("accepted", None, Some("participant"))
        }
        "PAID PARTIAL (programme cap)" | "ACCEPTED, 0 paid (programme cap)" => {
            ("accepted", None, Some("contract"))
        }
        "RECOVERED" => ("clawed-back", None, None),
        "REJECT enrolment window" => ("rejected", Some("enrolment-window"), None),
        "REJECT age (school outcome)" => ("rejected", Some("eligibility"), None),
        "REJECT outcome window" => ("rejected", Some("outcome-window"), None),
        "REJECT claim deadline" => ("rejected", Some("claim-deadline"), None),
        "REJECT evidence" => ("rejected", Some("evidence"), None),
        "REJECT duplicate" => ("rejected", Some("duplicate"), None),
        "REJECT mutually exclusive CO2/CO3" => ("rejected", Some("mutually-exclusive"), None),
        "REJECT prerequisite O8" | "REJECT prerequisite CM1" => {
            ("rejected", Some("prerequisite"), None)
        }
        other => panic!("no mapping for the expected decision {other:?}"),
    }
}

/// Checks one row of §5.A.4 or §5.D.4: the statement of the row's quarter (the quarter of its
/// decision date, §5.0.3) holds the decision recorded by the row's event `event` (the
/// decision or claw-back row of the import), on the claim imported as `claim` (when the row
/// has one), about `subject`, with the expected result, reason, cap and amount.
fn check_decision(
    checks: &mut Checks,
    settled: &Settled,
    what: &str,
    row: &Value,
    (event, claim): (&str, Option<&str>),
    subject: &str,
    paid: i64,
) {
    let quarter = string(&row["quarter"]);
    let Some(decision) = decision(settled.statement(quarter), settled.seq(event)) else {
        checks.fail(format!(
            "{what}: no decision of {event} in the {quarter} statement"
        ));
        return;
    };
    if let Some(claim) = claim {
        checks.same(
            format!("{what}: claim_seq"),
            Some(settled.seq(claim)),
            decision["claim_seq"].as_u64(),
        );
    }
    let (result, reason, cap) = decision_fields(string(&row["decision"]));
    checks.same(
        format!("{what}: result"),
        Some(result),
        decision["result"].as_str(),
    );
    checks.same(
        format!("{what}: reason"),
        reason,
        decision["reason"].as_str(),
    );
    checks.same(format!("{what}: cap"), cap, decision["cap"].as_str());
    checks.amount(format!("{what}: amount"), paid, amount(&decision["amount"]));
    checks.same(
        format!("{what}: outcome"),
        row["outcome"].as_str(),
        decision["outcome"].as_str(),
    );
    checks.same(
        format!("{what}: subject"),
        Some(subject),
        decision["subject"].as_str(),
    );
    checks.same(
        format!("{what}: date"),
        row["decided"].as_str(),
        decision["date"].as_str(),
    );
}

/// Compares `pbr balance` with the expected `parties`: each named field of each named party
/// (docs/settlement.md, "Balances JSON").
fn check_balances(checks: &mut Checks, settled: &Settled, parties: &Value) {
    let balances = settled.balances();
    for (party, fields) in parties.as_object().expect("parties") {
        let Some(balance) = balances.get(party) else {
            checks.fail(format!("balance: no party {party}"));
            continue;
        };
        for (name, value) in fields.as_object().expect("fields") {
            checks.amount(
                format!("balance of {party}: {name}"),
                amount(value),
                amount(&balance[name]),
            );
        }
    }
}

/// The last quarter of a table of rows, from the column `column`.
fn last_quarter(table: &[Value], column: &str) -> Quarter {
    table
        .iter()
        .map(|row| Quarter::parse(string(&row[column])))
        .max()
        .expect("a table with rows")
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

/// Scenario A (§5.A): a DWP-style rate card with participant and programme caps, a claw-back,
/// and an SPV waterfall that repays the investor's principal, then a capped return, then pays
/// the provider.
#[test]
fn scenario_a_settles_as_scenarios_md_says() {
    let expected = expected("a");
    let settled = settle_all("a", last_quarter(rows(&expected["quarters"]), "quarter"));
    let mut checks = Checks::default();

    // §5.A.4: every claim decision and the claw-back, with what it pays. Row n's claim and
    // decision are the import rows A-claim-n and A-row-n; row 23 is a claw-back (of row 17's
    // claim), imported as A-row-23 alone.
    for row in rows(&expected["claims"]) {
        let n = row["row"].as_u64().unwrap();
        let subject = settled.participant(&format!("A-enrol-{}", string(&row["participant"])));
        let claim = (string(&row["kind"]) == "claim").then(|| format!("A-claim-{n}"));
        check_decision(
            &mut checks,
            &settled,
            &format!("A.4 row {n}"),
            row,
            (&format!("A-row-{n}"), claim.as_deref()),
            &subject,
            amount(&row["paid"]),
        );
    }

    // §5.A.5: per quarter, DWP's net payment to the SPV (its outcome, claw-back and
    // carry-forward lines) and the SPV waterfall's tiers (labels of the terms' [waterfall]);
    // the cumulative DWP payment runs over every statement from the contract's first quarter.
    let table: BTreeMap<Quarter, &Value> = rows(&expected["quarters"])
        .iter()
        .map(|row| (Quarter::parse(string(&row["quarter"])), row))
        .collect();
    let mut cumulative = 0;
    for (quarter, statement) in &settled.statements {
        let dwp_pays_spv = line_sum(statement, |l| {
            field(l, "from") == "dwp"
                && field(l, "to") == "spv"
                && (is_outcome_payment(l) || field(l, "rule") == "carry-forward")
        });
        cumulative += dwp_pays_spv;
        let Some(row) = table.get(quarter) else {
            continue;
        };
        let tier = |label: &str| {
            let rule = format!("waterfall:{label}");
            line_sum(statement, |l| field(l, "rule") == rule)
        };
        for (what, column, actual) in [
            ("DWP pays SPV (net)", "dwp_pays_spv", dwp_pays_spv),
            (
                "to investor principal",
                "investor_principal",
                tier("principal"),
            ),
            ("to investor return", "investor_return", tier("return")),
            ("to provider", "provider", tier("performance surplus")),
            ("cum. DWP paid", "cumulative_dwp_paid", cumulative),
        ] {
            checks.amount(
                format!("A.5 {quarter}: {what}"),
                amount(&row[column]),
                actual,
            );
        }
    }

    // §5.A.5, per-participant cumulative paid: outcome and claw-back lines by subject over
    // every statement.
    for (participant, paid) in expected["participants_paid"]["paid"].as_object().unwrap() {
        let subject = settled.participant(&format!("A-enrol-{participant}"));
        let actual = settled
            .statements
            .iter()
            .map(|(_, s)| {
                line_sum(s, |l| {
                    is_outcome_payment(l) && field(l, "subject") == subject
                })
            })
            .sum();
        checks.amount(
            format!("A.5 cumulative paid to {participant}"),
            amount(paid),
            actual,
        );
    }

    // §5.A.5, final balances.
    check_balances(&mut checks, &settled, &expected["balances"]["parties"]);
    checks.finish("A");
}

/// Scenario B (§5.B): Brøndby's savings, measured with a one-quarter register lag, repay DSI's
/// outlay first, then 11/23 of the excess up to the return cap; Brøndby retains the rest.
#[test]
fn scenario_b_settles_as_scenarios_md_says() {
    let expected = expected("b");
    let settled = settle_all("b", last_quarter(rows(&expected["quarters"]), "settled"));
    let mut checks = Checks::default();

    // §5.B.4: each row is settled in the statement of its "settled at end of" quarter:
    // `savings` lines give S_q, and the waterfall's tiers (labels of the terms' [waterfall])
    // the split; repayment to DSI = outlay + gain share. The cumulative columns run over every
    // statement from the contract's first quarter.
    let table: BTreeMap<Quarter, &Value> = rows(&expected["quarters"])
        .iter()
        .map(|row| (Quarter::parse(string(&row["settled"])), row))
        .collect();
    let (mut savings_total, mut repaid_total, mut retained_total) = (0, 0, 0);
    for (quarter, statement) in &settled.statements {
        let rule_sum = |rule: &str| line_sum(statement, |l| field(l, "rule") == rule);
        let savings = rule_sum("savings");
        let outlay = rule_sum("waterfall:outlay");
        let gain = rule_sum("waterfall:gain share");
        let retained = rule_sum("waterfall:retained");
        savings_total += savings;
        repaid_total += outlay + gain;
        retained_total += retained;
        let Some(row) = table.get(quarter) else {
            continue;
        };
        let measured = string(&row["measured"]);
        for (what, column, actual) in [
            ("savings S_q", "savings", savings),
            ("to outlay", "to_outlay", outlay),
            ("DSI gain share", "gain_share", gain),
            ("repayment to DSI", "repayment", outlay + gain),
            ("retained by Brøndby", "retained", retained),
            ("cum. S", "cumulative_savings", savings_total),
            ("cum. repaid", "cumulative_repaid", repaid_total),
        ] {
            checks.amount(
                format!("B.4 {measured} settled {quarter}: {what}"),
                amount(&row[column]),
                actual,
            );
        }
    }

    // §5.B.5 checks: Σ repayments, Σ retained, Σ S over all statements.
    let totals = &expected["totals"];
    checks.amount(
        "B.5 Σ repayments",
        amount(&totals["repayments"]),
        repaid_total,
    );
    checks.amount(
        "B.5 Σ retained",
        amount(&totals["retained"]),
        retained_total,
    );
    checks.amount("B.5 Σ S", amount(&totals["savings"]), savings_total);

    // §5.B.5, final balances.
    check_balances(&mut checks, &settled, &expected["balances"]["parties"]);
    checks.finish("B");
}

/// Scenario C (§5.C): Aalborg pays FOKUS for months of qualified runs; DSK's facility covers
/// FOKUS's shortfalls and earns its fee at the final settlement; no success bonus.
#[test]
fn scenario_c_settles_as_scenarios_md_says() {
    check_scenario_c("c");
}

/// Variant C-loss (§5.C.6): I13 self-sufficient only 2024-07..2025-06 and I19 never, so FOKUS
/// cannot repay DSK, and DSK, lender and guarantor both, loses what is outstanding at the
/// final settlement. The write-off of the unrepaid draws is a memo line: the draws already
/// moved that money, so FOKUS ends at its final cash (0.00) and DSK at fee − loss.
#[test]
fn scenario_c_loss_settles_as_scenarios_md_says() {
    check_scenario_c("c-loss");
}

/// Settles scenario C or its loss variant and checks every figure of its `expected.json`:
/// the quarterly table, the totals, the runs (when the variant lists them) and the final
/// balances.
fn check_scenario_c(scenario: &str) {
    let expected = expected(scenario);
    let table = rows(&expected["quarters"]);
    let last = last_quarter(table, "quarter");
    let settled = settle_all(scenario, last);
    let totals = &expected["totals"];
    let mut checks = Checks::default();

    // §5.C.5 (§5.C.6): per quarter, Aalborg's outcome payment (its `sustainment:*` lines to
    // FOKUS), the facility's draw and repayment lines, and the statement's `facility`
    // position.
    //
    // The table's FOKUS cash is the cash after steps 1-3 of the quarter-end sequence (§5.C.2).
    // The final settlement then pays DSK's fee, and docs/settlement.md lists `facility:fee`
    // with the facility's cash sequence at period end, so the final statement's
    // `facility.cash` is the position after the fee: the totals' "FOKUS final cash" 11,819.49,
    // which plus the fee line gives the table's 12,939.00. Likewise the table's outstanding
    // at the final quarter is before the loss is written off (the statement's position is
    // after it).
    let table: BTreeMap<Quarter, &Value> = table
        .iter()
        .map(|row| (Quarter::parse(string(&row["quarter"])), row))
        .collect();
    let mut peak = 0;
    let mut outcome_payments = 0;
    for (quarter, statement) in &settled.statements {
        let rule_sum = |rule: &str| line_sum(statement, |l| field(l, "rule") == rule);
        let payment = line_sum(statement, |l| {
            field(l, "rule").starts_with("sustainment:")
                && field(l, "from") == "aalborg"
                && field(l, "to") == "fokus"
        });
        outcome_payments += payment;
        let facility = &statement["facility"];
        if facility.is_null() {
            checks.fail(format!(
                "C.5 {quarter}: the statement has no facility position"
            ));
            continue;
        }
        let outstanding = amount(&facility["outstanding"]);
        let cash = amount(&facility["cash"]);
        let row = table[quarter];
        let fee = rule_sum("facility:fee");
        let write_off = rule_sum("facility:write-off");
        let (cash_before_fee, outstanding_before_loss) = if *quarter == last {
            checks.amount(
                format!("C.5 {quarter}: FOKUS final cash"),
                amount(&totals["final_cash"]),
                cash,
            );
            (cash + fee, outstanding + write_off)
        } else {
            checks.amount(format!("C {quarter}: write-off"), 0, write_off);
            (cash, outstanding)
        };
        peak = peak.max(outstanding_before_loss);
        for (what, column, actual) in [
            ("outcome payment Aalborg→FOKUS", "outcome_payment", payment),
            ("DSK draw", "draw", rule_sum("facility:draw")),
            (
                "repayment to DSK",
                "repayment",
                rule_sum("facility:repayment"),
            ),
            (
                "DSK outstanding (before any loss)",
                "outstanding",
                outstanding_before_loss,
            ),
            ("FOKUS cash (before any fee)", "cash", cash_before_fee),
        ] {
            checks.amount(
                format!("C.5 {quarter}: {what}"),
                amount(&row[column]),
                actual,
            );
        }
        if *quarter == last {
            // §5.C.5 totals and §5.C.7: the fee, everything drawn, the loss, and no success
            // bonus (11, or 10, of 24 achievers < 50 %), shown as a 0.00 line of the final
            // statement.
            checks.amount(format!("C {quarter}: DSK fee"), amount(&totals["fee"]), fee);
            checks.amount(
                format!("C {quarter}: DSK drawn"),
                amount(&totals["drawn"]),
                amount(&facility["drawn"]),
            );
            let loss = totals.get("loss").map_or(0, amount);
            checks.amount(
                format!("C {quarter}: DSK loss written off"),
                loss,
                write_off,
            );
            checks.amount(
                format!("C {quarter}: outstanding after the final settlement"),
                0,
                outstanding,
            );
            // DSK is lender and guarantor both: no guarantee line moves money between them,
            // and the write-off is a memo line, with no postings.
            checks.amount(
                format!("C {quarter}: guarantee:loss"),
                0,
                rule_sum("guarantee:loss"),
            );
            for line in lines(statement)
                .iter()
                .filter(|l| field(l, "rule") == "facility:write-off")
            {
                let n = &line["n"];
                let postings = statement["postings"]
                    .as_array()
                    .expect("postings")
                    .iter()
                    .filter(|p| p["line"] == *n)
                    .count();
                checks.same(
                    format!("C {quarter}: postings of the write-off line {n}"),
                    0,
                    postings,
                );
            }
            let bonus: Vec<&Value> = lines(statement)
                .iter()
                .filter(|l| field(l, "rule") == "success-bonus")
                .collect();
            checks.same(format!("C {quarter}: success-bonus lines"), 1, bonus.len());
            checks.amount(
                format!("C {quarter}: success bonus"),
                amount(&totals["success_bonus"]),
                bonus.iter().map(|l| amount(&l["amount"])).sum(),
            );
        }
    }
    checks.amount(
        "C.5 totals: outcome payments",
        amount(&totals["outcome_payments"]),
        outcome_payments,
    );
    checks.amount(
        "C.5 totals: DSK peak outstanding",
        amount(&totals["peak_outstanding"]),
        peak,
    );

    // §5.C.4: paid over life per participant (the sum of its runs), from the `sustainment:*`
    // lines with that subject over every statement.
    let mut paid: BTreeMap<&str, i64> = BTreeMap::new();
    for run in expected.get("runs").map(rows).unwrap_or_default() {
        *paid.entry(string(&run["participant"])).or_default() += amount(&run["paid"]);
    }
    let enrol = if scenario == "c" {
        "C-enrol"
    } else {
        "CL-enrol"
    };
    for (participant, expected_paid) in paid {
        let subject = settled.participant(&format!("{enrol}-{participant}"));
        let actual = settled
            .statements
            .iter()
            .map(|(_, s)| {
                line_sum(s, |l| {
                    field(l, "rule").starts_with("sustainment:") && field(l, "subject") == subject
                })
            })
            .sum();
        checks.amount(
            format!("C.4 paid over life to {participant}"),
            expected_paid,
            actual,
        );
    }

    // §5.C.7, final balances.
    check_balances(&mut checks, &settled, &expected["balances"]["parties"]);
    checks.finish(scenario);
}

/// Scenario D (§5.D): company milestones split three ways and citizen outcomes paid by the
/// home municipality, with the ESF reimbursing half of each municipality's payments a quarter
/// later.
#[test]
fn scenario_d_settles_as_scenarios_md_says() {
    const MUNICIPALITIES: [&str; 3] = ["K1", "K2", "K3"];
    let expected = expected("d");
    let settled = settle_all("d", last_quarter(rows(&expected["quarters"]), "quarter"));
    let mut checks = Checks::default();

    // §5.D.4: every decision (row n's claim and decision are the import rows D-claim-n and
    // D-row-n), and the `outcome:<code>` lines of its subject in its quarter's statement by
    // payer: the whole amount from the home municipality for a citizen, the
    // K1 / K2 / K3 split for a company (`company:<id>`), nothing for a rejection.
    for row in rows(&expected["claims"]) {
        let n = row["row"].as_u64().unwrap();
        let who = string(&row["who"]);
        let subject = if who.starts_with('S') {
            format!("company:{who}")
        } else {
            settled.participant(&format!("D-enrol-{who}"))
        };
        let paid = amount(&row["amount"]);
        let what = format!("D.4 row {n}");
        check_decision(
            &mut checks,
            &settled,
            &what,
            row,
            (&format!("D-row-{n}"), Some(&format!("D-claim-{n}"))),
            &subject,
            paid,
        );
        let expected_split: BTreeMap<String, i64> = match row.get("split") {
            Some(split) => split
                .as_object()
                .unwrap()
                .iter()
                .map(|(payer, share)| (payer.clone(), amount(share)))
                .collect(),
            None if paid != 0 => BTreeMap::from([(string(&row["payer"]).to_owned(), paid)]),
            None => BTreeMap::new(),
        };
        let rule = format!("outcome:{}", string(&row["outcome"]));
        let mut split: BTreeMap<String, i64> = BTreeMap::new();
        for line in lines(settled.statement(string(&row["quarter"]))) {
            if field(line, "rule") == rule && field(line, "subject") == subject {
                checks.same(format!("{what}: payee"), "operator", field(line, "to"));
                *split.entry(field(line, "from").to_owned()).or_default() +=
                    amount(&line["amount"]);
            }
        }
        checks.same(
            format!("{what}: lines by payer"),
            expected_split
                .iter()
                .map(|(k, v)| (k.clone(), show(*v)))
                .collect::<Vec<_>>(),
            split.iter().map(|(k, v)| (k.clone(), show(*v))).collect(),
        );
    }

    // §5.D.5: per quarter and municipality, the outcome payments it makes (outcome and
    // claw-back lines it pays) and the ESF reimbursement it receives (`co-financing:esf`
    // lines); the totals run over every statement.
    let table: BTreeMap<Quarter, &Value> = rows(&expected["quarters"])
        .iter()
        .map(|row| (Quarter::parse(string(&row["quarter"])), row))
        .collect();
    let mut total_paid: BTreeMap<&str, i64> = BTreeMap::new();
    let mut total_esf: BTreeMap<&str, i64> = BTreeMap::new();
    for (quarter, statement) in &settled.statements {
        for k in MUNICIPALITIES {
            let paid = line_sum(statement, |l| {
                is_outcome_payment(l) && field(l, "from") == k
            });
            let esf = line_sum(statement, |l| {
                field(l, "rule") == "co-financing:esf"
                    && field(l, "from") == "esf"
                    && field(l, "to") == k
            });
            *total_paid.entry(k).or_default() += paid;
            *total_esf.entry(k).or_default() += esf;
            if let Some(row) = table.get(quarter) {
                checks.amount(
                    format!("D.5 {quarter}: {k} paid"),
                    amount(&row["paid"][k]),
                    paid,
                );
                checks.amount(
                    format!("D.5 {quarter}: {k} ESF in"),
                    amount(&row["esf_in"][k]),
                    esf,
                );
            }
        }
    }

    // §5.D.5 totals and §5.D.7: per municipality, and all together.
    let municipalities = &expected["municipalities"];
    for row in rows(municipalities) {
        let k = string(&row["municipality"]);
        checks.amount(
            format!("D.5 {k}: total paid"),
            amount(&row["total_paid"]),
            total_paid[k],
        );
        checks.amount(
            format!("D.5 {k}: total ESF reimbursed"),
            amount(&row["total_esf"]),
            total_esf[k],
        );
    }
    let all = &municipalities["all"];
    checks.amount(
        "D.5 all: total paid",
        amount(&all["total_paid"]),
        total_paid.values().sum(),
    );
    checks.amount(
        "D.5 all: total ESF reimbursed",
        amount(&all["total_esf"]),
        total_esf.values().sum(),
    );

    // §5.D.7: what the operator received, company side (per company) and citizen side.
    let operator = &expected["operator"];
    let received = |which: &dyn Fn(&str) -> bool| -> i64 {
        settled
            .statements
            .iter()
            .map(|(_, s)| {
                line_sum(s, |l| {
                    is_outcome_payment(l)
                        && field(l, "to") == "operator"
                        && which(field(l, "subject"))
                })
            })
            .sum()
    };
    checks.amount(
        "D.7 operator received",
        amount(&operator["received"]),
        received(&|_| true),
    );
    checks.amount(
        "D.7 operator, company side",
        amount(&operator["company_side"]),
        received(&|s| s.starts_with("company:")),
    );
    checks.amount(
        "D.7 operator, citizen side",
        amount(&operator["citizen_side"]),
        received(&|s| s.starts_with("participant:")),
    );
    for (company, paid) in operator["companies"].as_object().unwrap() {
        let subject = format!("company:{company}");
        checks.amount(
            format!("D.7 operator, from {company}'s milestones"),
            amount(paid),
            received(&|s| s == subject),
        );
    }

    // §5.D.7, final balances: a municipality's `net` is minus its net cost after ESF, the
    // ESF's is minus all it reimbursed, the operator's what it received.
    let balances = settled.balances();
    let net = |party: &str| balances.get(party).map(|b| amount(&b["net"]));
    for row in rows(municipalities) {
        let k = string(&row["municipality"]);
        checks.same(
            format!("D.7 balance of {k}: net"),
            Some(show(-amount(&row["net_cost"]))),
            net(k).map(show),
        );
    }
    checks.same(
        "D.7 balance of esf: net",
        Some(show(-amount(&all["total_esf"]))),
        net("esf").map(show),
    );
    checks.same(
        "D.7 balance of operator: net",
        Some(show(amount(&operator["received"]))),
        net("operator").map(show),
    );
    checks.finish("D");
}

// ---------------------------------------------------------------------------------------------
// The expected files against themselves: the hand transcription of scenarios.md adds up the
// way scenarios.md says it does. These run without the settlement engine.

/// §5.A: A.4's paid amounts sum to A.5's quarterly payments and to the per-participant totals;
/// each quarter's waterfall passes on exactly what DWP paid; the cumulative column adds up.
#[test]
fn expected_a_adds_up() {
    let expected = expected("a");
    let mut by_quarter: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_participant: BTreeMap<&str, i64> = BTreeMap::new();
    for row in rows(&expected["claims"]) {
        *by_quarter.entry(string(&row["quarter"])).or_default() += amount(&row["paid"]);
        *by_participant
            .entry(string(&row["participant"]))
            .or_default() += amount(&row["paid"]);
    }
    let mut cumulative = 0;
    for row in rows(&expected["quarters"]) {
        let quarter = string(&row["quarter"]);
        let paid = amount(&row["dwp_pays_spv"]);
        cumulative += paid;
        assert_eq!(
            by_quarter.get(quarter).copied().unwrap_or(0),
            paid,
            "{quarter}"
        );
        let tiers: i64 = ["investor_principal", "investor_return", "provider"]
            .iter()
            .map(|c| amount(&row[*c]))
            .sum();
        assert_eq!(tiers, paid, "{quarter}");
        assert_eq!(amount(&row["cumulative_dwp_paid"]), cumulative, "{quarter}");
    }
    for (participant, paid) in expected["participants_paid"]["paid"].as_object().unwrap() {
        let from_rows = by_participant.get(participant.as_str()).copied();
        assert_eq!(from_rows.unwrap_or(0), amount(paid), "{participant}");
    }
    let parties = &expected["balances"]["parties"];
    assert_eq!(-amount(&parties["dwp"]["accrued"]), cumulative);
}

/// §5.B: repayment = outlay + gain share, retained = S - repayment, and the cumulative
/// columns and §5.B.5's sums add up.
#[test]
fn expected_b_adds_up() {
    let expected = expected("b");
    let (mut savings, mut repaid, mut retained) = (0, 0, 0);
    for row in rows(&expected["quarters"]) {
        let at = |c: &str| amount(&row[c]);
        let what = string(&row["measured"]);
        assert_eq!(
            at("repayment"),
            at("to_outlay") + at("gain_share"),
            "{what}"
        );
        assert_eq!(at("retained"), at("savings") - at("repayment"), "{what}");
        savings += at("savings");
        repaid += at("repayment");
        retained += at("retained");
        assert_eq!(at("cumulative_savings"), savings, "{what}");
        assert_eq!(at("cumulative_repaid"), repaid, "{what}");
    }
    let totals = &expected["totals"];
    assert_eq!(amount(&totals["savings"]), savings);
    assert_eq!(amount(&totals["repayments"]), repaid);
    assert_eq!(amount(&totals["retained"]), retained);
}

/// §5.C: each quarter's cash is the last one's plus the outcome payment and grant, minus the
/// cost, plus the draw, minus the repayment; outstanding moves by draws and repayments; the
/// final cash is the last quarter's minus the fee; the runs sum to the outcome payments.
#[test]
fn expected_c_adds_up() {
    for scenario in ["c", "c-loss"] {
        expected_c_variant_adds_up(scenario);
    }
}

fn expected_c_variant_adds_up(scenario: &str) {
    let expected = expected(scenario);
    let (mut cash, mut outstanding, mut drawn, mut payments) = (0, 0, 0, 0);
    for row in rows(&expected["quarters"]) {
        let at = |c: &str| amount(&row[c]);
        let quarter = string(&row["quarter"]);
        cash += at("outcome_payment") + at("grant") - at("cost") + at("draw") - at("repayment");
        outstanding += at("draw") - at("repayment");
        drawn += at("draw");
        payments += at("outcome_payment");
        assert_eq!(at("cash"), cash, "{quarter}");
        assert_eq!(at("outstanding"), outstanding, "{quarter}");
    }
    let totals = &expected["totals"];
    assert_eq!(amount(&totals["final_cash"]), cash - amount(&totals["fee"]));
    assert_eq!(amount(&totals["drawn"]), drawn);
    assert_eq!(amount(&totals["outcome_payments"]), payments);
    if let Some(runs) = expected.get("runs") {
        let runs: i64 = rows(runs).iter().map(|r| amount(&r["paid"])).sum();
        assert_eq!(runs, payments);
    }
    // C.6: the loss is what is outstanding at the final settlement, and it equals costs less
    // the grant and the outcome payments; the balances' nets sum to what the parties
    // put in and took out (costs are spent outside the contract).
    if let Some(loss) = totals.get("loss") {
        let loss = amount(loss);
        assert_eq!(loss, outstanding, "{scenario}: loss");
        let column = |c: &str| -> i64 {
            rows(&expected["quarters"])
                .iter()
                .map(|r| amount(&r[c]))
                .sum()
        };
        assert_eq!(
            loss,
            column("cost") - column("grant") - column("outcome_payment"),
            "{scenario}: loss"
        );
        let parties = expected["balances"]["parties"]
            .as_object()
            .expect("parties");
        let net: i64 = parties.values().map(|p| amount(&p["net"])).sum();
        assert_eq!(net, -column("cost"), "{scenario}: nets");
        assert_eq!(
            amount(&parties["dsk"]["net"]),
            amount(&totals["fee"]) - loss
        );
        assert_eq!(
            amount(&parties["fokus"]["net"]),
            amount(&totals["final_cash"])
        );
    }
}

/// §5.D: D.4's amounts and splits sum to D.5's quarterly payments by municipality; the
/// totals are the column sums; net cost = paid - ESF; the operator's sides add up.
#[test]
fn expected_d_adds_up() {
    let expected = expected("d");
    let mut paid: BTreeMap<(String, String), i64> = BTreeMap::new();
    for row in rows(&expected["claims"]) {
        let quarter = string(&row["quarter"]).to_owned();
        match row.get("split") {
            Some(split) => {
                for (k, share) in split.as_object().unwrap() {
                    *paid.entry((quarter.clone(), k.clone())).or_default() += amount(share);
                }
                let shares: i64 = split.as_object().unwrap().values().map(amount).sum();
                assert_eq!(shares, amount(&row["amount"]), "row {}", row["row"]);
            }
            None => {
                *paid
                    .entry((quarter, string(&row["payer"]).to_owned()))
                    .or_default() += amount(&row["amount"]);
            }
        }
    }
    let municipalities = &expected["municipalities"];
    let (mut all_paid, mut all_esf) = (0, 0);
    for total in rows(municipalities) {
        let k = string(&total["municipality"]);
        let (mut k_paid, mut k_esf) = (0, 0);
        for row in rows(&expected["quarters"]) {
            let quarter = string(&row["quarter"]);
            let p = amount(&row["paid"][k]);
            assert_eq!(
                paid.get(&(quarter.to_owned(), k.to_owned()))
                    .copied()
                    .unwrap_or(0),
                p,
                "{quarter} {k}"
            );
            k_paid += p;
            k_esf += amount(&row["esf_in"][k]);
        }
        assert_eq!(amount(&total["total_paid"]), k_paid, "{k}");
        assert_eq!(amount(&total["total_esf"]), k_esf, "{k}");
        assert_eq!(amount(&total["net_cost"]), k_paid - k_esf, "{k}");
        all_paid += k_paid;
        all_esf += k_esf;
    }
    let all = &municipalities["all"];
    assert_eq!(amount(&all["total_paid"]), all_paid);
    assert_eq!(amount(&all["total_esf"]), all_esf);
    assert_eq!(amount(&all["net_cost"]), all_paid - all_esf);
    let operator = &expected["operator"];
    let companies: i64 = operator["companies"]
        .as_object()
        .unwrap()
        .values()
        .map(amount)
        .sum();
    assert_eq!(amount(&operator["company_side"]), companies);
    assert_eq!(
        amount(&operator["received"]),
        companies + amount(&operator["citizen_side"])
    );
    assert_eq!(amount(&operator["received"]), all_paid);
}
