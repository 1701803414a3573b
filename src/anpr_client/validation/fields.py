"""ANPR field rules: character classes, lengths and formats, read from the XSD.

ANPR's security gateway validates every request against the schema before the application
sees it, and refuses the whole request when one value breaks a rule (pseudo-code ``XSD``, see
:mod:`.codes`). The rules live in the simple types of the ``tipoDato`` namespace; this module
reads them **at run time from anpr-client's own bundle** (``common/tipo-dato.xsd``, or the
``tipoDato.xsd`` of an official bundle) and applies them to single values, so a batch of
records is checked without building XML.

Names and surnames (``alfabeticoNomiCognomi``) accept Latin letters with the accents of
Unicode's Latin-1 and Latin Extended-A blocks (À to ž), space, apostrophe, hyphen, dot and
comma, up to 80 characters; digits and, for instance, the Romanian Ș (U+0218) or the typographic
apostrophe ’ are refused. Addresses and free text have wider classes.

>>> validate("D'Angelo", field="cognome")
"D'Angelo"
>>> validate("Nicolò", field="nome")
'Nicolò'
>>> validate("Ștefan", field="nome")
Traceback (most recent call last):
    ...
anpr_client.errors.InvalidFormat: nome: character not allowed: 'Ș' (U+0218) [XSD]
>>> validate("X" * 81, field="generalita.cognome", rules="cognome")
Traceback (most recent call last):
    ...
anpr_client.errors.InvalidLength: generalita.cognome: 81 characters, at most 80 allowed [XSD]
>>> validate(" 215 ", field="codiceStato")  # whiteSpace collapse: what the schema reads
'215'
>>> validate_date("1985-02-30")
Traceback (most recent call last):
    ...
anpr_client.errors.InvalidFormat: dataNascita: '1985-02-30' is not a date (YYYY-MM-DD) [XSD]
>>> is_valid("M", field="sesso"), is_valid("X", field="sesso"), is_valid(None, field="sesso")
(True, False, False)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Final

from lxml import etree

from .._compat import old_call
from ..errors.exceptions import ConfigurationError, ValidationError
from ._errors import error
from ._xsd_regex import translate

__all__ = [
    "FIELD_TYPES",
    "FieldSpec",
    "compact",
    "is_valid",
    "load_specs",
    "spec",
    "tipo_dato_path",
    "validate",
    "validate_date",
]

_XS: Final = "http://www.w3.org/2001/XMLSchema"
_TIPO_DATO_NS: Final = "http://sogei.it/ANPR/tipoDato"
_DATE: Final = re.compile(r"(-?[0-9]{4,})-([0-9]{2})-([0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")
_REPETITION: Final = re.compile(r"\((?:\[.*\]|\\d)\)[*+]")
# XSD's whiteSpace facet knows four blanks only (space, tab, LF, CR), not Unicode's others
_XSD_BLANKS: Final = re.compile(r"[ \t\n\r]+")
_XSD_BLANKS_REPLACED: Final = re.compile(r"[\t\n\r]")

#: Logical field names (payload element names and batch columns) → XSD simple type.
FIELD_TYPES: Final = MappingProxyType(
    {
        "cognome": "alfabeticoNomiCognomi",
        "nome": "alfabeticoNomiCognomi",
        "sesso": "tipoSesso",
        "dataNascita": "tipoDataAnagrafica",
        "codiceFiscale": "tipoDominioCodiceFiscale",
        "codiceIstat": "tipoCodiceIstatComune",
        "codiceStato": "numerico3",
        "nomeComune": "alfanumericoComune",
        "siglaProvinciaIstat": "alfabeticoProvincia",
        "descrizioneStato": "alfanumerico120char",
        "descrizioneLocalita": "alfanumericoslash120char",
        "specie": "tipoSpecie",
        "codSpecie": "tipoSpecieToponimo",
        "denominazioneToponimo": "alfanumericoIndirizzo",
        "numero": "tipoNumeroCiv",
        "lettera": "alfanumericoParteIndirizzo10",
        "esponente1": "tipoEsponente1",
        "cap": "tipoCap",
        "frazione": "tipoFrazione",
        "note": "tipoNote",
        "idMotivoIscrizione": "tipoMotivoIscrizione",
    }
)


@dataclass(frozen=True)
class FieldSpec:
    """The value rules of one XSD simple type, flattened along its derivation."""

    type_name: str
    base: str
    """The XSD builtin it derives from (``string``, ``date``, …)."""
    patterns: tuple[tuple[str, ...], ...] = ()
    """The XSD patterns by derivation step: a value matches one pattern of every step."""
    min_length: int | None = None
    max_length: int | None = None
    whitespace: str = "preserve"
    enumeration: tuple[str, ...] = ()
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)
    _charset: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    _fast: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def accepts(self, value: str) -> bool:
        """Whether ``value`` passes (the fast path of :meth:`problem`)."""
        if self._fast is not None:
            return self._fast.fullmatch(self.normalise(value)) is not None
        return self.problem(value) is None

    def matcher(self) -> Callable[[str], object]:
        """A function with the answer of :meth:`accepts` (truthy: accepted) in fewer steps: the
        precompiled pattern's own ``fullmatch`` when the type keeps blanks as written (no
        ``whiteSpace`` step to apply), else :meth:`accepts` itself."""
        if self._fast is not None and self.whitespace == "preserve":
            return self._fast.fullmatch
        return self.accepts

    def allows_char(self, char: str) -> bool:
        """Whether the field's character class contains ``char`` (``True`` if it has none)."""
        return self._charset is None or self._charset.fullmatch(char) is not None

    def normalise(self, value: str) -> str:
        """``value`` after the type's ``whiteSpace`` facet, as the schema validator reads it."""
        if self.whitespace == "collapse":
            return _XSD_BLANKS.sub(" ", value).strip(" ")
        if self.whitespace == "replace":
            return _XSD_BLANKS_REPLACED.sub(" ", value)
        return value

    def problem(self, value: str) -> tuple[str, str] | None:
        """``(rule id, message)`` for the first rule ``value`` breaks, or ``None``."""
        value = self.normalise(value)
        n = len(value)
        if self.min_length is not None and n < self.min_length:
            if n == 0:
                return "field.length", "empty"
            return "field.length", f"{n} characters, at least {self.min_length} needed"
        if self.max_length is not None and n > self.max_length:
            return "field.length", f"{n} characters, at most {self.max_length} allowed"
        if self.base == "date":
            m = _DATE.fullmatch(value)
            if m is None or not _real_date(m):
                return "field.format", f"{value!r} is not a date (YYYY-MM-DD)"
        if self.enumeration and value not in self.enumeration:
            return "field.format", f"{value!r} is not one of {', '.join(self.enumeration)}"
        for pattern in self._compiled:
            if pattern.fullmatch(value) is None:
                if self._charset is not None:
                    bad = sorted({ch for ch in value if self._charset.fullmatch(ch) is None})
                    if bad:
                        listed = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in bad[:5])
                        plural = "s" if len(bad) > 1 else ""
                        return "field.charset", f"character{plural} not allowed: {listed}"
                return "field.format", f"{value!r} is not in the format ANPR expects"
        return None


