"""docs/operations/ is generated from the bundle, the faces and the catalogue, and current."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from anpr_client.errors.catalogue import all_codes
from anpr_client.services import FACES, face_methods

from .support import BUNDLE

REPO = Path(__file__).resolve().parents[2]
PAGES = REPO / "docs" / "operations"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """tools/gen_operation_docs.py, imported (in this process, so the sample generator's
    schemas that other tests loaded are shared)."""
    spec = importlib.util.spec_from_file_location(
        "gen_operation_docs", REPO / "tools" / "gen_operation_docs.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages(generator: ModuleType) -> dict[str, str]:
    rendered: dict[str, str] = generator.render()
    return rendered


def test_the_committed_pages_are_up_to_date(pages: dict[str, str]) -> None:
    committed = {p.name: p.read_text(encoding="utf-8") for p in PAGES.glob("*.md")}
    assert set(committed) == set(pages), "run: python tools/gen_operation_docs.py"
    stale = [name for name, text in pages.items() if committed[name] != text]
    assert stale == [], "run: python tools/gen_operation_docs.py"


def test_every_operation_has_its_section_with_its_methods(pages: dict[str, str]) -> None:
    text = "\n".join(pages.values())
    for op in BUNDLE:
        assert f"\n## {op.code} `{op.name}`\n" in text, op.code
    for attribute in FACES:
        for method in face_methods(attribute):
            assert f"`client.{attribute}.{method.name}(" in text, method.name


def test_the_codes_are_the_catalogues(generator: ModuleType, pages: dict[str, str]) -> None:
    known = {info.code for info in all_codes()}
    listed = generator.local_check_codes("1001")
    assert ("EHR97", "registration services need testataRichiesta.dataDecorrenza") in listed
    assert {code for code, _ in listed} <= known
    assert {info.code for info in generator.named_codes("4005")} == {"EN148"}
    common = {info.code for info in generator.common_codes()}
    assert {"999", "EN148", "EN493", "EN527", "XXXX"} <= common
    for code in common:
        assert f"\n| {code} | `" in pages["README.md"]
    section = pages["5000-mutazione.md"].split("## 5005 ")[1].split("\n## ")[0]
    assert "| EHR97 | `FormatError` | our checks: " in section


def test_the_docs_link_the_pages() -> None:
    assert "(docs/operations/README.md)" in (REPO / "README.md").read_text(encoding="utf-8")
    assert "(operations/README.md)" in (REPO / "docs" / "quickstart.md").read_text(encoding="utf-8")
    assert "(operations/README.md)" in (REPO / "docs" / "models.md").read_text(encoding="utf-8")
