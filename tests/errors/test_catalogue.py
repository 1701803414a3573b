"""The catalogue against ANPR's official tables, and its own consistency."""

from __future__ import annotations

import csv
import doctest
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import anpr_client.errors.catalogue
from anpr_client.errors import exceptions
from anpr_client.errors.catalogue import (
    Retry,
    all_codes,
    catalogue,
    exception_for,
    group,
    group_of,
    groups,
    lookup,
    retry_for,
)

from .conftest import REPO

CATALOGUE_DIR = REPO / "src" / "anpr_client" / "errors" / "catalogue"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_official_code_is_catalogued_with_its_severity(reference_dir: Path) -> None:
    rows = _rows(reference_dir / "errors.csv")
    assert len(rows) == 853
    for row in rows:
        info = lookup(row["code"])
        assert info is not None, row["code"]
        assert info.code == row["code"]
        assert (info.severity_subentro or "") == row["severity_subentro"], row["code"]
        assert (info.severity_servizi or "") == row["severity_servizi"], row["code"]
        assert (info.reference_table or "") == row["reference_table"], row["code"]
        assert issubclass(info.exception_class, exceptions.AnprRejected), row["code"]
        assert info.exception_class.__name__ == info.exception
        assert info.source in ("anpr", "anpr+ae")
        assert info.group in catalogue().groups


def test_every_revenue_agency_code_is_catalogued(reference_dir: Path) -> None:
    rows = _rows(reference_dir / "errori_agenzia_entrate.csv")
    assert len(rows) == 81
    for row in rows:
        info = lookup(row["code"])
        assert info is not None, row["code"]
        assert info.source in ("ae", "anpr+ae")
        assert issubclass(info.exception_class, exceptions.RevenueAgencyError), row["code"]


def test_the_catalogue_has_nothing_the_tables_do_not_justify(reference_dir: Path) -> None:
    official = {r["code"] for r in _rows(reference_dir / "errors.csv")}
    official |= {r["code"] for r in _rows(reference_dir / "errori_agenzia_entrate.csv")}
    extra = {c.code for c in all_codes()} - official
    assert extra == {c.code for c in all_codes() if c.source == "observed"}
    assert {"999", "998", "EN148", "EN493", "EN527", "XXXX"} <= extra
    for code in extra:
        assert lookup(code).evidence  # type: ignore[union-attr]


def test_no_official_message_is_copied_into_the_repository(reference_dir: Path) -> None:
    def norm(text: str) -> str:
        return " ".join(text.lower().replace("@", " ").split())

    messages = [r["message"] for r in _rows(reference_dir / "errors.csv")]
    messages += [r["message"] for r in _rows(reference_dir / "errori_agenzia_entrate.csv")]
    ours = [
        CATALOGUE_DIR / "codes.csv",
        CATALOGUE_DIR / "groups.toml",
        REPO / "docs" / "errors.md",
        REPO / "src" / "anpr_client" / "errors" / "faults.py",
    ]
    corpus = "\n".join(norm(p.read_text(encoding="utf-8")) for p in ours)
    # message fragments long enough to be a sentence (short ones like "Operazione non
    # effettuabile" are ANPR's wording too, but are also checked below by codes)
    copied = [m for m in messages if len(norm(m)) >= 25 and norm(m) in corpus]
    assert copied == []
    for phrase in ("operazione non effettuabile", "servizio non disponibile", "non produce"):
        assert phrase not in corpus


