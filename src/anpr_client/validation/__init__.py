"""Pre-transmission checks: validate and normalise registry data before ANPR sees it.

Every defect ANPR would refuse comes back as an error, one round trip at a time. These checks
run locally, name the ANPR error code each defect would produce, and fix what can be fixed
safely (with a report of every change). The same rules serve ``anpr validate`` over a whole
export and the client, which runs them on every request before sending (opt-out).

Validators, one module each, all of one shape like python-stdnum's (:mod:`._protocol`:
``compact``; ``validate(value, *, field=…, day=…, table=…, use=…)`` returning the normalised
value or raising a :class:`~anpr_client.errors.ValidationError` with ``.field``, ``.code``,
``.rule``, ``.severity``; and ``is_valid``, which never raises), listed by
:func:`validator_modules`:

- :mod:`.codicefiscale`: format, check character, omocodia, consistency with the person;
- :mod:`.comuni`: the Comune valid at a date (ANPR's archive format, the 7001 files, a cache);
- :mod:`.stati`: foreign states (birth, citizenship);
- :mod:`.fields`: character classes, lengths and formats read from the bundle's XSD;
- :mod:`.toponyms`: toponym species and house numbers.

Around them: :mod:`.codes` (every rule and the code it predicts), :mod:`.rules` (the checks of
one person), :mod:`.requirements` (what each operation needs beyond the XSD),
:mod:`.normalise` (reversible normalisation), :mod:`.batch` and :mod:`.report` (streaming
batch and its reports) and :mod:`.precheck` (the client's hook).
"""

from ..errors.exceptions import Finding, LocalCheckError
from ._protocol import ValidatorModule, validator_modules
from .batch import BatchResult, ColumnMapping, read_records, validate_file
from .codes import INPUT, RULES, XSD, Rule
from .comuni import Comune, ComuniTable, load_comuni
from .normalise import Change, Policy, normalise_record, normalise_value, revert
from .precheck import enforce, precheck, shared_checker
from .report import ReportWriter
from .rules import PERSON_FIELDS, PersonChecker
from .stati import StatiTable, Stato
from .toponyms import Specie, SpeciesTable

__all__ = [
    "INPUT",
    "PERSON_FIELDS",
    "RULES",
    "XSD",
    "BatchResult",
    "Change",
    "ColumnMapping",
    "Comune",
    "ComuniTable",
    "Finding",
    "LocalCheckError",
    "PersonChecker",
    "Policy",
    "ReportWriter",
    "Rule",
    "Specie",
    "SpeciesTable",
    "StatiTable",
    "Stato",
    "ValidatorModule",
    "enforce",
    "load_comuni",
    "normalise_record",
    "normalise_value",
    "precheck",
    "read_records",
    "revert",
    "shared_checker",
    "validate_file",
    "validator_modules",
]
