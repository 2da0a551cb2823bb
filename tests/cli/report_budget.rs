//! `pbr report budget`: the budget view of scenarios B and C (scenarios.md §5.B, §5.C) from
//! ledgers built through the CLI with every quarter's statement issued, against yearly sums
//! computed here from the quarterly tables of `tests/scenarios/*/expected.json` (transcribed
//! by hand, never taken from the program's output); totals against the final balances;
//! the long and the wide layout (years as columns) with the currency and each line's total
//! over the years, in CSV, JSON and XLSX; byte-identical reruns; and the wiring of the
//! options (`docs/reports.md`, "Budget view").

use std::collections::BTreeMap;

use serde_json::Value;

use crate::scenarios::{load_scenario, repo, setup};
use crate::support::{demo, pbr, pbr_ok};

/// The budget lines, in report order (`docs/reports.md`).
const LINES: [&str; 16] = [
    "expected-savings",
    "realised-savings",
    "outcome-payments-made",
    "outcome-payments-received",
    "repayments-to-investors",
    "repayments-received",
    "grants-received",
    "co-financing",
    "other-funds-received",
    "funds-disbursed",
    "facility-draws",
    "facility-repayments",
    "facility-fees",
    "guarantee-losses",
    "costs",
    "net-effect",
];

/// An amount in minor units from a decimal string with exactly two decimals.
fn cents(text: &str) -> i64 {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let (units, minor) = digits
        .split_once('.')
        .unwrap_or_else(|| panic!("{text:?} has no decimals"));
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

/// A year's lines: line id → (effect, appropriation) in minor units, `None` when empty.
type Lines = BTreeMap<String, (Option<i64>, Option<i64>)>;

/// A budget view by year.
type View = BTreeMap<i32, Lines>;

/// `pbr report budget --party P [extra…]` on `ledger`, in `format`.
fn budget(ledger: &str, party: &str, format: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "--ledger", ledger, "report", "budget", "--party", party, "--format", format,
    ];
    args.extend_from_slice(extra);
    pbr_ok(&args)
}

/// Each line's total over the years of `view`: (effect, appropriation), `None` when the
/// line is empty in every year.
fn sums(view: &View) -> Lines {
    let mut totals = Lines::new();
    for line in LINES {
        let sum = |cells: Vec<i64>| (!cells.is_empty()).then(|| cells.iter().sum());
        let effects = view.values().filter_map(|l| l[line].0).collect();
        let appropriations = view.values().filter_map(|l| l[line].1).collect();
        totals.insert(line.to_owned(), (sum(effects), sum(appropriations)));
    }
    totals
}

/// A JSON line's (effect, appropriation) in minor units, `None` when empty.
fn json_cells(line: &Value, effect: &str, appropriation: &str) -> (Option<i64>, Option<i64>) {
    let cell = |v: &Value| (!v.is_null()).then(|| amount(v));
    (cell(&line[effect]), cell(&line[appropriation]))
}

/// The JSON view, checking its frame: contract, party, currency, the lines in order, and the
/// totals: one per line, each the sum of the years.
fn json_view(json: &str, contract: &str, party: &str) -> (Value, View) {
    assert!(json.ends_with('\n') && json.lines().count() == 1, "{json}");
    let value: Value = serde_json::from_str(json).unwrap();
    assert_eq!(value["contract"], contract, "{json}");
    assert_eq!(value["party"], party, "{json}");
    assert_eq!(value["currency"], "DKK", "{json}");
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    let mut view = View::new();
    for year in value["years"].as_array().unwrap() {
        let lines: Vec<&Value> = year["lines"].as_array().unwrap().iter().collect();
        let ids: Vec<&str> = lines.iter().map(|l| l["line"].as_str().unwrap()).collect();
        assert_eq!(ids, LINES, "{json}");
        let rows = lines
            .iter()
            .map(|l| {
                let id = l["line"].as_str().unwrap().to_owned();
                (id, json_cells(l, "effect", "appropriation"))
            })
            .collect();
        let year = i32::try_from(year["year"].as_i64().unwrap()).unwrap();
        assert!(view.insert(year, rows).is_none(), "year {year} twice");
    }
    assert!(
        keys.len() == 6,
        "contract, party, currency, settled_through, years, totals: {keys:?}"
    );
    let totals: Vec<&Value> = value["totals"].as_array().unwrap().iter().collect();
    let ids: Vec<&str> = totals.iter().map(|l| l["line"].as_str().unwrap()).collect();
    assert_eq!(ids, LINES, "{json}");
    let totals: Lines = totals
        .iter()
        .map(|l| {
            let id = l["line"].as_str().unwrap().to_owned();
            (id, json_cells(l, "effect", "appropriation"))
        })
        .collect();
    assert_eq!(
        totals,
        sums(&view),
        "totals are the sums of the years: {json}"
    );
    (value, view)
}

