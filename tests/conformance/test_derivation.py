"""The committed bundle is reproducible: ``tools/derive_bundle.py`` derives exactly the files we
ship from the official reference (the hand-written TestConn files aside). After an ANPR release,
re-run the tool, review its diff, and let the other conformance tests judge the result."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from .support import OUR_BUNDLE, REPO, require_reference


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "derive_bundle", REPO / "tools" / "derive_bundle.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_derived_files_match_the_tool_output() -> None:
    reference = require_reference()
    texts: dict[str, str] = _tool().derive(reference)
    assert len(texts) == 49
    stale = [rel for rel, text in texts.items() if (OUR_BUNDLE / rel).read_text("utf-8") != text]
    assert stale == [], "run: python tools/derive_bundle.py --reference ../shared/anpr --out wsdl"
    shipped = {
        str(p.relative_to(OUR_BUNDLE))
        for p in OUR_BUNDLE.rglob("*")
        if p.suffix in (".wsdl", ".xsd") and p.parent.name != "TestConn-connessione"
    }
    assert shipped == set(texts)