def _real_date(m: re.Match[str]) -> bool:
    try:
        date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


def tipo_dato_path(bundle_dir: Path | None = None) -> Path:
    """The ``tipoDato`` schema of a bundle (ours by default)."""
    if bundle_dir is None:
        from ..soap.bundle import default_bundle_dir

        bundle_dir = default_bundle_dir()
    for candidate in (bundle_dir / "common" / "tipo-dato.xsd", bundle_dir / "tipoDato.xsd"):
        if candidate.is_file():
            return candidate
    raise ConfigurationError(
        f"no tipoDato schema in the WSDL bundle {str(bundle_dir)!r}", setting="wsdl_dir"
    )


def _translate(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern))


@functools.cache
def load_specs(path: Path | None = None) -> Mapping[str, FieldSpec]:
    """Every simple type of the ``tipoDato`` schema at ``path`` (ours by default), by name."""
    path = path or tipo_dato_path()
    try:
        root = etree.parse(str(path)).getroot()  # our own bundle: a trusted file
    except (OSError, etree.XMLSyntaxError) as exc:
        raise ConfigurationError(f"cannot read {str(path)!r}: {exc}", setting="wsdl_dir") from None
    if root.get("targetNamespace") != _TIPO_DATO_NS:
        raise ConfigurationError(f"{str(path)!r} is not the tipoDato schema", setting="wsdl_dir")
    raw = {str(st.get("name")): st for st in root.iter(f"{{{_XS}}}simpleType") if st.get("name")}
    specs: dict[str, FieldSpec] = {}

    def resolve(name: str, seen: tuple[str, ...] = ()) -> FieldSpec:
        if name in specs:
            return specs[name]
        node = raw.get(name)
        restriction = node.find(f"{{{_XS}}}restriction") if node is not None else None
        if restriction is None or name in seen:
            return FieldSpec(type_name=name, base="string")  # a list/union: no value rules
        base_name = restriction.get("base", "xs:string").rpartition(":")[2]
        parent = (
            resolve(base_name, (*seen, name))
            if base_name in raw
            else FieldSpec(
                type_name=base_name,
                base=base_name,
                whitespace="preserve" if base_name == "string" else "collapse",
            )
        )
        facets: dict[str, list[str]] = {}
        for facet in restriction:
            if isinstance(facet.tag, str):
                facets.setdefault(etree.QName(facet).localname, []).append(facet.get("value", ""))
        patterns = parent.patterns
        if "pattern" in facets:
            patterns = (*patterns, tuple(facets["pattern"]))
        compiled = parent._compiled
        if "pattern" in facets:
            compiled = (*compiled, _translate("|".join(f"({p})" for p in facets["pattern"])))
        length = facets.get("length", [None])[0]
        min_length = int(length) if length else parent.min_length
        max_length = int(length) if length else parent.max_length
        if "minLength" in facets:
            min_length = int(facets["minLength"][0])
        if "maxLength" in facets:
            max_length = int(facets["maxLength"][0])
        charset = parent._charset
        own = facets.get("pattern", [])
        if len(own) == 1 and _REPETITION.fullmatch(own[0]):
            inner = own[0][1 : own[0].rindex(")")]
            charset = _translate(inner)
        whitespace = facets.get("whiteSpace", [parent.whitespace])[0]
        enumeration = tuple(facets.get("enumeration", ())) or parent.enumeration
        fast = None
        if len(compiled) == 1 and whitespace != "replace" and parent.base == "string":
            if charset is not None and not enumeration:
                low, high = min_length or 0, "" if max_length is None else max_length
                fast = re.compile(f"(?:{charset.pattern}){{{low},{high}}}")
            elif min_length is None and max_length is None and not enumeration:
                fast = compiled[0]
        spec = FieldSpec(
            type_name=name,
            base=parent.base,
            patterns=patterns,
            min_length=min_length,
            max_length=max_length,
            whitespace=whitespace,
            enumeration=enumeration,
            _compiled=compiled,
            _charset=charset,
            _fast=fast,
        )
        specs[name] = spec
        return spec

    for type_name in raw:
        resolve(type_name)
    return MappingProxyType(specs)


