"""The public namespace: complete, and every exception class exported."""

from __future__ import annotations

import inspect

import anpr_client
from anpr_client.errors import exceptions


def test_all_is_importable_without_duplicates() -> None:
    assert len(set(anpr_client.__all__)) == len(anpr_client.__all__)
    for name in anpr_client.__all__:
        assert hasattr(anpr_client, name), name


def test_every_exception_is_exported() -> None:
    # The tree sets ``__module__`` to its public path, so look for both spellings.
    classes = {
        name
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj)
        and obj.__module__ in (exceptions.__name__, "anpr_client.errors")
        and not name.startswith("_")
    }
    assert {"AnprError", "AnprRejected", "XMLTooLarge", "UnknownOperationError"} <= classes
    assert classes <= set(exceptions.__all__)
    assert set(exceptions.__all__) <= set(anpr_client.__all__)


def test_every_exception_is_an_anpr_error_or_warning() -> None:
    for name in exceptions.__all__:
        obj = getattr(exceptions, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, anpr_client.AnprError | anpr_client.AnprWarning), name
