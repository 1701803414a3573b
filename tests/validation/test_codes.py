"""Every predicted code is a real ANPR code (official table and the project's catalogue)."""

from __future__ import annotations

import csv
from pathlib import Path

from anpr_client.validation import codes


def test_every_predicted_code_is_in_anprs_error_tables(reference_dir: Path) -> None:
    official: set[str] = set()
    for name in ("errors.csv", "errori_agenzia_entrate.csv"):
        with (reference_dir / name).open(encoding="utf-8") as fh:
            official |= {row["code"] for row in csv.DictReader(fh)}
    predicted = {r.code for r in codes.RULES.values()} - {codes.XSD, codes.INPUT}
    assert predicted - official == set()


def test_every_predicted_code_is_in_the_catalogue() -> None:
    from anpr_client.errors.catalogue._data import lookup

    predicted = {r.code for r in codes.RULES.values()} - {codes.XSD, codes.INPUT}
    assert sorted(c for c in predicted if lookup(c) is None) == []


def test_rules_are_well_formed() -> None:
    for rule_id, rule in codes.RULES.items():
        assert rule.id == rule_id
        assert rule.severity in ("E", "W")
        assert rule.description
        assert rule.code.isalnum()