def spec(field_or_type: str, *, path: Path | None = None) -> FieldSpec:
    """The rules of a logical field (``cognome``) or of an XSD type (``alfabeticoNomiCognomi``)."""
    specs = load_specs(path)
    type_name = FIELD_TYPES.get(field_or_type, field_or_type)
    try:
        return specs[type_name]
    except KeyError:
        raise ConfigurationError(
            f"no field or XSD type {type_name!r} in the tipoDato schema",
            setting="field",
            rule="a field of FIELD_TYPES or a tipoDato type",
        ) from None


def compact(value: str) -> str:
    """The value without surrounding blanks and with inner runs of blanks folded (no validation)."""
    return " ".join(value.split())


def _selected(
    function: str,
    legacy_field: str | None,
    field: str | None,
    rules: str | None,
    name: str | None,
) -> tuple[str, str]:
    """``(field, rules)`` from the new and the old spellings of the arguments."""
    if legacy_field is not None:
        old_call(f"fields.{function}", "pass the field as field=…")
        field = legacy_field if field is None else field
    if name is not None:
        old_call(f"fields.{function}", "name= is now field=, the rules' field is rules=")
        rules, field = rules or field, name
    if field is None:
        raise TypeError(f"fields.{function}() needs field=")
    return field, rules or field


def validate(
    value: object,
    legacy_field: str | None = None,
    /,
    *,
    field: str | None = None,
    rules: str | None = None,
    name: str | None = None,
) -> str:
    """Check ``value`` against the XSD rules of ``field``; return it as the schema reads it.

    ``field`` is a logical field (``cognome``, see :data:`FIELD_TYPES`) or an XSD type
    (``alfabeticoNomiCognomi``), and names the field in the error; ``rules`` picks the rules
    instead when ``field`` is a payload path (``field="generalita.cognome", rules="cognome"``).
    The value returned has the type's ``whiteSpace`` facet applied (``" 215 "`` is ``"215"``
    for a ``collapse`` type; ``preserve`` types keep every blank, and a blank may break their
    rules). The field as second positional argument and ``name=`` are the old spellings
    (deprecated).
    """
    field, rules = _selected("validate", legacy_field, field, rules, name)
    return _validate(value, field, spec(rules))


def _validate(value: object, field: str, rules: FieldSpec) -> str:
    if not isinstance(value, str):
        raise error("field.format", "the value must be text", field=field)
    problem = rules.problem(value)
    if problem is not None:
        raise error(problem[0], problem[1], field=field)
    return rules.normalise(value)


def validate_date(value: str | date, field: str = "dataNascita") -> date:
    """A date as ANPR accepts it (``YYYY-MM-DD``, optionally with a time zone)."""
    if isinstance(value, date):
        return value
    m = _DATE.fullmatch(value) if isinstance(value, str) else None
    if m is None or not _real_date(m):
        raise error("field.format", f"{value!r} is not a date (YYYY-MM-DD)", field=field)
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:  # pragma: no cover - _real_date checked it
        raise error("field.format", f"{value!r} is not a date", field=field) from None


def is_valid(
    value: object,
    legacy_field: str | None = None,
    /,
    *,
    field: str | None = None,
    rules: str | None = None,
    name: str | None = None,
) -> bool:
    """Whether ``value`` satisfies the rules of ``field`` (never raises; the arguments of
    :func:`validate`)."""
    field, rules = _selected("is_valid", legacy_field, field, rules, name)
    try:
        _validate(value, field, spec(rules))
    except ValidationError:
        return False
    return True
