"""Our XSD-pattern translator against elementpath's (xmlschema's), over every pattern we read.

Every ``xs:pattern`` of our bundle (``wsdl/``) and, when the reference files are there, of
ANPR's official XSD, is translated by both; the two Python regexes must accept the same
strings: every character of the scripts ANPR's classes touch, every decimal digit of every
script, every blank, a sample of the rest of Unicode (lone surrogates included), each alone,
repeated and between other characters, then random strings over each pattern's own alphabet.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path

import pytest
from elementpath.regex import translate_pattern
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.validation._xsd_regex import translate

REPO = Path(__file__).resolve().parents[2]
XS = "http://www.w3.org/2001/XMLSchema"


def patterns_in(root: Path) -> set[str]:
    found = set()
    for path in sorted(root.rglob("*.xsd")):
        for facet in etree.parse(str(path)).iter(f"{{{XS}}}pattern"):
            found.add(str(facet.get("value")))
    return found


OURS = sorted(patterns_in(REPO / "wsdl"))

# Characters: the blocks ANPR's classes draw from (ASCII to Latin Extended-B, with the C1
# controls some classes list), every decimal digit and every blank Python knows, the
# surrogate edges, the non-characters, and every 97th code point of the rest.
CORPUS = sorted(
    {chr(i) for i in range(0x250)}
    | {chr(i) for i in range(sys.maxunicode + 1) if chr(i).isdecimal() or chr(i).isspace()}
    | {chr(i) for i in (0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xFFFE, 0xFFFF, 0x10FFFF)}
    | {chr(i) for i in range(0x250, sys.maxunicode + 1, 251)}
)


def theirs(pattern: str) -> re.Pattern[str]:
    # anchors=False: XSD patterns have no anchors, ^ and $ are ordinary characters
    return re.compile(
        translate_pattern(pattern, back_references=False, lazy_quantifiers=False, anchors=False)
    )


@cache
def pair(pattern: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    return re.compile(translate(pattern)), theirs(pattern)


def disagreements(pattern: str, strings: list[str]) -> list[str]:
    ours, reference = pair(pattern)
    return [s for s in strings if bool(ours.fullmatch(s)) != bool(reference.fullmatch(s))]


def test_the_bundle_has_the_patterns_we_expect_to_translate() -> None:
    assert len(OURS) >= 40
    assert "(\\d)+" in OURS  # tipoCodiceIstatComune and the numerico types


@pytest.mark.parametrize("pattern", OURS)
def test_every_pattern_of_our_bundle_reads_as_elementpath_reads_it(pattern: str) -> None:
    strings = [s for c in CORPUS for s in (c, c * 3, f"A{c}", f"{c}$", f"1{c}1", f"{c}\n")]
    assert disagreements(pattern, strings) == []


def test_every_pattern_of_the_official_bundle_reads_the_same(reference_dir: Path) -> None:
    official = sorted(patterns_in(reference_dir / "wsdl") - set(OURS))
    assert official  # it has some we do not (^ and $ written as if they were anchors)
    strings = [s for c in CORPUS for s in (c, c * 3, f"A{c}", f"{c}$", f"^1{c}1$")]
    assert {p: disagreements(p, strings) for p in official} == {p: [] for p in official}


def _alphabet(pattern: str) -> str:
    """The pattern's own characters, their neighbours and a few strangers."""
    chars = set(pattern) | set("A1 \n\r\t$^٣\x00é")
    return "".join(sorted(chars | {chr(ord(c) + 1) for c in chars if ord(c) < 0x10FFFF}))


@given(st.data())
@settings(max_examples=400, deadline=None)
def test_random_strings_over_each_patterns_alphabet(data: st.DataObject) -> None:
    pattern = data.draw(st.sampled_from(OURS))
    text = data.draw(st.text(alphabet=_alphabet(pattern), max_size=12))
    assert disagreements(pattern, [text]) == []


# What the subset reads beyond the bundle's own patterns, read as elementpath reads it.
BEYOND = [".", r"\D", "[^a-c]", r"[\s]", r"[^\s]", r"[\d]", r"[^\d]", r"[\D]", "a{2,}",
          "a?b", "[a-]", "[-a]", r"[\^]", "a^b$", r"[\n\r\t]", r"\|\?\*\+\(\)\{\}\[\]",
          "(a|b|)", "()", "[&&a]", "[~~]", "[a||b]", "a{0}"]  # fmt: skip


@pytest.mark.parametrize("pattern", BEYOND)
def test_the_rest_of_the_subset_reads_as_elementpath_reads_it(pattern: str) -> None:
    assert disagreements(pattern, [s for c in CORPUS for s in (c, c * 2, f"a{c}")]) == []


def test_blank_escapes_are_xsds_four_blanks() -> None:
    """``\\s`` is space, tab, LF and CR (XML Schema Part 2, F.1.1); elementpath reads it as
    Python's ``\\s`` outside a class (vertical tab, NBSP… too), inside one as XSD does."""
    blanks = re.compile(translate(r"\s+"))
    others = re.compile(translate(r"\S+"))
    for char in CORPUS:
        assert bool(blanks.fullmatch(char)) is (char in " \t\n\r"), repr(char)
        assert bool(others.fullmatch(char)) is (char not in " \t\n\r"), repr(char)


@pytest.mark.parametrize(
    "pattern",
    [
        r"\p{L}+",  # Unicode categories: not in the subset
        r"\w+",
        r"[\i-[:]]",  # name characters, class subtraction
        "[a-z-[aeiou]]",
        "(ab",
        "ab)",
        "a**",
        "*a",
        "a{2",
        "a{3,2}",
        "[]",
        "[z-a]",
        "[a-\\d]",
        "a]",
        "\\",
    ],
)
def test_what_we_do_not_read_is_refused_by_name(pattern: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        translate(pattern)
    assert repr(pattern) in str(err.value)
    assert err.value.setting == "wsdl_dir"


@pytest.mark.parametrize("pattern", ["(ab", "ab)", "a**", "*a", "a{3,2}", "[]", "[z-a]", "a]"])
def test_elementpath_refuses_the_malformed_ones_too(pattern: str) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 - elementpath's own error classes
        theirs(pattern)
