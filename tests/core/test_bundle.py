"""The bundle: operation table, one parse per process, user-supplied bundles, the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from anpr_client.client import Client
from anpr_client.endpoints import FAMILY_PATHS
from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.settings import Settings
from anpr_client.soap.bundle import Bundle, get_bundle

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("ANPR_REFERENCE_DIR", ROOT.parent / "shared" / "anpr"))
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason=f"official reference bundle not found at {REFERENCE}"
)


def test_our_bundle_has_all_55_operations_plus_testconn() -> None:
    bundle = get_bundle()
    codes = set(bundle.operations)
    assert len(codes) == 56
    assert "TestConn" in codes
    assert {"3002", "5005", "6001", "4005", "N000", "CIE2", "C010", "S001", "P003"} <= codes
    for op in bundle:
        assert op.family in FAMILY_PATHS, op
        assert op.request.localname.startswith("Richiesta")


def test_bundle_and_family_models_are_parsed_once() -> None:
    assert get_bundle() is get_bundle(None)
    bundle = get_bundle()
    assert bundle.document("3000") is bundle.document("3000")
    assert bundle.schema("3000") is bundle.schema("3000")


@needs_reference
def test_user_supplied_official_bundle(tmp_path: Path) -> None:
    official = get_bundle(REFERENCE)
    assert official.root == REFERENCE.resolve()
    assert official.operation("3002").wsdl.is_relative_to(REFERENCE.resolve())
    # TestConn is not published by ANPR: it comes from our bundle.
    assert official.operation("TestConn").wsdl.is_relative_to(get_bundle().root)
    settings = Settings(codice_istat="058091", wsdl_dir=REFERENCE)
    prepared = Client(settings, journal=None).prepare(
        "3002",
        {
            "criteriRicerca": {"codiceFiscale": "RSSMRA80A01H501U"},
            "datiRichiesta": {
                "schedaAnagraficaRichiesta": "1",
                "dataRiferimentoRichiesta": "2026-11-20",
            },
        },
    )
    assert b"Richiesta3002" in prepared.envelope


def test_a_bundle_never_reaches_the_network(tmp_path: Path) -> None:
    wsdl = get_bundle().root / "6001-certificazione"
    target = tmp_path / "b"
    target.mkdir()
    for f in wsdl.iterdir():
        text = f.read_text(encoding="utf-8")
        (target / f.name).write_text(
            text.replace(
                'schemaLocation="messages.xsd"', 'schemaLocation="http://example.invalid/m.xsd"'
            ),
            encoding="utf-8",
        )
    bundle = Bundle(target)
    with pytest.raises(ConfigurationError, match="remote document"):
        bundle.document("6001")


def test_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no ANPR WSDL"):
        Bundle(tmp_path).operations  # noqa: B018


def test_the_wheel_ships_the_bundle(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("anpr_client-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    ours = sorted(
        p.relative_to(get_bundle().root).as_posix() for p in get_bundle().root.rglob("*.*")
    )
    shipped = sorted(n.split("anpr_client/_bundle/", 1)[1] for n in names if "/_bundle/" in n)
    assert shipped == ours
    assert "anpr_client/py.typed" in names
