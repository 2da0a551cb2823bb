//! Contract terms: every valid sample loads, every invalid sample fails with exactly the
//! one-line error its first line expects, and the committed JSON schema is current.

use std::path::{Path, PathBuf};

use pbr_core::money::{Currency, Money, RoundAt};
use pbr_core::terms::{self, OutcomePrice};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tomls(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// The valid samples: `tests/contracts/valid/` and every scenario's contract.
fn valid_samples() -> Vec<PathBuf> {
    let mut files = tomls(&root().join("tests/contracts/valid"));
    for scenario in ["a", "b", "c", "c-loss", "d"] {
        files.push(root().join(format!("tests/scenarios/{scenario}/contract.toml")));
    }
    files
}

#[test]
fn every_valid_sample_loads() {
    let files = valid_samples();
    assert!(files.len() >= 5);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if let Err(e) = terms::parse(&file.display().to_string(), &text) {
            panic!("{e}");
        }
    }
}

#[test]
fn every_invalid_sample_fails_with_its_expected_error() {
    let files = tomls(&root().join("tests/contracts/invalid"));
    assert!(files.len() >= 10);
    let mut wrong = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: the first line must be `# expect: <error>`"));
        let actual = match terms::parse(&name, &text) {
            Ok(_) => "(loaded without error)".to_owned(),
            Err(e) => e.to_string(),
        };
        if actual != expected {
            wrong.push(format!(
                "{name}\n  expected: {expected}\n  actual:   {actual}"
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn the_committed_schema_is_current() {
    let path = root().join("schemas/contract.schema.json");
    let actual = terms::json_schema();
    if std::env::var_os("PBR_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} is stale: run `just gen`",
        path.display()
    );
}

/// The minimal sample with `contract` added to its `[contract]` table and `outcomes` as its
/// rate card.
fn minimal_with(contract: &str, outcomes: &str) -> String {
    let text = std::fs::read_to_string(root().join("tests/contracts/valid/minimal.toml")).unwrap();
    let card = text.find("[[outcomes]]").unwrap();
    text[..card].replace(
        "rounding = \"half-up\"\n",
        &format!("rounding = \"half-up\"\n{contract}"),
    ) + outcomes
}

const JOB: &str = "[[outcomes]]
code = \"JOB\"
name = \"Job start\"
price = \"1000.01\"
payer = \"dwp\"
payee = \"provider\"
";

#[test]
fn round_at_defaults_to_the_unit_price_and_takes_both_values() {
    for (line, expected) in [
        ("", RoundAt::UnitPrice),
        ("round-at = \"unit-price\"\n", RoundAt::UnitPrice),
        ("round-at = \"total\"\n", RoundAt::Total),
    ] {
        let parsed = terms::parse("c.toml", &minimal_with(line, JOB)).unwrap();
        assert_eq!(parsed.contract.round_at, expected, "{line:?}");
    }
}

#[test]
fn an_unknown_round_at_is_a_located_error() {
    let error = terms::parse("c.toml", &minimal_with("round-at = \"line\"\n", JOB)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "c.toml:7: round-at: unknown variant `line`, expected `unit-price` or `total`"
    );
}

/// An outcome paid at a fraction of another's has no price of its own: it is priced at the
/// fraction of the other's, rounded once with the contract's rounding.
#[test]
fn a_partial_outcome_takes_no_price() {
    let half = "\n[[outcomes]]
code = \"THIRD\"
name = \"A third of a job\"
payer = \"dwp\"
payee = \"provider\"
partial-of = \"JOB\"
fraction = \"1/3\"
";
    for (rounding, expected, calc) in [
        (
            "floor",
            33_333,
            "price 1/3 of JOB: floor(1000.01 × 1/3) = 333.33",
        ),
        (
            "half-up",
            33_334,
            "price 1/3 of JOB: half-up(1000.01 × 1/3) = 333.34",
        ),
    ] {
        let text = minimal_with("", &format!("{JOB}{half}")).replace(
            "rounding = \"half-up\"",
            &format!("rounding = \"{rounding}\""),
        );
        let parsed = terms::parse("c.toml", &text).unwrap();
        let third = &parsed.outcomes[1];
        assert_eq!(third.price, None);
        let price = parsed.outcome_price(third).unwrap();
        assert!(matches!(price, OutcomePrice::PartOf { parent: "JOB", .. }));
        assert_eq!(price.amount().unwrap().minor, expected, "{rounding}");
        assert_eq!(price.calc().unwrap(), calc);
        let own = parsed.outcome_price(&parsed.outcomes[0]).unwrap();
        assert_eq!(
            own,
            OutcomePrice::Own(Money::from_minor(100_001, Currency::DKK))
        );
        assert_eq!(own.calc().unwrap(), "price 1000.01");
    }
}

/// `price` is required without `partial-of` and refused with it; `partial-of` names an
/// outcome with a price of its own. Each error is located at the outcome's field.
#[test]
fn price_goes_with_an_outcome_of_its_own_only() {
    let partial = |code: &str, of: &str, price: &str| {
        format!(
            "\n[[outcomes]]\ncode = \"{code}\"\nname = \"Part\"\n{price}payer = \"dwp\"\n\
             payee = \"provider\"\npartial-of = \"{of}\"\nfraction = \"1/2\"\n"
        )
    };
    // The rate card starts on line 28 of the minimal sample (after its `[log]`).
    for (card, expected) in [
        (
            format!("{JOB}{}", partial("HALF", "JOB", "price = \"500.00\"\n")),
            "c.toml:38: outcomes[1].price: a partial outcome takes no price: it is paid at 1/2 \
             of JOB's price",
        ),
        (
            JOB.replace("price = \"1000.01\"\n", ""),
            "c.toml:28: outcomes[0].price: an outcome needs a price, or partial-of and \
             fraction to be paid at a fraction of another's",
        ),
        (
            format!(
                "{JOB}{}{}",
                partial("HALF", "JOB", ""),
                partial("QUARTER", "HALF", "")
            ),
            "c.toml:48: outcomes[2].partial-of: HALF is itself paid at a fraction of another \
             outcome: name the outcome with the price",
        ),
    ] {
        let error = terms::parse("c.toml", &minimal_with("", &card)).unwrap_err();
        assert_eq!(error.to_string(), expected, "{card}");
    }
}
