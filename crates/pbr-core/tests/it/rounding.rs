//! Where a price per unit derived from a rate and a ratio is rounded (`round-at` in the
//! terms), for every priced unit the terms can derive: savings per off-benefit month
//! (monthly rate × attribution) and an outcome paid at a fraction of another's (`partial-of`).
//! Each case is settled through `State` as the ledger settles it, and checks the amount and
//! the arithmetic the statement shows for it, under the contract's rounding mode.

use pbr_core::event::{MonthlyStatusRecorded, Payload, SelfSufficiency};
use pbr_core::settle::Statement;

use crate::settle::{CONTRACT, Log, check_double_entry, date, quarter, start, verifier_key};

/// Terms in DKK settled by quarter through 2024, with a commissioner `c1`, a provider `prov`
/// and `body` for the rest; `round_at` is left out when `None` (the default).
fn terms(rounding: &str, round_at: Option<&str>, body: &str) -> String {
    let round_at = round_at.map_or_else(String::new, |r| format!("round-at = \"{r}\"\n"));
    let mut t = format!(
        "[contract]\nid = \"{CONTRACT}\"\nname = \"Rounding\"\ncurrency = \"DKK\"\n\
         rounding = \"{rounding}\"\n{round_at}settlement = \"quarter\"\nstart = 2024-01-01\n\
         end = 2024-12-31\n"
    );
    for (id, role) in [("c1", "commissioner"), ("prov", "provider")] {
        t.push_str(&format!(
            "\n[[parties]]\nid = \"{id}\"\nrole = \"{role}\"\nname = \"{id}\"\nkey = \"{}\"\n",
            verifier_key(id)
        ));
    }
    t.push_str(body);
    t
}

/// The one line of `rule` in `statement`: (amount in minor units, calc).
fn line(statement: &Statement, rule: &str) -> (i64, String) {
    let lines: Vec<_> = statement
        .lines
        .iter()
        .filter(|l| l.key.rule == rule)
        .collect();
    assert_eq!(lines.len(), 1, "{rule}: {lines:?}");
    (lines[0].amount.minor, lines[0].calc.clone())
}

/// (rate, attribution, months, rounding, round-at, savings in øre, calc after the months).
type SavingsCase = (
    &'static str,
    &'static str,
    i32,
    &'static str,
    Option<&'static str>,
    i64,
    &'static str,
);

/// Savings of `months` off-benefit months of 2024-Q2 at `rate × attribution`: rounded per
/// month and then times the months by default and with `unit-price`, once on the quarter's
/// total with `total`. 12,326.01 × 70 % = 8,628.207 a month is where the two differ; at
/// 12,326.00 (scenario B's rate) the month is a whole øre and they agree.
#[test]
fn savings_are_rounded_per_month_or_on_the_total_as_the_terms_say() {
    #[rustfmt::skip]
    let cases: [SavingsCase; 16] = [
        ("12326.01", "70%", 3, "floor", None, 2_588_460, " × floor(12326.01 × 7/10) = 8628.20 = 25884.60"),
        ("12326.01", "70%", 3, "floor", Some("unit-price"), 2_588_460, " × floor(12326.01 × 7/10) = 8628.20 = 25884.60"),
        ("12326.01", "70%", 3, "floor", Some("total"), 2_588_462, ": floor(3 × 12326.01 × 7/10) = 25884.62"),
        ("12326.01", "70%", 3, "toward-zero", Some("unit-price"), 2_588_460, " × toward-zero(12326.01 × 7/10) = 8628.20 = 25884.60"),
        ("12326.01", "70%", 3, "toward-zero", Some("total"), 2_588_462, ": toward-zero(3 × 12326.01 × 7/10) = 25884.62"),
        ("12326.01", "70%", 3, "ceiling", Some("unit-price"), 2_588_463, " × ceiling(12326.01 × 7/10) = 8628.21 = 25884.63"),
        ("12326.01", "70%", 3, "ceiling", Some("total"), 2_588_463, ": ceiling(3 × 12326.01 × 7/10) = 25884.63"),
        ("12326.01", "70%", 3, "half-up", Some("unit-price"), 2_588_463, " × half-up(12326.01 × 7/10) = 8628.21 = 25884.63"),
        ("12326.01", "70%", 3, "half-up", Some("total"), 2_588_462, ": half-up(3 × 12326.01 × 7/10) = 25884.62"),
        // 0.05 × 1/2 = 2.5 øre a month: halves, where half-up and half-even part.
        ("0.05", "50%", 3, "half-up", Some("unit-price"), 9, " × half-up(0.05 × 1/2) = 0.03 = 0.09"),
        ("0.05", "50%", 3, "half-up", Some("total"), 8, ": half-up(3 × 0.05 × 1/2) = 0.08"),
        ("0.05", "50%", 3, "half-even", Some("unit-price"), 6, " × half-even(0.05 × 1/2) = 0.02 = 0.06"),
        ("0.05", "50%", 3, "half-even", Some("total"), 8, ": half-even(3 × 0.05 × 1/2) = 0.08"),
        ("0.05", "50%", 1, "half-even", Some("total"), 2, ": half-even(1 × 0.05 × 1/2) = 0.02"),
        // Scenario B's rate: a whole øre a month, the same either way (B.4, 2024Q2).
        ("12326.00", "70%", 3, "floor", Some("unit-price"), 2_588_460, " × floor(12326.00 × 7/10) = 8628.20 = 25884.60"),
        ("12326.00", "70%", 3, "floor", Some("total"), 2_588_460, ": floor(3 × 12326.00 × 7/10) = 25884.60"),
    ];
    for (rate, attribution, months, rounding, round_at, expected, calc) in cases {
        let case = format!("{rate} × {attribution} × {months}, {rounding}, {round_at:?}");
        let body = format!(
            "\n[savings]\nparty = \"c1\"\nmonthly-rate = \"{rate}\"\nattribution = \"{attribution}\"\n\
             measure-from = \"2024-04\"\nmeasure-to = \"2024-12\"\n"
        );
        let mut log = Log::default();
        log.register(&terms(rounding, round_at, &body));
        log.enrol(0, start(), 40, "c1");
        let april = pbr_core::date::Month::of(date(2024, 4, 1)).index();
        for month in april..april + months {
            let event = log.event(
                "c1",
                date(2024, 6, 30),
                Some(crate::settle::participant_ref(0)),
                Payload::MonthlyStatusRecorded(MonthlyStatusRecorded {
                    month,
                    status: SelfSufficiency::Full,
                }),
            );
            log.append(event);
        }
        let statement = log.statement(quarter(1));
        let (amount, text) = line(&statement, "savings");
        assert_eq!(amount, expected, "{case}");
        assert_eq!(
            text,
            format!("{months} off-benefit months of 2024-Q2{calc}"),
            "{case}"
        );
        check_double_entry(&statement).unwrap();
    }
}