def test_codes_csv_is_up_to_date_with_the_tables(reference_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "update_error_catalogue.py"), "--check"],
        env={"ANPR_REFERENCE_DIR": str(reference_dir), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_row_follows_groups_toml() -> None:
    data = tomllib.loads((CATALOGUE_DIR / "groups.toml").read_text(encoding="utf-8"))
    notes = data["codes"]
    for info in all_codes():
        grp = catalogue().groups[info.group]
        note = notes.get(info.code, {})
        assert info.exception == note.get("exception", grp.exception), info.code
        assert info.retry.value == note.get("retry", grp.retry.value), info.code
        assert group_of(info.code) is grp


def test_every_code_notes_entry_is_a_catalogued_code() -> None:
    data = tomllib.loads((CATALOGUE_DIR / "groups.toml").read_text(encoding="utf-8"))
    for code, note in data["codes"].items():
        assert lookup(code) is not None, code
        assert set(note) <= {"exception", "retry", "informative", "observed", "evidence"} | {
            "meaning",
            "action",
        }


@pytest.mark.parametrize(
    ("code", "cls", "retry"),
    [
        ("EN122", exceptions.NotFoundError, Retry.NO),
        ("EN148", exceptions.OperationNotAllowedError, Retry.DEPENDS),
        ("EN493", exceptions.PrivilegeError, Retry.NO),
        ("EN527", exceptions.BusinessRuleError, Retry.DEPENDS),
        ("EN001", exceptions.BusinessRuleError, Retry.NO),
        ("EC007", exceptions.ReferenceValueError, Retry.NO),
        ("ES034", exceptions.InconsistentDataError, Retry.NO),
        ("EHR97", exceptions.FormatError, Retry.NO),
        ("EHRA0", exceptions.FormatError, Retry.NO),
        ("EHA3", exceptions.FormatError, Retry.NO),
        ("EF002", exceptions.HouseholdError, Retry.NO),
        ("EA001", exceptions.RevenueAgencyError, Retry.NO),
        ("EAA10", exceptions.RevenueAgencyError, Retry.NO),
        ("EAV20", exceptions.RevenueAgencyError, Retry.NO),
        ("ENT04", exceptions.RevenueAgencyError, Retry.NO),
        ("AEE97", exceptions.RevenueAgencyError, Retry.LATER),
        ("EE999", exceptions.RevenueAgencyError, Retry.LATER),
        ("999", exceptions.ServiceError, Retry.LATER),
        ("998", exceptions.ServiceUnavailableError, Retry.LATER),
        ("XXXX", exceptions.AnprRejected, Retry.NO),
        ("SP000", exceptions.AnprRejected, Retry.NO),
    ],
)
def test_codes_map_to_the_documented_class(
    code: str, cls: type[exceptions.AnprRejected], retry: Retry
) -> None:
    info = lookup(code)
    assert info is not None
    assert info.exception_class is cls
    assert exception_for(code) is cls
    assert info.retry is retry
    assert retry_for(code) is retry


def test_frequent_codes_have_our_own_explanation() -> None:
    for code in ("EN122", "EN148", "EN493", "EN527", "999", "998", "XXXX", "EC007", "ES034"):
        info = lookup(code)
        assert info is not None
        assert info.meaning, code
        assert info.action, code
    assert lookup("EN527").informative  # type: ignore[union-attr]
    assert not lookup("EN122").informative  # type: ignore[union-attr]


def test_every_group_explains_itself_and_names_a_real_class() -> None:
    keys = [g.key for g in groups()]
    assert len(keys) == len(set(keys))
    for grp in groups():
        assert grp.meaning
        assert grp.action
        assert grp.name
        assert issubclass(grp.exception_class, exceptions.AnprRejected)
        assert any(c.group == grp.key for c in all_codes()), grp.key


def test_severity_prefers_the_services_column() -> None:
    ec007 = lookup("EC007")
    assert ec007 is not None
    assert (ec007.severity_subentro, ec007.severity_servizi, ec007.severity) == ("W", "E", "E")
    ea001 = lookup("EA001")
    assert ea001 is not None
    assert (ea001.severity_servizi, ea001.severity) == (None, "W")
    assert ea001.withdrawn
    assert not lookup("EN122").withdrawn  # type: ignore[union-attr]
    assert not lookup("999").withdrawn  # type: ignore[union-attr]
    assert not lookup("999").official  # type: ignore[union-attr]


@pytest.mark.parametrize("raw", ["EN122", "en122", "  En122\n", "\tEN122 "])
def test_lookup_normalises_case_and_blanks(raw: str) -> None:
    info = lookup(raw)
    assert info is not None
    assert info.code == "EN122"


@pytest.mark.parametrize("raw", [None, "", "   ", 122, "EN-122", "EN 122", "ZZZ999", "É1"])
def test_lookup_of_junk_is_none(raw: object) -> None:
    assert lookup(raw) is None


@pytest.mark.parametrize(
    ("code", "key"),
    [
        ("EC999", "EC"),
        ("EN9999", "EN"),
        ("ENT99", "ENT"),
        ("EHRA9", "EHR"),
        ("EHR999", "EHR"),
        ("EAV99", "EAV"),
        ("EAZ01", "EA"),
        ("EE998", "AEE"),
        ("997", "SVC"),
        ("XXXX", "XXXX"),
    ],
)
def test_codes_missing_from_the_catalogue_still_find_their_group(code: str, key: str) -> None:
    grp = group_of(code)
    assert grp is not None
    assert grp.key == key
    assert exception_for(code) is grp.exception_class


@pytest.mark.parametrize("code", ["ZZ1", "E1", "", "!!", "A"])
def test_codes_of_no_group(code: str) -> None:
    assert group_of(code) is None
    assert exception_for(code) is exceptions.AnprRejected
    assert retry_for(code) is Retry.DEPENDS


def test_group_lookup_by_key() -> None:
    assert group("ec") is group("EC")
    assert group("EC") is not None
    assert group("nope") is None
    assert group(None) is None


def test_the_catalogue_is_loaded_once_and_has_every_code_once() -> None:
    assert catalogue() is catalogue()
    codes = [c.code for c in all_codes()]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[A-Z0-9]{3,6}", c) for c in codes)
    assert len(codes) == 853 + 78 + 8  # ANPR table, AE-only codes, observed codes


def test_as_dict_is_json_ready() -> None:
    d = lookup("EN527").as_dict()  # type: ignore[union-attr]
    assert d["code"] == "EN527"
    assert d["informative"] is True
    assert d["meaning"]
    assert set(group("EC").as_dict()) >= {"key", "exception", "retry"}  # type: ignore[union-attr]


def test_module_doctests() -> None:
    result = doctest.testmod(anpr_client.errors.catalogue)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_former_group_names_still_work_and_warn() -> None:
    """ "Family" means a service family now; the catalogue's old names point at the groups."""
    import anpr_client.errors.catalogue as cat

    for old, new in (
        ("Family", cat.CodeGroup),
        ("families", cat.groups),
        ("family", cat.group),
        ("family_of", cat.group_of),
    ):
        with pytest.warns(DeprecationWarning, match=f"catalogue.{old} is deprecated"):
            assert getattr(cat, old) is new
    with pytest.raises(AttributeError):
        cat.no_such_name  # noqa: B018
    info = lookup("EF002")
    assert info is not None
    with pytest.warns(DeprecationWarning, match="CodeInfo.family is deprecated"):
        assert info.family == info.group == "EF"
    with pytest.warns(DeprecationWarning, match="CodeInfo.family_info is deprecated"):
        assert info.family_info is info.group_info
    with pytest.warns(DeprecationWarning, match="Catalogue.families is deprecated"):
        assert catalogue().families is catalogue().groups


def test_household_error_keeps_its_former_name() -> None:
    import anpr_client
    import anpr_client.errors

    assert exceptions.FamilyError is exceptions.HouseholdError
    assert anpr_client.FamilyError is anpr_client.errors.FamilyError is exceptions.HouseholdError
    assert {"FamilyError", "HouseholdError"} <= set(anpr_client.__all__)
    assert lookup("EF002").exception_class is exceptions.HouseholdError  # type: ignore[union-attr]
