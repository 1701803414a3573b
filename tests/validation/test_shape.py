"""Every validator module has one shape; the old call forms still work, with a warning."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from datetime import date
from pathlib import Path

import pytest

import anpr_client.validation
from anpr_client.errors.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from anpr_client.validation import comuni, fields, stati, toponyms, validator_modules
from anpr_client.validation._errors import error
from anpr_client.validation.codes import RULES, XSD

from .conftest import TODAY

PACKAGE = Path(anpr_client.validation.__file__).parent


def test_validator_modules_lists_every_module_of_that_shape() -> None:
    shaped = set()
    for info in pkgutil.iter_modules([str(PACKAGE)]):
        module = importlib.import_module(f"anpr_client.validation.{info.name}")
        if all(callable(getattr(module, f, None)) for f in ("compact", "validate", "is_valid")):
            shaped.add(module)
    assert shaped == set(validator_modules())


@pytest.mark.parametrize("module", validator_modules(), ids=lambda m: m.__name__)
def test_every_module_documents_its_three_functions(module: object) -> None:
    for name in ("compact", "validate", "is_valid"):
        assert getattr(module, name).__doc__, name
        assert name in getattr(module, "__all__", ()), name


def test_validate_returns_the_normalised_value() -> None:
    assert comuni.validate(" h501 ", day=date(1990, 1, 1)) == "H501"
    assert stati.validate(" z110 ") == "Z110"
    assert toponyms.validate("  piazza   del Popolo ") == "PIAZZA DEL POPOLO"
    assert fields.validate(" 215\t", field="codiceStato") == "215"  # whiteSpace collapse
    assert fields.validate(" 058091", field="note") == " 058091"  # preserve: kept


def test_xsd_collapse_folds_the_four_xsd_blanks_only() -> None:
    assert fields.is_valid("\t215\r\n", field="codiceStato")
    assert not fields.is_valid("215\u00a0", field="codiceStato")  # NBSP is not an XSD blank
    assert not fields.is_valid("\u2003215", field="codiceStato")


def test_comuni_without_a_day_accepts_a_comune_of_any_date(official_comuni: object) -> None:
    table = comuni.ComuniTable.sample()
    assert comuni.validate("078108", table=table) == "078108"  # Rossano, ceased in 2018
    with pytest.raises(InvalidComponent) as info:
        comuni.validate("078108", day=TODAY, table=table)
    assert info.value.code == "EN338"
    with pytest.raises(InvalidComponent) as info:
        comuni.validate("078108", day=TODAY, table=table, use="residence")
    assert (info.value.code, info.value.field) == ("EC056", "comuneResidenza")


def test_fields_rules_and_field_can_differ() -> None:
    with pytest.raises(InvalidFormat) as info:
        fields.validate("R0SSI", field="generalita.cognome", rules="cognome")
    assert (info.value.field, info.value.rule) == ("generalita.cognome", "field.charset")
    assert fields.is_valid("ROSSI", field="generalita.cognome", rules="alfabeticoNomiCognomi")
    with pytest.raises(TypeError, match="field="):
        fields.validate("ROSSI")


# ----------------------------------------------------------------------------- old forms


def test_the_old_positional_date_of_comuni_warns_and_works() -> None:
    with pytest.warns(DeprecationWarning, match="day="):
        assert comuni.validate("058091", date(1990, 1, 1)) == "058091"
    with pytest.warns(DeprecationWarning, match="day="):
        assert not comuni.is_valid("078108", date(2020, 1, 1))
    with pytest.warns(DeprecationWarning, match="use="), pytest.raises(InvalidComponent) as info:
        comuni.validate("078108", day=TODAY, role="residence")
    assert info.value.code == "EC056"


def test_the_old_positional_field_of_fields_warns_and_works() -> None:
    with pytest.warns(DeprecationWarning, match="field="):
        assert fields.validate("ROSSI", "cognome") == "ROSSI"
    with pytest.warns(DeprecationWarning, match="field="):
        assert not fields.is_valid("R0SSI", "cognome")
    with pytest.warns(DeprecationWarning, match="name="), pytest.raises(InvalidFormat) as info:
        fields.validate("R0SSI", field="cognome", name="generalita.cognome")
    assert info.value.field == "generalita.cognome"


# ----------------------------------------------------------------------------- one error helper


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_the_rule_picks_the_class(rule_id: str) -> None:
    exc = error(rule_id, "message", field="f")
    rule = RULES[rule_id]
    assert (exc.code, exc.rule, exc.severity, exc.field) == (rule.code, rule_id, rule.severity, "f")
    kind = rule_id.rpartition(".")[2]
    expected: type[ValidationError] = {
        "length": InvalidLength,
        "format": InvalidFormat,
        "charset": InvalidFormat,
        "checksum": InvalidChecksum,
    }.get(kind, InvalidFormat if rule.code == XSD else InvalidComponent)
    assert type(exc) is expected


def test_no_validation_module_builds_a_validation_error_itself() -> None:
    """The exceptions of broken rules (a code, a severity) are built in ``_errors.error`` only."""
    classes = {"ValidationError", "InvalidFormat", "InvalidLength", "InvalidChecksum",
               "InvalidComponent"}  # fmt: skip
    builders = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "_errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in classes
                and {k.arg for k in node.keywords} & {"code", "severity"}
            ):
                builders.append(f"{path.name}:{node.lineno}")
    assert not builders, builders
