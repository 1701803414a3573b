"""The shape every validator module has, and the list of them (python-stdnum's interface).

A validator module checks one kind of value: :mod:`.codicefiscale`, :mod:`.comuni`,
:mod:`.stati`, :mod:`.fields`, :mod:`.toponyms`. Each offers the same three functions, so a
program can drive them as values (:func:`validator_modules`, typed by :class:`ValidatorModule`):

``compact(value) -> str``
    the value without separators and surrounding blanks, case normalised; no validation.
``validate(value, *, field=…, <context>) -> str``
    the compact (normalised) value, or a :class:`~anpr_client.errors.ValidationError`
    subclass naming ``field``, the rule, the ANPR code it predicts and its severity. Nothing
    else, whatever ``value`` is (``None``, bytes, a huge or malformed string).
``is_valid(value, *, field=…, <context>) -> bool``
    takes the arguments of ``validate`` and never raises for any ``value``.

The context is keyword-only and spelled alike across modules: ``day`` (the date at which a
code must be valid; without it any date will do), ``table`` (the reference table; the
bundled sample by default, which never calls a code nonexistent), ``use`` (what the code is
given for: ``"birth"``, ``"citizenship"``, ``"residence"``). :mod:`.codicefiscale` takes the
person's data instead (``surname``, ``birth_date``…, and two tables, ``comuni`` and
``stati``); :mod:`.fields` takes ``rules``, the logical field or XSD type whose rules apply
when ``field`` is a payload path.

Two differences are deliberate: :func:`.codicefiscale.is_valid` counts a code that only
disagrees with the person's data (a warning, ``severity == "W"``) as valid, while
:func:`.codicefiscale.validate` raises it; :func:`.comuni.is_valid` counts a Comune that
exists but not on ``day`` as not valid, although ANPR only warns about it.

>>> [m.__name__.rpartition(".")[2] for m in validator_modules()]
['codicefiscale', 'comuni', 'fields', 'stati', 'toponyms']
>>> [m.is_valid(None, field="cognome") for m in validator_modules()]
[False, False, False, False, False]
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ValidatorModule", "validator_modules"]


class ValidatorModule(Protocol):
    """A validator module as a value (python-stdnum's ``NumberValidationModule``).

    Only ``field`` is common to every module's context, so only ``field`` is declared; it is
    required here because :mod:`.fields` needs it to pick the rules.
    """

    __name__: str

    def compact(self, value: str, /) -> str:
        """The value without separators and surrounding blanks (no validation)."""
        ...

    def validate(self, value: object, /, *, field: str) -> str:
        """The compact value, or a :class:`~anpr_client.errors.ValidationError` subclass."""
        ...

    def is_valid(self, value: object, /, *, field: str) -> bool:
        """Whether the value is valid; never raises."""
        ...


def validator_modules() -> tuple[ValidatorModule, ...]:
    """Every validator module of :mod:`anpr_client.validation`, by name."""
    from . import codicefiscale, comuni, fields, stati, toponyms

    return (codicefiscale, comuni, fields, stati, toponyms)