/// The CSV view, checking its header, line order, currency and total lines (one per line,
/// after the years, each the sum of the years).
fn csv_view(csv: &str) -> View {
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("year,line,budget_line,effect,appropriation,currency")
    );
    assert!(csv.ends_with('\n'), "{csv}");
    let mut view = View::new();
    let mut totals = Lines::new();
    let mut order: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut total_order = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 6, "{line}: no budget line name holds a comma");
        assert_eq!(cells[5], "DKK", "{line}: the currency");
        let cell = |text: &str| (!text.is_empty()).then(|| cents(text));
        let amounts = (cell(cells[3]), cell(cells[4]));
        if cells[0] == "total" {
            total_order.push(cells[1].to_owned());
            totals.insert(cells[1].to_owned(), amounts);
            continue;
        }
        assert!(totals.is_empty(), "{line}: a year after the totals");
        let year: i32 = cells[0].parse().unwrap();
        order.entry(year).or_default().push(cells[1].to_owned());
        view.entry(year)
            .or_default()
            .insert(cells[1].to_owned(), amounts);
    }
    for ids in order.values() {
        assert_eq!(ids, &LINES, "{csv}");
    }
    assert_eq!(total_order, LINES, "a total line per budget line: {csv}");
    assert_eq!(
        totals,
        sums(&view),
        "totals are the sums of the years: {csv}"
    );
    view
}

/// The wide JSON view (`--layout wide`): `years`, then per line its effects and
/// appropriations aligned with them, and totals that are the sums of the years.
fn wide_json_view(json: &str, contract: &str, party: &str) -> View {
    assert!(json.ends_with('\n') && json.lines().count() == 1, "{json}");
    let value: Value = serde_json::from_str(json).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "contract",
            "currency",
            "lines",
            "party",
            "settled_through",
            "years"
        ],
        "{json}"
    );
    // In the documented order.
    let at = |key: &str| json.find(&format!("\"{key}\":")).unwrap();
    assert!(
        at("contract") < at("party")
            && at("party") < at("currency")
            && at("currency") < at("settled_through")
            && at("settled_through") < at("years")
            && at("years") < at("lines"),
        "{json}"
    );
    assert_eq!(value["contract"], contract, "{json}");
    assert_eq!(value["party"], party, "{json}");
    assert_eq!(value["currency"], "DKK", "{json}");
    let years: Vec<i32> = value["years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|y| i32::try_from(y.as_i64().unwrap()).unwrap())
        .collect();
    let mut view: View = years.iter().map(|&y| (y, Lines::new())).collect();
    let mut totals = Lines::new();
    let lines = value["lines"].as_array().unwrap();
    let ids: Vec<&str> = lines.iter().map(|l| l["line"].as_str().unwrap()).collect();
    assert_eq!(ids, LINES, "{json}");
    for line in lines {
        let id = line["line"].as_str().unwrap();
        let (effects, appropriations) = (
            line["effect"].as_array().unwrap(),
            line["appropriation"].as_array().unwrap(),
        );
        assert_eq!(effects.len(), years.len(), "{id}: a value per year");
        assert_eq!(appropriations.len(), years.len(), "{id}: a value per year");
        for (i, year) in years.iter().enumerate() {
            let cell = |v: &Value| (!v.is_null()).then(|| amount(v));
            view.get_mut(year)
                .unwrap()
                .insert(id.to_owned(), (cell(&effects[i]), cell(&appropriations[i])));
        }
        totals.insert(
            id.to_owned(),
            json_cells(line, "effect_total", "appropriation_total"),
        );
    }
    assert_eq!(
        totals,
        sums(&view),
        "totals are the sums of the years: {json}"
    );
    view
}

