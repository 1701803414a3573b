"""The module docstrings are the documentation: their examples must run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "_errors",
    "_protocol",
    "_tables",
    "_xsd_regex",
    "batch",
    "codes",
    "codicefiscale",
    "comuni",
    "fields",
    "normalise",
    "precheck",
    "report",
    "requirements",
    "rules",
    "stati",
    "toponyms",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"anpr_client.validation.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=False)
    assert result.failed == 0


def test_every_module_is_listed() -> None:
    from importlib import resources

    found = sorted(
        p.name[:-3]
        for p in resources.files("anpr_client.validation").iterdir()
        if p.name.endswith(".py") and p.name != "__init__.py"
    )
    assert found == MODULES
