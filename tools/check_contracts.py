#!/usr/bin/env python3
"""Checks the sample contracts against schemas/contract.schema.json with an independent
JSON-schema validator (the Rust parser that generated the schema checks them too).

Every valid sample (tests/contracts/valid/, tests/scenarios/*/contract.toml) must satisfy the
schema. The invalid samples whose fault is one a schema can see (an unknown field, an unknown
enumeration value, a wrong type, a partial outcome with a price, an outcome with neither a
price nor partial-of) must violate it; the others are faults only the parser's cross-checks
find, and the schema is not expected to catch them.

Usage: python3 tools/check_contracts.py   (needs: jsonschema)
"""

from __future__ import annotations

import datetime
import json
import pathlib
import sys
import tomllib
from typing import Any

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA_VISIBLE = {"unknown-field", "bad-currency", "wrong-type", "partial-with-price", "no-price"}


def as_json(value: Any) -> Any:
    """TOML to JSON: bare TOML dates become the ISO strings the schema describes."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def main() -> int:
    schema = json.loads((ROOT / "schemas/contract.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    valid = sorted((ROOT / "tests/contracts/valid").glob("*.toml"))
    valid += sorted(ROOT.glob("tests/scenarios/*/contract.toml"))
    failures = []
    for path in valid:
        errors = list(validator.iter_errors(as_json(tomllib.loads(path.read_text()))))
        if errors:
            failures.append(f"{path.relative_to(ROOT)}: {errors[0].message}")
    rejected = 0
    for path in sorted((ROOT / "tests/contracts/invalid").glob("*.toml")):
        if path.stem not in SCHEMA_VISIBLE:
            continue
        document = as_json(tomllib.loads(path.read_text()))
        if validator.is_valid(document):
            failures.append(f"{path.relative_to(ROOT)}: the schema accepts it")
        rejected += 1
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        return 1
    if not valid or rejected < len(SCHEMA_VISIBLE):
        print("no samples checked", file=sys.stderr)
        return 1
    print(f"{len(valid)} passed, 0 failed: valid samples satisfy the schema; {rejected} invalid samples violate it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
