"""Comune at a date, over ANPR's real archive, and the table loaders."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import zipfile
from datetime import date
from pathlib import Path

import pytest

from anpr_client.errors.exceptions import ConfigurationError, InvalidComponent, InvalidFormat
from anpr_client.validation import codicefiscale as cf
from anpr_client.validation import comuni
from anpr_client.validation.comuni import ARCHIVE_COLUMNS, ComuniTable, fold_name
from anpr_client.validation.rules import PersonChecker

from .conftest import TODAY


def _person(code: str, born: date, place: str, **extra: str) -> dict[str, str]:
    return {
        "codice_fiscale": code,
        "cognome": "Rossi",
        "nome": "Maria",
        "sesso": "F",
        "data_nascita": born.isoformat(),
        "luogo_nascita": place,
        **extra,
    }


def _codes(checker: PersonChecker, person: dict[str, str]) -> list[tuple[str, str, str]]:
    return [(f.path, f.code, f.severity) for f in checker.check(person)]


# ------------------------------------------------------------------ the real archive


def test_a_ceased_comune_is_right_before_and_wrong_after(official_comuni: ComuniTable) -> None:
    # Rossano (078108, H579) ceased on 2018-03-30, merged into Corigliano-Rossano.
    assert comuni.validate("078108", day=date(2000, 5, 1), table=official_comuni) == "078108"
    with pytest.raises(InvalidComponent) as info:
        comuni.validate("078108", day=date(2020, 5, 1), table=official_comuni)
    assert (info.value.code, info.value.severity, info.value.rule) == (
        "EN338",
        "W",
        "birthplace.date",
    )
    assert comuni.is_valid("078108", day=date(2018, 3, 30), table=official_comuni)  # last day
    assert not comuni.is_valid("078108", day=date(2018, 3, 31), table=official_comuni)


def test_a_birth_place_is_judged_at_the_birth_date(official_checker: PersonChecker) -> None:
    before = date(1990, 7, 1)
    code = cf.calc("Rossi", "Maria", "F", before, "H579")
    assert _codes(official_checker, _person(code, before, "078108")) == []
    after = date(2019, 7, 1)
    code = cf.calc("Rossi", "Maria", "F", after, "H579")
    assert _codes(official_checker, _person(code, after, "078108")) == [
        ("luogo_nascita", "EN338", "W")
    ]
    # born after the merger: the new Comune, its new cadastral code
    code = cf.calc("Rossi", "Maria", "F", after, "M403")
    assert _codes(official_checker, _person(code, after, "078157")) == []
    # the new Comune did not exist in 1990
    code = cf.calc("Rossi", "Maria", "F", before, "M403")
    assert _codes(official_checker, _person(code, before, "078157")) == [
        ("luogo_nascita", "EN338", "W")
    ]


def test_a_renamed_comune_keeps_its_codes(official_comuni: ComuniTable) -> None:
    old = official_comuni.at("028001", date(1920, 1, 1))
    new = official_comuni.at("028001", date(1990, 1, 1))
    assert old is not None
    assert new is not None
    assert (old.name, new.name) == ("ABANO", "ABANO TERME")
    assert old.cadastral == new.cadastral == "A001"
    assert official_comuni.find("Abano", day=date(1920, 1, 1)) == (old,)
    assert official_comuni.find("Abano Terme", day=date(1920, 1, 1)) == ()


def test_a_province_change_gives_a_new_istat_code(official_checker: PersonChecker) -> None:
    # Abbadia Cerreto: 015001 (Milano) until 1992-04-15, 098001 (Lodi) since; cadastral A004.
    born = date(1980, 2, 2)
    code = cf.calc("Rossi", "Maria", "F", born, "A004")
    assert _codes(official_checker, _person(code, born, "015001")) == []
    assert _codes(official_checker, _person(code, born, "098001")) == [
        ("luogo_nascita", "EN338", "W")
    ]


def test_the_cf_may_carry_any_cadastral_code_the_comune_ever_had(
    official_comuni: ComuniTable, official_checker: PersonChecker
) -> None:
    candidates = (official_comuni.periods(i) for i in sorted({c.istat for c in official_comuni}))
    changed = next(
        periods
        for periods in candidates
        if len({c.cadastral for c in periods}) > 1 and periods[-1].valid_to >= date(1950, 1, 1)
    )
    last = changed[-1]
    born = max(last.valid_from, date(1950, 1, 1))
    for period in changed:
        code = cf.calc("Rossi", "Maria", "F", born, period.cadastral)
        assert _codes(official_checker, _person(code, born, last.istat)) == []


def test_a_cf_of_another_comune_is_en339(official_checker: PersonChecker) -> None:
    born = date(1985, 12, 10)
    milano = cf.calc("Rossi", "Maria", "F", born, "F205")
    assert _codes(official_checker, _person(milano, born, "058091")) == [
        ("codice_fiscale", "EN339", "E")
    ]


def test_an_unknown_code_is_en332_only_in_a_complete_table(official_comuni: ComuniTable) -> None:
    with pytest.raises(InvalidComponent) as info:
        comuni.validate("999999", day=date(2000, 1, 1), table=official_comuni)
    assert info.value.code == "EN332"
    # the sample does not know Pisa: absence from a sample proves nothing
    assert comuni.validate("050026", day=date(2000, 1, 1)) == "050026"
    with pytest.raises(InvalidFormat):
        comuni.validate("5802", day=date(2000, 1, 1))


def test_residence_is_judged_today(official_checker: PersonChecker) -> None:
    born = date(1985, 12, 10)
    code = cf.calc("Rossi", "Maria", "F", born, "H501")
    ok = _person(code, born, "058091", comune_residenza="078157")
    assert _codes(official_checker, ok) == []
    ceased = _person(code, born, "058091", comune_residenza="078108")
    assert _codes(official_checker, ceased) == [("comune_residenza", "EC056", "W")]


def test_cadastral_codes_shared_before_1930_are_all_returned(official_comuni: ComuniTable) -> None:
    shared = [
        code
        for code in {c.cadastral for c in official_comuni}
        if any(
            len(official_comuni.by_cadastral(code, c.valid_from)) > 1
            for c in official_comuni.by_cadastral(code)
        )
    ]
    assert shared  # the archive has such codes (e.g. before the 1920s mergers)
    code = shared[0]
    some = official_comuni.by_cadastral(code)[0]
    assert len(official_comuni.by_cadastral(code, some.valid_from)) >= 1


# ------------------------------------------------------------------ the sample


def _edges(table: ComuniTable, istat: str) -> set[date]:
    """The days where a code's validity can change: each period's ends and the days beside."""
    days = set()
    for c in table.periods(istat):
        for day in (c.valid_from, c.valid_to):
            days.add(day)
            if day > date.min:
                days.add(date.fromordinal(day.toordinal() - 1))
            if day < date.max:
                days.add(date.fromordinal(day.toordinal() + 1))
    return days


def test_valid_with_answers_as_valid_on_and_the_cadastral_codes(
    official_comuni: ComuniTable,
) -> None:
    """``valid_with`` decides a span without gaps by its ends alone: against ``valid_on`` (the
    binary search over the periods) on every edge day of every code, with each cadastral code
    the Comune had and one it never had."""
    gapped = spanned = 0
    for istat in sorted({c.istat for c in official_comuni}):
        periods = official_comuni.periods(istat)
        owned = official_comuni.cadastral_codes(istat)
        covered = [d for d in _edges(official_comuni, istat) if official_comuni.valid_on(istat, d)]
        if len(periods) > 1:
            first, last = periods[0].valid_from, max(c.valid_to for c in periods)
            if len(covered) < len(
                [d for d in _edges(official_comuni, istat) if first <= d <= last]
            ):
                gapped += 1
            else:
                spanned += 1
        for day in _edges(official_comuni, istat):
            for cadastral in (*owned, "Z999"):
                assert official_comuni.valid_with(istat, day, cadastral) == (
                    official_comuni.valid_on(istat, day) and cadastral in owned
                ), (istat, day, cadastral)
    assert gapped > 100  # both branches of valid_with were taken
    assert spanned > 1000


def test_valid_with_on_periods_that_touch_and_periods_with_a_gap() -> None:
    def period(cadastral: str, start: date, end: date) -> comuni.Comune:
        return comuni.Comune("001001", cadastral, "X", start, end)

    touching = ComuniTable(
        [
            period("A001", date(1900, 1, 1), date(1950, 6, 30)),
            period("A002", date(1950, 7, 1), date.max),
        ],
        source="test",
    )
    assert touching.valid_with("001001", date(1950, 6, 30), "A002")
    assert touching.valid_with("001001", date(1950, 7, 1), "A001")
    gap = ComuniTable(
        [
            period("A001", date(1900, 1, 1), date(1950, 6, 30)),
            period("A001", date(1950, 7, 2), date.max),
        ],
        source="test",
    )
    assert gap.valid_with("001001", date(1950, 6, 30), "A001")
    assert not gap.valid_with("001001", date(1950, 7, 1), "A001")
    assert gap.valid_with("001001", date(1950, 7, 2), "A001")
    assert not gap.valid_with("001001", date(1899, 12, 31), "A001")


def test_the_sample_agrees_with_the_archive(official_comuni: ComuniTable) -> None:
    """Every day of every sample period is covered by archive periods with the same codes."""
    sample = ComuniTable.sample()
    assert not sample.complete
    assert len(sample) >= 10
    for c in sample:
        periods = official_comuni.periods(c.istat)
        assert periods, c
        matching = [
            p
            for p in periods
            if p.cadastral == c.cadastral and fold_name(p.name) == fold_name(c.name)
        ]
        assert matching, c
        assert min(p.valid_from for p in matching) == c.valid_from, c
        assert max(p.valid_to for p in matching) == c.valid_to, c
        covered = sorted((p.valid_from, p.valid_to) for p in matching)
        for (_, end), (start, _) in itertools.pairwise(covered):
            assert (start - end).days == 1, c  # no gap inside the sample's period


def test_the_sample_has_the_comuni_the_demo_needs() -> None:
    sample = ComuniTable.sample()
    for istat, cadastral in (("058091", "H501"), ("015146", "F205"), ("037006", "A944"),
                             ("063049", "F839"), ("001272", "L219")):  # fmt: skip
        comune = sample.at(istat, TODAY)
        assert comune is not None
        assert comune.cadastral == cadastral
    assert len(sample.periods("028001")) == 2  # renamed
    assert sample.at("078108", TODAY) is None
    assert sample.periods("078108")


# ------------------------------------------------------------------ loaders


def _archive_rows(table: ComuniTable) -> list[list[str]]:
    out = io.StringIO()
    table.write_csv(out)
    return list(csv.reader(io.StringIO(out.getvalue())))


def test_the_cache_round_trips(tmp_path: Path) -> None:
    sample = ComuniTable.sample()
    target = sample.save_cache(tmp_path / "cache" / "comuni.csv")
    again = ComuniTable.from_cache(target)
    assert again is not None
    assert sorted(again, key=str) == sorted(sample, key=str) or list(again) == list(sample)
    assert ComuniTable.from_cache(tmp_path / "missing.csv") is None
    assert comuni.load_comuni(target).source == str(target)


def test_7001_files_in_several_shapes_give_the_same_table() -> None:
    sample = ComuniTable.sample()
    rows = _archive_rows(sample)
    header, body = rows[0], rows[1:]
    expected = sorted(map(str, sample))

    def semicolon_dmy(with_header: bool, quoted: bool) -> bytes:
        out = io.StringIO()
        writer = csv.writer(
            out, delimiter=";", quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL
        )
        if with_header:
            writer.writerow(header)
        for r in body:
            r = list(r)
            for i in (1, 2):
                y, m, d = r[i].split("-")
                r[i] = f"{d}-{m}-{y}"
            writer.writerow(r)
        return out.getvalue().encode("utf-8")

    shapes = [
        semicolon_dmy(True, True),
        semicolon_dmy(True, False),
        semicolon_dmy(False, False),
        gzip.compress(semicolon_dmy(True, True)),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("comuni.csv", semicolon_dmy(True, True))
    shapes.append(buffer.getvalue())
    xml = (
        "<tabella>"
        + "".join(
            "<riga>"
            + "".join(f"<{h}>{v}</{h}>" for h, v in zip(header, r, strict=True))
            + "</riga>"
            for r in body
        )
        + "</tabella>"
    )
    shapes.append(xml.encode("utf-8"))
    for data in shapes:
        table = ComuniTable.from_7001(data)
        assert sorted(map(str, table)) == expected
        assert table.at("078157", TODAY) is not None
    split = ComuniTable.from_7001([semicolon_dmy(True, False), semicolon_dmy(True, False)])
    assert len(split) == 2 * len(sample)


def test_the_official_workbook_with_excel_dates_loads(reference_dir: Path) -> None:
    table = ComuniTable.from_file(
        reference_dir / "tables" / "xlsx" / "tab_tabella_03___comuni.xlsx"
    )
    abano = table.at("028001", date(1990, 1, 1))
    assert abano is not None
    assert abano.name == "ABANO TERME"
    assert abano.valid_from == date(1924, 11, 14)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"A,B,C\n1,2,3\n", "too few columns"),
        (b'"CODISTAT","DENOMINAZIONE_IT"\n"058091","ROMA"\n', "lacks the column"),
        (
            b'"DATAISTITUZIONE","CODISTAT","CODCATASTALE","DENOMINAZIONE_IT"\n'
            b'"31/31/2000","058091","H501","ROMA"\n',
            "not a date",
        ),
        (b"\x1f\x8b\x08\x00garbage", "corrupt"),
        (b"PK\x03\x04garbage", "corrupt zip"),
        (b"<a><b>", "unreadable"),
        (b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>', "unreadable"),
    ],
)
def test_a_broken_table_is_a_configuration_error(data: bytes, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ComuniTable.from_bytes(data)
    assert fragment in str(info.value)
    assert info.value.setting == "validation.comuni"


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        ComuniTable.from_file(tmp_path / "nope.csv")


def test_archive_columns_match_the_official_header(archive_path: Path) -> None:
    with archive_path.open(encoding="utf-8-sig") as fh:
        assert tuple(next(csv.reader(fh))) == ARCHIVE_COLUMNS
