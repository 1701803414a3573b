"""The client's hook: the same checks as ``anpr validate``, on a request payload, before sending.

:func:`precheck` takes an operation code and the payload (shaped like the XSD, as
:mod:`anpr_client.soap.codec` takes it, ideally with the ``testataRichiesta`` the client built) and
returns every :class:`~anpr_client.errors.Finding`: the operation's required combinations
(:mod:`.requirements`), every person found in the payload (any element with a ``cognome``/
``nome`` and a ``codiceFiscale``/``dataNascita``/``luogoNascita``/``sesso``: the
``generalita`` of the subject, of parents and spouses, ``criteriRicerca`` of a search), their
citizenships and their addresses. Paths in the findings are payload paths
(``generalita1001.generalita.codiceFiscale.codFiscale``). Any element with a
``codiceFiscale`` counts as a person too.

:func:`enforce` raises :class:`~anpr_client.errors.LocalCheckError` when a finding is
blocking, so a request that would come back with an ``EC``/``ES``/``EN`` error, or be refused
by the gateway, is stopped locally with the same code; it returns the warnings otherwise.

>>> payload = {"criteriRicerca": {"codiceFiscale": "RSSMRA85T10A562T"},
...            "datiRichiesta": {"dataRiferimentoRichiesta": "2026-01-01"}}
>>> [(f.path, f.code) for f in precheck("3002", payload)]
[('criteriRicerca.codiceFiscale', 'EN122')]
>>> enforce("3002", payload)
Traceback (most recent call last):
    ...
anpr_client.errors.LocalCheckError: invalid payload for operation 3002 (1 problem), ...
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Final

from .._identifiers import ISTAT_CODE
from ..errors.exceptions import Finding, LocalCheckError
from . import codes, requirements
from .comuni import ComuniTable, load_comuni
from .requirements import values_at
from .rules import PersonChecker
from .stati import StatiTable
from .toponyms import SpeciesTable

__all__ = ["enforce", "precheck", "shared_checker"]

_PERSON_NAMES: Final = frozenset({"cognome", "nome", "senzaCognome", "senzaNome"})
_PERSON_DATA: Final = frozenset({"codiceFiscale", "dataNascita", "luogoNascita", "sesso"})
_NONE: Final[frozenset[str]] = frozenset()

# A search that cannot match anything answers EN122 (no result) rather than a CF error.
_CODE_OVERRIDES: Final = MappingProxyType(
    {
        "3002": {"cf.format": "EN122", "cf.checksum": "EN122", "cf.date": "EN122"},
    }
)


@functools.lru_cache(maxsize=8)
def _checker_for(comuni: str | None) -> PersonChecker:
    return PersonChecker(comuni=load_comuni(Path(comuni) if comuni else None))


def shared_checker(comuni: str | Path | None = None) -> PersonChecker:
    """One :class:`~.rules.PersonChecker` per comuni archive for the whole process.

    ``comuni`` is the archive file (``ValidationSettings.comuni``); ``None`` means the cached
    copy, else the bundled sample. Loading the full archive takes a fraction of a second, so
    the client should use this rather than build a checker per request.
    """
    key = str(Path(comuni).expanduser().resolve()) if comuni is not None else None
    return _checker_for(key)


_text: Final = requirements._text  # the one rendering of a payload value as text


def _people(
    node: object, path: str = "", out: list[tuple[str, Mapping[str, object]]] | None = None
) -> list[tuple[str, Mapping[str, object]]]:
    """Every person in ``node`` with its path, in document order (a list, filled in one
    recursive walk: no generator per level)."""
    if out is None:
        out = []
    if type(node) is dict or isinstance(node, Mapping):  # a dict first: the ABC check is slow
        if "codiceFiscale" in node or (
            not _PERSON_NAMES.isdisjoint(node) and not _PERSON_DATA.isdisjoint(node)
        ):
            out.append((path, node))
        for key, value in node.items():
            if key == "testataRichiesta" or type(value) is str:  # a leaf holds no person
                continue
            _people(value, f"{path}.{key}" if path else str(key), out)
    elif isinstance(node, list | tuple):
        for i, item in enumerate(node):
            _people(item, f"{path}[{i}]", out)
    return out


def _put(
    flat: dict[str, str | None], paths: dict[str, str], name: str, value: object, path: str
) -> None:
    text = _text(value)
    if text:
        flat[name] = text
        paths[name] = path


def _flatten(
    base: str, person: Mapping[str, object], birth: Mapping[str, object] | None
) -> tuple[dict[str, str | None], dict[str, str], str]:
    """A person as flat fields, their payload paths and the precision of the birth date."""
    flat: dict[str, str | None] = {}
    paths: dict[str, str] = {}
    prefix = f"{base}." if base else ""  # a field's path: prefix + its key

    # absent values (None) are skipped before their path is written: most are absent
    # type() before isinstance(): the ABC check of Mapping costs more than the rest of a step
    cf = person.get("codiceFiscale")
    if type(cf) is dict or (type(cf) is not str and isinstance(cf, Mapping)):
        _put(
            flat, paths, "codice_fiscale", cf.get("codFiscale"), f"{prefix}codiceFiscale.codFiscale"
        )
    elif cf is not None:
        _put(flat, paths, "codice_fiscale", cf, f"{prefix}codiceFiscale")
    for key in ("cognome", "nome", "sesso"):
        value = person.get(key)
        if value is not None:
            _put(flat, paths, key, value, prefix + key)
    value = person.get("dataNascita")
    if value is not None:
        _put(flat, paths, "data_nascita", value, f"{prefix}dataNascita")
    senza_giorno = person.get("senzaGiorno")
    senza_mese = person.get("senzaGiornoMese")
    place = person.get("luogoNascita")
    place_base = f"{prefix}luogoNascita"
    if birth is not None:  # 3002: datiNascita next to criteriRicerca
        _put(flat, paths, "data_nascita", birth.get("dataEvento"), "datiNascita.dataEvento")
        senza_giorno = senza_giorno or birth.get("senzaGiorno")
        senza_mese = senza_mese or birth.get("senzaGiornoMese")
        place, place_base = birth.get("luogoNascita"), "datiNascita.luogoNascita"
    if senza_giorno is None and senza_mese is None:  # the common case: a whole date
        precision = "day"
    else:
        precision = "year" if _text(senza_mese) else "month" if _text(senza_giorno) else "day"
    if (
        place is not None
        and isinstance(place, Mapping)
        and not _text(place.get("luogoEccezionale"))
    ):
        comune, localita = place.get("comune"), place.get("localita")
        if isinstance(comune, Mapping):
            path = f"{place_base}.comune"
            _put(flat, paths, "luogo_nascita", comune.get("codiceIstat"), f"{path}.codiceIstat")
            _put(flat, paths, "luogo_nascita_nome", comune.get("nomeComune"), f"{path}.nomeComune")
            _put(flat, paths, "luogo_nascita_provincia", comune.get("siglaProvinciaIstat"), path)
            paths.setdefault("luogo_nascita", f"{path}.nomeComune")
        elif isinstance(localita, Mapping):
            path = f"{place_base}.localita"
            _put(flat, paths, "luogo_nascita", localita.get("codiceStato"), f"{path}.codiceStato")
            _put(
                flat,
                paths,
                "stato_nascita_nome",
                localita.get("descrizioneStato"),
                f"{path}.descrizioneStato",
            )
    return flat, paths, precision


def _reference_date(payload: Mapping[str, object]) -> date | None:
    testata = payload.get("testataRichiesta")
    if testata is None or (type(testata) is dict and "dataDecorrenza" not in testata):
        return None  # the common case, without walking the path
    for _, value in values_at(payload, "testataRichiesta.dataDecorrenza"):
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(_text(value)[:10])
        except ValueError:
            return None  # the XSD validation reports it
    return None


def precheck(
    operation: str,
    payload: Mapping[str, object],
    *,
    comuni: ComuniTable | None = None,
    stati: StatiTable | None = None,
    species: SpeciesTable | None = None,
    checker: PersonChecker | None = None,
    today: date | None = None,
) -> list[Finding]:
    """Every finding of the local checks on ``payload`` for ``operation`` (empty: all clear).

    Tables default to the bundled samples, which never call a code nonexistent: pass the
    official tables (or a ``checker`` built with them) for the full checks. Build one
    :class:`~.rules.PersonChecker` and reuse it for many requests.
    """
    if checker is None:
        checker = PersonChecker(comuni=comuni, stati=stati, species=species, today=today)
    out = requirements.check(operation, payload)
    reference = _reference_date(payload) or checker.today or date.today()
    birth = payload.get("datiNascita") if operation.startswith("3") else None
    if birth is not None and not isinstance(birth, Mapping):
        birth = None
    for base, person in _people(payload):
        nascita = birth if birth is not None and base == "criteriRicerca" else None
        flat, paths, precision = _flatten(base, person, nascita)
        out.extend(
            checker.check(
                flat,
                paths=paths,
                required=_NONE,
                reference_date=reference,
                precision=precision,  # type: ignore[arg-type]
                cf_required=False,
            )
        )
    direct = type(payload) is dict  # then an absent top-level element is looked up once
    if not direct or "cittadinanza" in payload:
        out.extend(_citizenships(payload, checker))
    if not direct or "residenza" in payload or "residenzaFamiglia" in payload:
        out.extend(_residences(payload, checker, reference))
    overrides = _CODE_OVERRIDES.get(operation)
    if overrides and out:
        out = [
            Finding(f.path, f.rule, f.message, overrides[f.rule], f.severity)
            if f.rule in overrides
            else f
            for f in out
        ]
    return out


def _citizenships(payload: Mapping[str, object], checker: PersonChecker) -> Iterator[Finding]:
    for where, code in values_at(payload, "cittadinanza.codiceStato"):
        yield from checker.check(
            {"cittadinanza": _text(code)},
            paths={"cittadinanza": where},
            required=_NONE,
            cf_required=False,
        )


def _residences(
    payload: Mapping[str, object], checker: PersonChecker, reference: date
) -> Iterator[Finding]:
    for key in ("residenza", "residenzaFamiglia"):
        for where, residence in values_at(payload, key):
            if not isinstance(residence, Mapping):
                continue
            day = reference
            for _, value in values_at(residence, "dataDecorrenzaResidenza"):
                with contextlib.suppress(ValueError):  # the XSD validation reports it
                    day = date.fromisoformat(_text(value)[:10])
            for path, istat in values_at(residence, "indirizzo.comune.codiceIstat"):
                code = _text(istat)
                if not checker.comuni.valid_on(code, day) and (
                    checker.comuni.complete
                    or checker.comuni.periods(code)
                    or not ISTAT_CODE.fullmatch(code)  # (\d)+ admits other scripts' digits
                ):
                    yield checker.finding(
                        f"{where}.{path}",
                        "residence.comune",
                        f"{code} is not a Comune on {day.isoformat()}",
                    )
            for field in ("codSpecie", "specie"):
                for path, value in values_at(residence, f"indirizzo.toponimo.{field}"):
                    text = _text(value)
                    if checker.species.get(text) is None and checker.species.complete:
                        yield checker.finding(
                            f"{where}.{path}",
                            "toponym.species",
                            f"{text!r} is not a toponym species",
                        )


def enforce(
    operation: str,
    payload: Mapping[str, object],
    **tables: object,
) -> list[Finding]:
    """:func:`precheck`, raising :class:`LocalCheckError` if a finding is blocking.

    Returns the warnings (severity ``W``) when nothing blocks. Keyword arguments are those of
    :func:`precheck`.
    """
    findings = precheck(operation, payload, **tables)  # type: ignore[arg-type]
    if findings and any(f.blocking for f in findings):
        raise LocalCheckError(operation, findings)
    return findings


assert all(rule in codes.RULES for o in _CODE_OVERRIDES.values() for rule in o)