/// The wide CSV view (`--layout wide`): the header names the years and `total`; every line's
/// effect, then every line's appropriation, each naming the currency, with its total over
/// the years in the last column.
fn wide_csv_view(csv: &str) -> View {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header[..4],
        ["line", "budget_line", "sign", "currency"],
        "{csv}"
    );
    assert_eq!(header.last(), Some(&"total"), "{csv}");
    let years: Vec<i32> = header[4..header.len() - 1]
        .iter()
        .map(|y| y.parse().unwrap())
        .collect();
    assert!(csv.ends_with('\n'), "{csv}");
    let mut view: View = years.iter().map(|&y| (y, Lines::new())).collect();
    // The total column, by (sign, line).
    let mut totals: BTreeMap<(String, String), Option<i64>> = BTreeMap::new();
    let mut order = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{line}");
        assert_eq!(cells[3], "DKK", "{line}: the currency");
        let cell = |text: &str| (!text.is_empty()).then(|| cents(text));
        let id = cells[0].to_owned();
        order.push((cells[2].to_owned(), id.clone()));
        let total = cell(cells[cells.len() - 1]);
        for (i, year) in years.iter().enumerate() {
            let value = cell(cells[4 + i]);
            let entry = view.get_mut(year).unwrap().entry(id.clone()).or_default();
            match cells[2] {
                "effect" => entry.0 = value,
                "appropriation" => entry.1 = value,
                other => panic!("{line}: sign {other}"),
            }
        }
        totals.insert((cells[2].to_owned(), id), total);
    }
    let expected: Vec<(String, String)> = ["effect", "appropriation"]
        .iter()
        .flat_map(|sign| LINES.iter().map(|l| (sign.to_string(), l.to_string())))
        .collect();
    assert_eq!(
        order, expected,
        "every line's effect, then its appropriation"
    );
    let sums = sums(&view);
    for line in LINES {
        let total = |sign: &str| totals[&(sign.to_owned(), line.to_owned())];
        assert_eq!(
            (total("effect"), total("appropriation")),
            sums[line],
            "{line}: the total column is the sum of the years"
        );
    }
    view
}

/// The sign convention and the net: the appropriation is the opposite of the effect (both
/// empty together), expected savings are empty, and each year's net effect is the sum of
/// its other lines.
fn check_frame(view: &View) {
    for (year, lines) in view {
        for (line, (effect, appropriation)) in lines {
            assert_eq!(
                *appropriation,
                effect.map(|e| -e),
                "{year} {line}: appropriation = −effect"
            );
        }
        assert_eq!(lines["expected-savings"], (None, None), "{year}");
        let sum: i64 = lines
            .iter()
            .filter(|(line, _)| *line != "net-effect")
            .filter_map(|(_, (effect, _))| *effect)
            .sum();
        assert_eq!(lines["net-effect"].0, Some(sum), "{year}: net effect");
    }
}

/// The effect of `line` in `year` (panics when empty).
fn effect(view: &View, year: i32, line: &str) -> i64 {
    view[&year][line]
        .0
        .unwrap_or_else(|| panic!("{year} {line} is empty"))
}

/// The effect of `line` over every year.
fn total(view: &View, line: &str) -> i64 {
    view.keys().map(|&year| effect(view, year, line)).sum()
}

/// A scenario's ledger with every quarter's statement issued, 2024-Q1 to 2027-Q1 (the
/// quarters of `[contract] start` and `end` in B's and C's contract.toml), signed by the
/// commissioner.
fn settled(scenario: &str) -> (tempfile::TempDir, String) {
    let (dir, ledger, keys) = load_scenario(scenario);
    let (commissioner, _, _) = setup(scenario);
    let contract = format!("scenario-{scenario}");
    for year in 2024..=2027 {
        for quarter in 1..=4 {
            if (year, quarter) > (2027, 1) {
                break;
            }
            let period = format!("{year}-Q{quarter}");
            pbr_ok(&[
                "--ledger",
                &ledger,
                "settle",
                "--contract",
                &contract,
                "--period",
                &period,
                "--issue",
                "--key",
                &keys[commissioner],
            ]);
        }
    }
    (dir, ledger)
}

