"""The checks of one person, shared by ``anpr validate`` (batch) and the client (before sending).

:class:`PersonChecker` takes a person as flat text fields (the batch columns of
:data:`PERSON_FIELDS`) and returns :class:`~anpr_client.errors.Finding` objects, one per
defect, each with the ANPR code it predicts (:mod:`.codes`). A defect is reported once, where
it is: when a surname breaks the character class, the codice fiscale is not also compared with
it; when a birth Comune is unknown, the codice fiscale's place is not compared with it.

>>> from anpr_client.validation.comuni import ComuniTable
>>> checker = PersonChecker(today=date(2026, 1, 1))
>>> [f.code for f in checker.check({"codice_fiscale": "RSSMRA85T10H501O", "cognome": "Rossi",
...     "nome": "Mario", "sesso": "M", "data_nascita": "1985-12-10", "luogo_nascita": "058091"})]
[]
>>> [(f.path, f.code, f.severity) for f in checker.check({"codice_fiscale": "RSSMRA85T10H501O",
...     "cognome": "Rossi", "nome": "Mario", "sesso": "F", "data_nascita": "1985-12-10",
...     "luogo_nascita": "015146"})]
[('codice_fiscale', 'EA042', 'W'), ('codice_fiscale', 'EN339', 'E')]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final

from .._identifiers import CADASTRAL_CODE, ISTAT_CODE, STATE_CODE
from ..errors.exceptions import ConfigurationError, Finding, ValidationError
from . import codes, codicefiscale, fields, toponyms
from .comuni import ComuniTable, fold_name, why_not_valid
from .stati import StatiTable
from .toponyms import SpeciesTable

__all__ = ["BATCH_REQUIRED", "PERSON_FIELDS", "PersonChecker"]

#: The person fields (batch column names), in report order.
PERSON_FIELDS: Final = (
    "codice_fiscale",
    "cognome",
    "nome",
    "sesso",
    "data_nascita",
    "luogo_nascita",
    "cittadinanza",
    "indirizzo",
    "numero_civico",
    "comune_residenza",
)

#: Fields a batch record must have (``codice_fiscale`` missing is a warning, ES070).
BATCH_REQUIRED: Final = frozenset({"cognome", "nome", "sesso", "data_nascita", "luogo_nascita"})

_MEMO_SIZE: Final = 20_000
"""Distinct values remembered per kind (address, house number, residence, citizenship), then
that kind's memo starts over: addresses vary far more than residences and citizenships, and a
shared memo let them evict the few thousand Comuni and states every record looks up."""


@dataclass(frozen=True, slots=True)
class _Place:
    kind: str  # "comune" | "state"
    code: str  # ISTAT / cadastral code, or state code
    known: bool  # the table knows it (so the CF can be compared with it)


class PersonChecker:
    """Check persons against the rules of :mod:`.codes` with the given reference tables.

    ``comuni``, ``stati`` and ``species`` default to the bundled samples (which never report a
    code as nonexistent). ``today`` is the reference date for residence and for birth dates in
    the future (default: the real today). ``severities`` overrides the severity of rules by id
    (``{"cf.surname": "E"}``). Cheap to build. Results for values that repeat (addresses, house
    numbers, residences, citizenships) are remembered, a few MB at most. Safe to share between
    threads (the memo is a plain dict: at worst a value is checked twice).
    """

    def __init__(
        self,
        *,
        comuni: ComuniTable | None = None,
        stati: StatiTable | None = None,
        species: SpeciesTable | None = None,
        today: date | None = None,
        severities: Mapping[str, str] | None = None,
    ):
        self.comuni = comuni if comuni is not None else ComuniTable.sample()
        self.stati = stati if stati is not None else StatiTable.sample()
        self.species = species if species is not None else SpeciesTable.sample()
        self.today = today
        overrides = dict(severities or {})
        for rule_id, severity in overrides.items():
            if rule_id not in codes.RULES or severity not in ("E", "W"):
                raise ConfigurationError(
                    f"bad severity override {rule_id!r}: {severity!r} (a known rule id, E or W)",
                    setting="severities",
                    rule="rule id → E | W",
                )
        self._severity = MappingProxyType(
            {r.id: overrides.get(r.id, r.severity) for r in codes.RULES.values()}
        )
        self._citizenships: dict[str, tuple[tuple[str, str], ...]] = {}
        self._addresses: dict[str, tuple[tuple[str, str], ...]] = {}
        self._residences: dict[tuple[str, date], tuple[tuple[str, str], ...]] = {}
        self._numbers: dict[str, tuple[tuple[str, str], ...]] = {}
        self._name = fields.spec("cognome")
        self._sex = fields.spec("sesso")
        # the values nearly every record has, known to pass the sex field's rules
        self._sexes = frozenset(v for v in ("M", "F") if self._sex.accepts(v))
        self._istat = fields.spec("codiceIstat")
        self._state = fields.spec("codiceStato")
        self._name_ok = self._name.matcher()
        self._denomination_ok = fields.spec("denominazioneToponimo").matcher()

    # ------------------------------------------------------------------ findings

    def finding(self, path: str, rule_id: str, message: str) -> Finding:
        rule = codes.RULES[rule_id]
        return Finding(path, rule_id, message, rule.code, self._severity[rule_id])

    def from_error(self, path: str, error: ValidationError) -> Finding:
        rule_id = error.rule or "field.format"
        return self.finding(path, rule_id, error.message)

    # ------------------------------------------------------------------ the checks

    def check(
        self,
        person: Mapping[str, str | None],
        *,
        paths: Mapping[str, str] | None = None,
        required: frozenset[str] = BATCH_REQUIRED,
        reference_date: date | None = None,
        precision: codicefiscale.Precision = "day",
        cf_required: bool = True,
    ) -> list[Finding]:
        """The findings of one person; an empty list when everything passes.

        ``person`` maps :data:`PERSON_FIELDS` (plus the optional ``luogo_nascita_nome``,
        ``luogo_nascita_provincia``, ``stato_nascita_nome``) to text; empty strings and ``None``
        mean absent. ``paths`` renames fields in the findings (payload paths). ``required`` are
        the fields whose absence is an ``EN081`` finding; a missing codice fiscale is an
        ``ES070`` warning when ``cf_required``. ``reference_date`` is the operation's date
        (default ``today``). ``precision`` is how much of the birth date is known.
        """
        out: list[Finding] = []
        get = person.get
        (cf, surname, name_, sex, raw_date, code, citizenship, address, number, residence) = map(
            get, PERSON_FIELDS
        )
        today = reference_date or self.today or date.today()
        if (  # the common case first: every field there and in its plain, valid form
            cf
            and surname
            and name_
            and sex
            and raw_date
            and code
            and (required is BATCH_REQUIRED or required <= BATCH_REQUIRED)
            and not get("luogo_nascita_nome")
            and self._plain(
                cf,
                surname,
                name_,
                sex,
                raw_date,
                code,
                citizenship,
                address,
                number,
                residence,
                today,
            )
        ):
            return out
        where = paths.get if paths else _same
        finding = self.finding
        if required and not (  # the batch's common case: the five required fields all there
            required is BATCH_REQUIRED
            and surname
            and name_
            and sex
            and raw_date
            and code
            and not (
                surname.isspace()
                or name_.isspace()
                or sex.isspace()
                or raw_date.isspace()
                or code.isspace()
            )
        ):
            for name in _in_order(required):
                value = get(name)
                if not value or value.isspace():
                    out.append(finding(where(name, name), "field.missing", "missing"))

        # --- single fields: XSD rules
        if surname and not self._name.accepts(surname):
            out.append(finding(where("cognome", "cognome"), *self._problem(self._name, surname)))
            surname = None
        if name_ and not self._name.accepts(name_):
            out.append(finding(where("nome", "nome"), *self._problem(self._name, name_)))
            name_ = None
        if sex and sex not in self._sexes and not self._sex.accepts(sex):
            out.append(finding(where("sesso", "sesso"), *self._problem(self._sex, sex)))
            sex = None
        birth: date | None = None
        if raw_date:
            birth = _parse_date(raw_date)
            if birth is None:
                out.append(
                    finding(
                        where("data_nascita", "data_nascita"),
                        "field.format",
                        f"{raw_date!r} is not a date (YYYY-MM-DD)",
                    )
                )
            elif birth > today:
                out.append(
                    finding(
                        where("data_nascita", "data_nascita"),
                        "date.future",
                        f"{birth.isoformat()} is after {today.isoformat()}",
                    )
                )
                birth = None

        # --- birth place (the common case inline: an ISTAT code valid on the birth date)
        known_place: str | None = code
        if not (
            code
            and birth is not None
            and len(code) == 6
            and code.isdigit()
            and not get("luogo_nascita_nome")
            and self.comuni.valid_on(code, birth)
        ):
            if not code and not get("luogo_nascita_nome"):
                known_place = None  # no place given (a search by codice fiscale)
            else:
                place = self._birth_place(person, birth, where, out)
                known_place = place.code if place is not None and place.known else None

        # --- codice fiscale
        if cf:
            errors = codicefiscale.check(
                cf,
                surname=surname,
                name=name_,
                sex=sex,
                birth_date=birth,
                birth_place=known_place,
                precision=precision,
                comuni=self.comuni,
                stati=self.stati,
            )
            if errors:
                path = where("codice_fiscale", "codice_fiscale")
                out.extend(self.from_error(path, e) for e in errors)
        elif cf_required:
            out.append(
                finding(
                    where("codice_fiscale", "codice_fiscale"),
                    "cf.missing",
                    "no codice fiscale given",
                )
            )

        # --- citizenship, address, house number, residence: values that repeat, memoised
        if citizenship and not citizenship.isspace():
            problems = self._citizenships.get(citizenship)
            if problems is None:
                problems = self._citizenship_of(citizenship)
            if problems:
                path = where("cittadinanza", "cittadinanza")
                out.extend(finding(path, *p) for p in problems)
        if address:
            problems = self._addresses.get(address)
            if problems is None:
                problems = self._address_of(address)
            if problems:
                path = where("indirizzo", "indirizzo")
                out.extend(finding(path, *p) for p in problems)
        if number:
            problems = self._numbers.get(number)
            if problems is None:
                problems = self._number_of(number)
            if problems:
                path = where("numero_civico", "numero_civico")
                out.extend(finding(path, *p) for p in problems)
        if residence and not residence.isspace():
            problems = self._residences.get((residence, today))
            if problems is None:
                problems = self._residence_of(residence, today)
            if problems:
                path = where("comune_residenza", "comune_residenza")
                out.extend(finding(path, *p) for p in problems)
        return out

    def _plain(
        self,
        cf: str,
        surname: str,
        name: str,
        sex: str,
        raw_date: str,
        code: str,
        citizenship: str | None,
        address: str | None,
        number: str | None,
        residence: str | None,
        today: date,
    ) -> bool:
        """Whether the person surely has no finding: every field in its plain, valid form (the
        codice fiscale computed from the data, an ISTAT code valid on the birth date, the
        repeating values already checked and clean). ``False`` means *not sure*: :meth:`check`
        then takes its full path, so the findings are the same either way (the differential
        test, tests/validation/test_quick.py, holds the two paths together)."""
        if (
            sex not in self._sexes
            or not self._name_ok(surname)
            or not self._name_ok(name)
            or surname.isspace()
            or name.isspace()
            or len(code) != 6
            or not code.isdigit()
        ):
            return False
        birth = _parse_date(raw_date)
        if (
            birth is None
            or birth > today
            or not codicefiscale.is_code_of(cf, surname, name, sex, raw_date)
            or not self.comuni.valid_with(code, birth, cf[11:15])
        ):
            return False
        # a value not yet in its memo is checked here as the full path would (and remembered)
        if (
            citizenship
            and self._citizenships.get(citizenship) != ()
            and (citizenship.isspace() or self._citizenship_of(citizenship))
        ):
            return False
        if address:  # plain first: addresses rarely repeat, so the memo rarely knows one
            rest = self.species.plain_denomination(address)
            if (rest is None or not self._denomination_ok(rest)) and self._addresses.get(
                address
            ) != ():
                return False
        if number and self._numbers.get(number) != () and self._number_of(number):
            return False
        return (
            not residence
            or self._residences.get((residence, today)) == ()
            or not (residence.isspace() or self._residence_of(residence, today))
        )

    # The memos of the values that repeat: each ``*_of`` checks a value not in its memo and
    # remembers the result (a memo full of distinct values starts over), for both paths.

    def _citizenship_of(self, citizenship: str) -> tuple[tuple[str, str], ...]:
        memo = self._citizenships
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        problems = memo[citizenship] = self._citizenship(citizenship.strip())
        return problems

    def _address_of(self, address: str) -> tuple[tuple[str, str], ...]:
        memo = self._addresses
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        problems = memo[address] = tuple(
            (e.rule or "field.format", e.message)
            for e in toponyms.problems(address, table=self.species)
        )
        return problems

    def _number_of(self, number: str) -> tuple[tuple[str, str], ...]:
        memo = self._numbers
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        problems = memo[number] = self._civico(number)
        return problems

    def _residence_of(self, residence: str, today: date) -> tuple[tuple[str, str], ...]:
        memo = self._residences
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        problems = memo[residence, today] = self._residence(residence.strip(), today)
        return problems

    @staticmethod
    def _civico(number: str) -> tuple[tuple[str, str], ...]:
        try:
            toponyms.validate_civico(number)
        except ValidationError as error:
            return ((error.rule or "field.format", error.message),)
        return ()

    @staticmethod
    def _problem(spec: fields.FieldSpec, value: str) -> tuple[str, str]:
        return spec.problem(value) or ("field.format", "rejected by the field's rules")

    # The XSD's (\d)+ admits other scripts' digits (Arabic-Indic, Devanagari…): the gateway
    # lets them through, but no table has such a code, whether or not it is complete.
    def _citizenship(self, code: str) -> tuple[tuple[str, str], ...]:
        if not STATE_CODE.fullmatch(code):
            if not self._state.accepts(code):
                return (self._problem(self._state, code),)
            return (("citizenship.unknown", f"{code!r} is not a state code (3 digits 0-9)"),)
        state = self.stati.get(code)
        if state is None and self.stati.complete:
            return (("citizenship.unknown", f"{code} is not a state in {self.stati.source}"),)
        if state is not None and not state.citizenship:
            return (("citizenship.unknown", f"{state} is not a citizenship"),)
        return ()

    def _residence(self, code: str, today: date) -> tuple[tuple[str, str], ...]:
        if not self._istat.accepts(code):
            return (self._problem(self._istat, code),)
        if not ISTAT_CODE.fullmatch(code):
            return (("residence.comune", f"{code!r} is not an ISTAT code (6 digits 0-9)"),)
        if self.comuni.at(code, today) is None and (
            self.comuni.complete or self.comuni.periods(code)
        ):
            return (("residence.comune", f"{code} is not a Comune on {today.isoformat()}"),)
        return ()

    def _birth_place(
        self,
        person: Mapping[str, str | None],
        birth: date | None,
        where: Callable[[str, str], str],
        out: list[Finding],
    ) -> _Place | None:
        get = person.get
        code = get("luogo_nascita") or ""
        if not code.isdigit():
            code = code.strip().upper()
        comune_name = (get("luogo_nascita_nome") or "").strip()
        province = (get("luogo_nascita_provincia") or "").strip()
        state_name = (get("stato_nascita_nome") or "").strip()
        path = where("luogo_nascita", "luogo_nascita")
        if not code and comune_name:
            candidates = self.comuni.find(comune_name, province=province or None, day=birth)
            if candidates:
                return _Place("comune", candidates[-1].istat, True)
            if self.comuni.complete and birth is not None:
                out.append(
                    self.finding(
                        path,
                        "birthplace.unknown",
                        f"no Comune {comune_name!r} on {birth.isoformat()}",
                    )
                )
            return None
        if not code:
            return None
        if ISTAT_CODE.fullmatch(code) or (CADASTRAL_CODE.fullmatch(code) and code[0] != "Z"):
            if ISTAT_CODE.fullmatch(code):
                periods = self.comuni.periods(code)
            else:
                periods = self.comuni.by_cadastral(code)
            if not periods:
                if self.comuni.complete:
                    out.append(
                        self.finding(
                            path,
                            "birthplace.unknown",
                            f"{code} is not a Comune in {self.comuni.source}",
                        )
                    )
                return _Place("comune", code, False)
            if birth is not None and not self.comuni.valid_on(code, birth):
                out.append(self.finding(path, "birthplace.date", why_not_valid(periods, birth)))
            elif comune_name and ISTAT_CODE.fullmatch(code):
                valid = [c for c in periods if birth is None or c.valid_on(birth)]
                names = {
                    fold_name(n)
                    for c in valid
                    for n in (c.name, c.other_name, c.transliterated)
                    if n
                }
                if fold_name(comune_name) not in names:
                    out.append(
                        self.finding(
                            path,
                            "birthplace.istat",
                            f"{code} is {'/'.join(sorted({c.name for c in valid}))}, "
                            f"not {comune_name!r}",
                        )
                    )
            return _Place("comune", code, True)
        if STATE_CODE.fullmatch(code) or (CADASTRAL_CODE.fullmatch(code) and code[0] == "Z"):
            state = self.stati.get(code)
            if state is None:
                if self.stati.complete:
                    out.append(
                        self.finding(
                            path,
                            "birthstate.unknown",
                            f"{code} is not a state in {self.stati.source}",
                        )
                    )
                return _Place("state", code, False)
            if not state.birth:
                out.append(
                    self.finding(
                        path, "birthstate.unknown", f"{state} is not a foreign birth state"
                    )
                )
                return _Place("state", code, False)
            if state_name and fold_name(state_name) != fold_name(state.name):
                out.append(
                    self.finding(
                        path, "birthstate.name", f"{code} is {state.name}, not {state_name!r}"
                    )
                )
            return _Place("state", code, True)
        out.append(
            self.finding(
                path,
                "field.format",
                f"{code!r} is neither an ISTAT code (6 digits) nor a state code (3 digits)",
            )
        )
        return None


def _parse_date(text: str) -> date | None:
    # the C parser first (a tenth of the regex's cost); it also reads other ISO 8601 forms
    # (20240101, 2024-W01-1), which the shape test below turns away as the XSD does
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.isascii():
        return None
    return day


def _same(name: str, default: str) -> str:
    return default


@functools.lru_cache(maxsize=64)
def _in_order(names: frozenset[str]) -> tuple[str, ...]:
    """``names`` in the declared order of :data:`PERSON_FIELDS`, any others sorted after them:
    iterating the frozenset itself gave an order that changed with ``PYTHONHASHSEED``."""
    return (*(n for n in PERSON_FIELDS if n in names), *sorted(names.difference(PERSON_FIELDS)))
