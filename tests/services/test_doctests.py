"""The examples in the docstrings of the faces' plain values and of the templates run."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

import anpr_client.services
import anpr_client.services.params
import anpr_client.soap.template

MODULES = [anpr_client.services, anpr_client.services.params, anpr_client.soap.template]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType) -> None:
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failed == 0