/// `tests/scenarios/<scenario>/expected.json`.
fn expected(scenario: &str) -> Value {
    let path = repo().join(format!("tests/scenarios/{scenario}/expected.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The year of a quarter written `2025Q3`.
fn year_of(quarter: &Value) -> i32 {
    let quarter = quarter.as_str().unwrap();
    quarter.split_once('Q').unwrap().0.parse().unwrap()
}

/// Σ `column` of the quarterly `rows` per year of the quarter in `quarter_column`.
fn yearly(rows: &Value, quarter_column: &str, column: &str) -> BTreeMap<i32, i64> {
    let mut sums = BTreeMap::new();
    for row in rows.as_array().unwrap() {
        *sums.entry(year_of(&row[quarter_column])).or_default() += amount(&row[column]);
    }
    sums
}

/// `pbr balance --json` of the contract, by party.
fn balances(ledger: &str, contract: &str) -> BTreeMap<String, Value> {
    let json = pbr_ok(&[
        "--ledger",
        ledger,
        "balance",
        "--contract",
        contract,
        "--json",
    ]);
    let value: Value = serde_json::from_str(&json).unwrap();
    value["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["party"].as_str().unwrap().to_owned(), p.clone()))
        .collect()
}

/// Every party's view, in JSON and CSV: the two formats agree, each run twice gives the same
/// bytes, the frame holds, and the net effect over all years is the party's `net` in
/// `pbr balance`. Returns the views by party.
fn views(ledger: &str, contract: &str, years: &[i32]) -> BTreeMap<String, View> {
    let mut views = BTreeMap::new();
    for (party, balance) in balances(ledger, contract) {
        let json = budget(ledger, &party, "json", &[]);
        let csv = budget(ledger, &party, "csv", &[]);
        assert_eq!(
            json,
            budget(ledger, &party, "json", &[]),
            "{party}: JSON rerun"
        );
        assert_eq!(
            csv,
            budget(ledger, &party, "csv", &[]),
            "{party}: CSV rerun"
        );
        let (_, view) = json_view(&json, contract, &party);
        assert_eq!(csv_view(&csv), view, "{party}: CSV and JSON agree");
        // The wide layout holds the same cells, years as columns.
        let wide = ["--layout", "wide"];
        let wide_json = budget(ledger, &party, "json", &wide);
        let wide_csv = budget(ledger, &party, "csv", &wide);
        assert_eq!(
            wide_json,
            budget(ledger, &party, "json", &wide),
            "{party}: wide JSON rerun"
        );
        assert_eq!(
            wide_csv,
            budget(ledger, &party, "csv", &wide),
            "{party}: wide CSV rerun"
        );
        assert_eq!(
            wide_json_view(&wide_json, contract, &party),
            view,
            "{party}: wide JSON and long JSON agree"
        );
        assert_eq!(
            wide_csv_view(&wide_csv),
            view,
            "{party}: wide CSV and long JSON agree"
        );
        assert_eq!(view.keys().copied().collect::<Vec<_>>(), years, "{party}");
        check_frame(&view);
        assert_eq!(
            total(&view, "net-effect"),
            amount(&balance["net"]),
            "{party}: Σ net effect = balance net"
        );
        views.insert(party, view);
    }
    views
}

/// Scenario B (§5.B, Brøndby): savings S_q and repayments count in the year of the quarter
/// that settles them (register lag 1), so each year's figures are sums of B.4's rows settled
/// in it; over all years they are B.5's final balances.
#[test]
fn scenario_b_budget_follows_the_quarterly_table() {
    let expected = expected("b");
    let (_dir, ledger) = settled("b");
    let views = views(&ledger, "scenario-b", &[2024, 2025, 2026, 2027]);
    let rows = &expected["quarters"]["rows"];
    let savings = yearly(rows, "settled", "savings");
    let repayments = yearly(rows, "settled", "repayment");
    let retained = yearly(rows, "settled", "retained");
    // B.4 as settled per year, e.g. 2025 = the rows settled 2025Q1–Q4 (measured 2024Q4–2025Q3).
    assert_eq!(
        savings.keys().copied().collect::<Vec<_>>(),
        [2024, 2025, 2026, 2027]
    );

    let brondby = &views["brondby"];
    let dsi = &views["dsi"];
    for (&year, &s) in &savings {
        let repaid = repayments[&year];
        assert_eq!(
            effect(brondby, year, "realised-savings"),
            s,
            "{year}: Brøndby S"
        );
        assert_eq!(
            brondby[&year]["realised-savings"].1,
            Some(-s),
            "{year}: savings are a negative supplementary appropriation"
        );
        assert_eq!(
            effect(brondby, year, "repayments-to-investors"),
            -repaid,
            "{year}: Brøndby's repayments to DSI"
        );
        assert_eq!(
            brondby[&year]["repayments-to-investors"].1,
            Some(repaid),
            "{year}: repayments are a positive supplementary appropriation"
        );
        assert_eq!(
            effect(dsi, year, "repayments-received"),
            repaid,
            "{year}: DSI's repayments"
        );
        // The conditional grant passes through to TUBA, so Brøndby's net effect of a year is
        // what it retains of that year's savings (B.4 "retained by Brøndby").
        assert_eq!(
            effect(brondby, year, "net-effect"),
            retained[&year],
            "{year}: Brøndby's net effect"
        );
        // DSI's savings are not measured: empty, not 0.
        assert_eq!(dsi[&year]["realised-savings"], (None, None), "{year}");
    }

    // B.5: Σ S, Σ repayments, Σ retained; the outlay in and out; final balances.
    let totals = &expected["totals"];
    let balances = &expected["balances"]["parties"];
    assert_eq!(
        total(brondby, "realised-savings"),
        amount(&totals["savings"])
    );
    assert_eq!(
        total(brondby, "repayments-to-investors"),
        -amount(&totals["repayments"])
    );
    assert_eq!(total(brondby, "net-effect"), amount(&totals["retained"]));
    assert_eq!(
        total(brondby, "net-effect"),
        amount(&balances["brondby"]["net"])
    );
    assert_eq!(
        total(brondby, "grants-received"),
        amount(&balances["brondby"]["funding_received"])
    );
    assert_eq!(
        total(brondby, "funds-disbursed"),
        -amount(&balances["brondby"]["invested"])
    );
    assert_eq!(
        total(dsi, "repayments-received"),
        amount(&balances["dsi"]["returned"])
    );
    assert_eq!(
        total(dsi, "funds-disbursed"),
        -amount(&balances["dsi"]["invested"])
    );
    assert_eq!(total(dsi, "net-effect"), amount(&balances["dsi"]["net"]));
    let tuba = &views["tuba"];
    assert_eq!(
        total(tuba, "grants-received"),
        amount(&balances["tuba"]["funding_received"])
    );
    assert_eq!(total(tuba, "net-effect"), amount(&balances["tuba"]["net"]));

    // One year alone is that year's lines of the whole view, to the byte, and its totals
    // are that year's lines.
    let all = budget(&ledger, "brondby", "csv", &[]);
    let year = budget(&ledger, "brondby", "csv", &["--year", "2026"]);
    let mut lines = all.lines();
    let mut only: Vec<String> = vec![lines.next().unwrap().to_owned()];
    let year_lines: Vec<&str> = lines.filter(|l| l.starts_with("2026,")).collect();
    only.extend(year_lines.iter().map(|l| l.to_string()));
    only.extend(
        year_lines
            .iter()
            .map(|l| format!("total,{}", l.strip_prefix("2026,").unwrap())),
    );
    assert_eq!(year, only.join("\n") + "\n");
    assert_eq!(
        budget(
            &ledger,
            "brondby",
            "csv",
            &["--year", "2026", "--layout", "wide"]
        )
        .lines()
        .next(),
        Some("line,budget_line,sign,currency,2026,total")
    );
    let json = budget(&ledger, "brondby", "json", &["--year", "2026"]);
    let (value, view) = json_view(&json, "scenario-b", "brondby");
    assert_eq!(value["settled_through"], "2027-Q1");
    assert_eq!(view.len(), 1);
    assert_eq!(view[&2026], views["brondby"][&2026]);
}

/// Before any statement is issued, nothing is settled: the view holds the recorded money
/// only (B's outlay, dated 2024), and Brøndby's measured savings are 0.00, not empty.
#[test]
fn before_any_statement_only_recorded_money_counts() {
    let (_dir, ledger, _) = load_scenario("b");
    let json = budget(&ledger, "brondby", "json", &[]);
    let (value, view) = json_view(&json, "scenario-b", "brondby");
    assert!(value["settled_through"].is_null(), "{json}");
    check_frame(&view);
    for (year, lines) in &view {
        let outlay = if *year == 2024 { 48_000_000 } else { 0 };
        assert_eq!(lines["realised-savings"].0, Some(0), "{year}");
        assert_eq!(lines["grants-received"].0, Some(outlay), "{year}");
        assert_eq!(lines["funds-disbursed"].0, Some(-outlay), "{year}");
        assert_eq!(lines["net-effect"].0, Some(0), "{year}");
    }
}

/// Scenario C (§5.C, Aalborg): Aalborg's outcome payments per year are sums of C.5's
/// quarterly column, and FOKUS's grant, costs, draws and repayments likewise; over all years
/// the lines give C.7's final balances.
#[test]
fn scenario_c_budget_follows_the_quarterly_table() {
    let expected = expected("c");
    let (_dir, ledger) = settled("c");
    let views = views(&ledger, "scenario-c", &[2024, 2025, 2026, 2027]);
    let rows = &expected["quarters"]["rows"];
    let column = |name: &str| yearly(rows, "quarter", name);
    let (payments, grants, costs) = (column("outcome_payment"), column("grant"), column("cost"));
    let (draws, repayments) = (column("draw"), column("repayment"));
    let aalborg = &views["aalborg"];
    let fokus = &views["fokus"];
    let dsk = &views["dsk"];
    let obelske = &views["obelske"];
    for (&year, &paid) in &payments {
        assert_eq!(
            effect(aalborg, year, "outcome-payments-made"),
            -paid,
            "{year}: Aalborg's outcome payments"
        );
        assert_eq!(
            aalborg[&year]["outcome-payments-made"].1,
            Some(paid),
            "{year}"
        );
        assert_eq!(
            effect(fokus, year, "outcome-payments-received"),
            paid,
            "{year}: FOKUS's outcome payments"
        );
        // C's terms measure no savings: empty, not 0.
        assert_eq!(aalborg[&year]["realised-savings"], (None, None), "{year}");
        assert_eq!(
            effect(fokus, year, "grants-received"),
            grants[&year],
            "{year}"
        );
        assert_eq!(
            effect(obelske, year, "funds-disbursed"),
            -grants[&year],
            "{year}"
        );
        assert_eq!(
            effect(fokus, year, "costs"),
            -costs[&year],
            "{year}: FOKUS costs"
        );
        assert_eq!(
            effect(fokus, year, "facility-draws"),
            draws[&year],
            "{year}"
        );
        assert_eq!(effect(dsk, year, "facility-draws"), -draws[&year], "{year}");
        assert_eq!(
            effect(fokus, year, "facility-repayments"),
            -repayments[&year],
            "{year}"
        );
        assert_eq!(
            effect(dsk, year, "facility-repayments"),
            repayments[&year],
            "{year}"
        );
    }

    // C.5 totals and C.7: outcome payments, the fee at the final settlement (2027), no
    // success bonus, and each party's final balance.
    let totals = &expected["totals"];
    let balances = &expected["balances"]["parties"];
    let outcome_payments = amount(&totals["outcome_payments"]);
    assert_eq!(total(aalborg, "outcome-payments-made"), -outcome_payments);
    assert_eq!(
        total(aalborg, "outcome-payments-made"),
        amount(&balances["aalborg"]["accrued"])
    );
    assert_eq!(total(aalborg, "net-effect"), -outcome_payments);
    assert_eq!(total(fokus, "outcome-payments-received"), outcome_payments);
    let fee = amount(&totals["fee"]);
    assert_eq!(effect(dsk, 2027, "facility-fees"), fee);
    assert_eq!(total(dsk, "facility-fees"), fee);
    assert_eq!(effect(fokus, 2027, "facility-fees"), -fee);
    assert_eq!(total(dsk, "facility-draws"), -amount(&totals["drawn"]));
    assert_eq!(total(dsk, "facility-repayments"), amount(&totals["drawn"]));
    assert_eq!(total(fokus, "costs"), -amount(&balances["fokus"]["costs"]));
    assert_eq!(
        total(fokus, "net-effect"),
        amount(&balances["fokus"]["net"])
    );
    assert_eq!(total(fokus, "net-effect"), amount(&totals["final_cash"]));
    assert_eq!(total(dsk, "net-effect"), amount(&balances["dsk"]["net"]));
    assert_eq!(
        total(obelske, "net-effect"),
        amount(&balances["obelske"]["net"])
    );
}

/// Variant C-loss (§5.C.6): the budget view agrees with the balances in the loss case. DSK,
/// lender and guarantor both, ends at fee − loss through the draws never repaid; the
/// write-off is a memo line, so no budget line counts the loss a second time; FOKUS ends at
/// its final cash.
#[test]
fn scenario_c_loss_budget_counts_the_loss_once() {
    let expected = expected("c-loss");
    let (_dir, ledger) = settled("c-loss");
    let views = views(&ledger, "scenario-c-loss", &[2024, 2025, 2026, 2027]);
    let balances = &expected["balances"]["parties"];
    for party in ["aalborg", "fokus", "dsk", "obelske"] {
        assert_eq!(
            total(&views[party], "net-effect"),
            amount(&balances[party]["net"]),
            "{party}"
        );
        assert_eq!(total(&views[party], "guarantee-losses"), 0, "{party}");
    }
    let totals = &expected["totals"];
    assert_eq!(
        total(&views["dsk"], "facility-draws"),
        -amount(&totals["drawn"])
    );
    assert_eq!(total(&views["dsk"], "facility-repayments"), 0);
    assert_eq!(
        total(&views["fokus"], "net-effect"),
        amount(&totals["final_cash"])
    );
}

/// On the demo ledger (statements through 2025-Q4): every party's view adds up to its
/// balance, years are the contract's, and bad requests are refused with the documented exit
/// codes.
#[test]
fn the_demo_budget_and_bad_requests() {
    let (_dir, ledger) = demo();
    let views = views(&ledger, "impact60-demo", &[2024, 2025, 2026, 2027]);
    // Nothing is settled after 2025-Q4: 2026 and 2027 hold no amount yet.
    for year in [2026, 2027] {
        assert_eq!(
            effect(&views["fokus-provider"], year, "net-effect"),
            0,
            "{year}"
        );
    }
    let json = budget(&ledger, "aalborg-jobcenter", "json", &["--year", "2025"]);
    let (value, _) = json_view(&json, "impact60-demo", "aalborg-jobcenter");
    assert_eq!(value["settled_through"], "2025-Q4");
    // --json alone prints JSON; the format defaults to CSV.
    let with_json = pbr_ok(&[
        "--ledger",
        &ledger,
        "--json",
        "report",
        "budget",
        "--party",
        "aalborg-jobcenter",
        "--year",
        "2025",
    ]);
    assert_eq!(with_json, json);
    let plain = pbr_ok(&[
        "--ledger",
        &ledger,
        "report",
        "budget",
        "--party",
        "aalborg-jobcenter",
    ]);
    assert_eq!(plain, budget(&ledger, "aalborg-jobcenter", "csv", &[]));
    // The long layout is the default.
    assert_eq!(
        plain,
        budget(&ledger, "aalborg-jobcenter", "csv", &["--layout", "long"])
    );

    // XLSX in both layouts: the currency and the totals are in the workbook, and two runs
    // write the same bytes (tools/check_report_xlsx.py compares the cells with the CSV).
    let dir = tempfile::tempdir().unwrap();
    for layout in ["long", "wide"] {
        let files: Vec<Vec<u8>> = (0..2)
            .map(|n| {
                let out = dir.path().join(format!("{layout}-{n}.xlsx"));
                budget(
                    &ledger,
                    "aalborg-jobcenter",
                    "xlsx",
                    &["--layout", layout, "--out", out.to_str().unwrap()],
                );
                std::fs::read(out).unwrap()
            })
            .collect();
        assert_eq!(files[0], files[1], "{layout}: XLSX rerun");
        // The parts are stored uncompressed, so the sheet's strings are in the bytes.
        let text = String::from_utf8_lossy(&files[0]);
        assert!(text.contains(">DKK<"), "{layout}: the currency");
        assert!(text.contains(">total<"), "{layout}: the totals");
    }

    let run = |args: &[&str]| {
        let mut all = vec!["--ledger", ledger.as_str(), "report", "budget"];
        all.extend_from_slice(args);
        pbr(&all)
    };
    for (args, code, says) in [
        (
            &["--party", "nobody"][..],
            3,
            "nobody is not a party of impact60-demo",
        ),
        (
            &["--party", "fokus-provider", "--year", "2031"][..],
            3,
            "year 2031",
        ),
        (
            &["--party", "fokus-provider", "--contract", "other"][..],
            3,
            "not registered",
        ),
        (
            &["--party", "fokus-provider", "--format", "xlsx"][..],
            2,
            "xlsx",
        ),
        (
            &["--party", "fokus-provider", "--year", "twenty"][..],
            2,
            "twenty",
        ),
        (&["--year", "2025"][..], 2, "--party"),
        (
            &["--party", "fokus-provider", "--layout", "tall"][..],
            2,
            "tall",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let conflict = pbr(&[
        "--ledger",
        &ledger,
        "--json",
        "report",
        "budget",
        "--party",
        "fokus-provider",
        "--format",
        "csv",
    ]);
    assert_eq!(conflict.code, 2, "{}", conflict.stderr);
}
