"""Newer interface versions: answers keep what a later ANPR version added, readable by path,
and a user-supplied newer bundle (``wsdl_dir``) is used for building and for reading.

The newer bundle is derived here, in the test, from our own ``wsdl/`` by adding two elements
(never from the official files): ``anncsu`` at the end of ``tipoDatiSoggettiRisposta``, as
ANPR 9.2 did in some form (italia/anpr#5011, #5047, #5134), and a search criterion of our own
invention at the end of 3002's ``tipoCriteriRicerca``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from anpr_client.errors.exceptions import PayloadError
from anpr_client.settings import Settings, load_settings
from anpr_client.soap.binding import Binding
from anpr_client.soap.bundle import default_bundle_dir, get_bundle

from .corpus import fixture

ANNCSU = (
    '      <xs:element name="anncsu" minOccurs="0">\n'
    "        <xs:complexType>\n"
    "          <xs:sequence>\n"
    '            <xs:element name="verificato" type="xs:string" minOccurs="0"/>\n'
    "          </xs:sequence>\n"
    "        </xs:complexType>\n"
    "      </xs:element>\n"
)
CRITERION = '      <xs:element name="criterioDiProva" type="xs:string" minOccurs="0"/>\n'


def _replace_once(path: Path, old: str, new: str) -> None:
    source = path.read_text(encoding="utf-8")
    assert source.count(old) == 1, old
    path.write_text(source.replace(old, new), encoding="utf-8")


@pytest.fixture
def newer_bundle(tmp_path: Path) -> Path:
    root = tmp_path / "wsdl-newer"
    shutil.copytree(default_bundle_dir(), root)
    last_of_subject = (
        '      <xs:element name="dettagliProcedimento" '
        'type="tns:tipoDatiProcedimentoIstruttoria" minOccurs="0"/>\n'
    )
    _replace_once(root / "common" / "tipo-dato.xsd", last_of_subject, last_of_subject + ANNCSU)
    end_of_criteria = (
        '      <xs:element name="idANPR" type="xs:string" minOccurs="0"/>\n'
        "    </xs:sequence>\n"
        "  </xs:complexType>\n"
        '  <xs:complexType name="tipoCriteriRicerca3006">'
    )
    _replace_once(
        root / "3000-consultazione" / "vocabulary.xsd",
        end_of_criteria,
        end_of_criteria.replace("    </xs:sequence>", CRITERION + "    </xs:sequence>", 1),
    )
    return root


def _payload(**criteria: str) -> dict[str, Any]:
    return {
        "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U", **criteria},
        "datiRichiesta": {
            "schedaAnagraficaRichiesta": "1",
            "dataRiferimentoRichiesta": "2025-09-25",
        },
    }


def test_a_newer_user_bundle_reads_what_ours_sets_aside(newer_bundle: Path) -> None:
    entry = fixture("answers/ok-5005-anncsu.xml")
    ours = Binding(Settings(codice_istat="058091")).read("5005", entry.response())
    assert [u.localname for u in ours.unknown_elements] == ["anncsu"]
    newer = Binding(Settings(codice_istat="058091", wsdl_dir=newer_bundle))
    assert newer.bundle is get_bundle(newer_bundle)
    result = newer.read("5005", entry.response())
    assert result.unknown_elements == ()
    assert result.value["listaSoggettiVariati"]["datiSoggetto"][0]["anncsu"] == {"verificato": ""}


def test_a_newer_user_bundle_builds_and_validates_requests(
    newer_bundle: Path, tmp_path: Path
) -> None:
    with pytest.raises(PayloadError) as info:
        Binding(Settings(codice_istat="058091")).prepare(
            "3002", _payload(criterioDiProva="X"), check=False
        )
    assert [v.rule for v in info.value.violations] == ["unknown-element"]
    config = tmp_path / "anpr.toml"
    config.write_text(
        f'codice_istat = "058091"\nwsdl_dir = {str(newer_bundle)!r}\n', encoding="utf-8"
    )
    newer = Binding(load_settings(config, env={}))
    prepared = newer.prepare("3002", _payload(criterioDiProva="X"), check=False)
    assert b"<criterioDiProva>X</criterioDiProva>" in prepared.envelope
    # the new element is validated by the new schema, in its place
    assert prepared.envelope.index(b"<codiceFiscale>") < prepared.envelope.index(
        b"<criterioDiProva>"
    )