/// An outcome paid at a fraction of another's is one unit: its price is the other's price
/// times the fraction, rounded once with the contract's rounding mode, so `unit-price` and
/// `total` agree on it. 1,000.01 × 1/3 = 333.3366… is not a whole øre.
#[test]
fn a_partial_outcome_is_priced_at_its_fraction_rounded_once() {
    // (parent's price, fraction, rounding, price in øre, calc)
    #[rustfmt::skip]
    let cases: [(&str, &str, &str, i64, &str); 7] = [
        ("1000.01", "1/3", "floor", 33_333, "floor(1000.01 × 1/3) = 333.33"),
        ("1000.01", "1/3", "toward-zero", 33_333, "toward-zero(1000.01 × 1/3) = 333.33"),
        ("1000.01", "1/3", "ceiling", 33_334, "ceiling(1000.01 × 1/3) = 333.34"),
        ("1000.01", "1/3", "half-up", 33_334, "half-up(1000.01 × 1/3) = 333.34"),
        ("1000.01", "1/3", "half-even", 33_334, "half-even(1000.01 × 1/3) = 333.34"),
        // 1,000.01 × 1/2 = 500.005: a half.
        ("1000.01", "50%", "half-up", 50_001, "half-up(1000.01 × 1/2) = 500.01"),
        ("1000.01", "50%", "half-even", 50_000, "half-even(1000.01 × 1/2) = 500.00"),
    ];
    for (parent, fraction, rounding, expected, calc) in cases {
        for round_at in [None, Some("unit-price"), Some("total")] {
            let case = format!("{parent} × {fraction}, {rounding}, {round_at:?}");
            let body = format!(
                "\n[[outcomes]]\ncode = \"JOB\"\nname = \"Job\"\nprice = \"{parent}\"\n\
                 payer = \"c1\"\npayee = \"prov\"\n\
                 \n[[outcomes]]\ncode = \"PART\"\nname = \"Part of a job\"\npayer = \"c1\"\n\
                 payee = \"prov\"\npartial-of = \"JOB\"\nfraction = \"{fraction}\"\n"
            );
            let mut log = Log::default();
            log.register(&terms(rounding, round_at, &body));
            log.enrol(0, start(), 40, "c1");
            let claim = log.claim(0, "PART", date(2024, 2, 1), date(2024, 2, 1));
            assert_eq!(log.decide(claim, date(2024, 2, 10), true), Ok(()), "{case}");
            let statement = log.statement(quarter(0));
            let (amount, text) = line(&statement, "outcome:PART");
            assert_eq!(amount, expected, "{case}");
            assert_eq!(
                text,
                format!(
                    "price {fraction_shown} of JOB: {calc}",
                    fraction_shown = shown(fraction)
                ),
                "{case}"
            );
            let decision = &statement.decisions[0];
            assert_eq!(decision.price.minor, expected, "{case}");
            assert_eq!(decision.amount.minor, expected, "{case}");
            check_double_entry(&statement).unwrap();
        }
    }
}

/// A fraction as statements show it: reduced, `a/b`.
fn shown(fraction: &str) -> String {
    pbr_core::money::Ratio::parse(fraction).unwrap().to_string()
}
