"""Our bundle is our own work: no official file, comment or documentation prose is copied, and
every file carries our header (what it mirrors and its licence)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from lxml import etree

from .support import OUR_BUNDLE, require_reference

_XML_FILES = sorted(p for p in OUR_BUNDLE.rglob("*") if p.suffix in (".wsdl", ".xsd"))
_DOC_TAGS = (
    "{http://www.w3.org/2001/XMLSchema}annotation",
    "{http://www.w3.org/2001/XMLSchema}documentation",
    "{http://schemas.xmlsoap.org/wsdl/}documentation",
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _comments(path: Path) -> list[str]:
    tree = etree.parse(str(path))
    found = [c.text or "" for c in tree.getroot().itersiblings(preceding=True)]
    found += [c.text or "" for c in tree.iter(etree.Comment)]
    return [_normalise(text) for text in found if _normalise(text)]


def _official_files() -> list[Path]:
    ref = require_reference()
    return [p for p in ref.rglob("*") if p.is_file()]


def test_no_file_is_a_byte_copy_of_an_official_file() -> None:
    official = {_sha256(p): p for p in _official_files()}
    ours = [p for p in OUR_BUNDLE.rglob("*") if p.is_file()]
    assert ours
    copies = {
        str(p.relative_to(OUR_BUNDLE)): str(official[_sha256(p)])
        for p in ours
        if _sha256(p) in official
    }
    assert copies == {}


def test_no_official_comment_is_repeated() -> None:
    official: set[str] = set()
    for path in _official_files():
        if path.suffix in (".wsdl", ".xsd"):
            official.update(_comments(path))
    assert len(official) > 100  # the official files are full of comments: the check is real
    repeated = {
        str(path.relative_to(OUR_BUNDLE)): sorted(set(_comments(path)) & official)
        for path in _XML_FILES
    }
    assert {k: v for k, v in repeated.items() if v} == {}


def test_no_documentation_prose() -> None:
    for path in _XML_FILES:
        tree = etree.parse(str(path))
        found = [node.tag for node in tree.iter(*_DOC_TAGS)]
        assert found == [], f"{path.relative_to(OUR_BUNDLE)} has {found}"


@pytest.mark.parametrize("path", _XML_FILES, ids=lambda p: str(p.relative_to(OUR_BUNDLE)))
def test_every_file_starts_with_our_header(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    before_root = list(root.itersiblings(preceding=True))
    assert len(before_root) == 1, "no header comment before the root element"
    assert before_root[0].tag is etree.Comment, "no header comment before the root element"
    header = re.sub(r"\s+", " ", before_root[0].text or "")
    assert header.lstrip().startswith("anpr-client's own ")
    assert "License: Apache-2.0" in header
    assert "project's own work" in header
    if "N000" in path.parts[-2]:
        assert "N000 publication of 2019-06-05" in header
    elif "TestConn" in path.parts[-2]:
        assert "official Java sample client" in header
        assert "v9.0.3" in header
    else:
        assert "release v9.0.3" in header


def test_layout_is_two_space_indented_without_redundant_occurrences() -> None:
    for path in _XML_FILES:
        text = path.read_text(encoding="utf-8")
        assert "\t" not in text, path
        assert 'minOccurs="1"' not in text, path
        assert 'maxOccurs="1"' not in text, path
        body = text.split("-->", 1)[1]
        for line in body.splitlines():
            indent = len(line) - len(line.lstrip(" "))
            assert indent % 2 == 0, f"{path}: {line!r}"
