r"""XSD patterns as Python regular expressions, for the subset ANPR's schemas use (internal).

An XSD ``pattern`` facet (XML Schema Part 2, appendix F) is not a Python regex: it matches the
whole value, ``^`` and ``$`` are ordinary characters, ``.`` excludes CR as well as LF, ``\s``
is XSD's four blanks only, groups never capture, and ``{``, ``}``, ``[``, ``]`` must be
escaped. :func:`translate` turns one into a Python regex body to use with ``fullmatch``.

It knows what ANPR's schemas use, and a little more: branches (``|``), groups, the
quantifiers ``? * + {n} {n,} {n,m}``, character classes with ranges, a leading ``^`` for
negation and a ``-`` as first or last character, the single-character escapes
(``\n \r \t \\ \| \. \? \* \+ \( \) \{ \} \- \[ \] \^``), ``\d`` and ``\D`` (any Unicode
decimal digit, XSD's ``\p{Nd}``; Python's ``\d`` on ``str`` is the same class), ``\s`` and
``\S``, and ``.``. Anything else (``\p{…}``, ``\i``, ``\c``, ``\w``, class subtraction)
raises :class:`~anpr_client.errors.ConfigurationError` naming the pattern: a bundle that
needs it is refused when it is loaded, never misread. A test compares the translation of
every pattern of our bundle and of ANPR's official one with elementpath's (the translator
of xmlschema).

>>> translate(r"([0-9a-zA-Z\- ])*")
'(?:[0-9a-zA-Z\\- ])*'
>>> translate(r"[A-Z]{2,4}.\d+")
'[A-Z]{2,4}[^\\n\\r]\\d+'
>>> import re
>>> bool(re.fullmatch(translate("(S|N)"), "S")), re.fullmatch(translate("a$"), "a")
(True, None)
>>> translate(r"\p{L}+")
Traceback (most recent call last):
    ...
anpr_client.errors.ConfigurationError: XSD pattern '\\p{L}+', character 1: the escape \p is ...
"""

from __future__ import annotations

import re
from typing import Final

from ..errors.exceptions import ConfigurationError

__all__ = ["translate"]

_SINGLE_ESCAPES: Final = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    **{c: c for c in "\\|.?*+(){}-[]^"},
}
_BLANKS: Final = " \t\n\r"
# Characters escaped inside a Python character class: its own syntax, plus those that
# would make Python warn about future set operations (``--``, ``&&``, ``~~``, ``||``).
_CLASS_SPECIALS: Final = frozenset("\\]^-[&~|")
_QUANTITY: Final = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0
        self.start = 0  # where the construct being read starts, for the error message

    def fail(self, what: str) -> ConfigurationError:
        return ConfigurationError(
            f"XSD pattern {self.pattern!r}, character {self.start + 1}: {what}",
            setting="wsdl_dir",
            rule="the XSD regular expressions anpr-client reads",
        )

    def peek(self) -> str:
        return self.pattern[self.pos] if self.pos < len(self.pattern) else ""

    def take(self) -> str:
        char = self.peek()
        if not char:
            raise self.fail("the pattern ends too early")
        self.pos += 1
        return char

    def branches(self, depth: int) -> str:
        out = [self.branch(depth)]
        while self.peek() == "|":
            self.pos += 1
            out.append(self.branch(depth))
        return "|".join(out)

    def branch(self, depth: int) -> str:
        out: list[str] = []
        while (char := self.peek()) and char != "|" and not (char == ")" and depth):
            atom = self.atom(depth)
            out.append(atom + self.quantifier())
        return "".join(out)

    def atom(self, depth: int) -> str:
        self.start = self.pos
        char = self.take()
        if char == "(":
            inner = self.branches(depth + 1)
            if self.take() != ")":  # pragma: no cover - branches() stops only at ")" or the end
                raise self.fail("a group is not closed")
            return f"(?:{inner})"
        if char == "[":
            return self.char_class()
        if char == ".":
            return "[^\\n\\r]"
        if char == "\\":
            return self.escape(in_class=False)
        if char in "?*+{":
            raise self.fail(f"{char!r} must follow what it repeats")
        if char in ")]}":
            raise self.fail(f"{char!r} is not opened (escape it as \\{char})")
        return re.escape(char)

    def quantifier(self) -> str:
        self.start = self.pos
        char = self.peek()
        if char and char in "?*+":
            self.pos += 1
            out = char
        elif char == "{":
            found = _QUANTITY.match(self.pattern, self.pos)
            if found is None:
                raise self.fail("a quantifier is {n}, {n,} or {n,m}")
            low, high = int(found[1]), found[3]
            if high and int(high) < low:
                raise self.fail(f"the quantifier {found[0]} has its bounds the wrong way round")
            self.pos = found.end()
            out = found[0]
        else:
            return ""
        if self.peek() and self.peek() in "?*+{":
            raise self.fail("a quantifier cannot follow a quantifier")
        return out

    def escape(self, *, in_class: bool) -> str:
        char = self.take()
        if char in _SINGLE_ESCAPES:
            literal = _SINGLE_ESCAPES[char]
            return _class_char(literal) if in_class else re.escape(literal)
        if char in "dD":
            return f"\\{char}"
        if char == "s":
            return "".join(map(_class_char, _BLANKS)) if in_class else "[ \\t\\n\\r]"
        if char == "S" and not in_class:
            return "[^ \\t\\n\\r]"
        raise self.fail(f"the escape \\{char} is outside the subset anpr-client reads")

    def char_class(self) -> str:
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        items: list[str] = []
        first = True
        while True:
            self.start = self.pos
            char = self.take()
            if char == "]":
                if first:
                    raise self.fail("a character class is empty (escape ']' as \\])")
                break
            if char == "[":
                raise self.fail("'[' inside a class (class subtraction) is not supported")
            if char == "-" and not first and self.peek() != "]":
                raise self.fail("'-' inside a class must be escaped or come first or last")
            first = False
            if char == "\\":
                if self.peek() in "dDsS":
                    items.append(self.escape(in_class=True))
                    continue
                low = _SINGLE_ESCAPES.get(self.peek())
                if low is None:
                    items.append(self.escape(in_class=True))  # raises: not in the subset
                    continue
                self.pos += 1
            else:
                low = char
            if self.peek() == "-" and self.pattern[self.pos + 1 : self.pos + 2] not in ("]", ""):
                self.pos += 1
                high = self.take()
                if high == "\\":
                    high = _SINGLE_ESCAPES.get(self.take(), "")
                    if not high:
                        raise self.fail("a range ends with a single character")
                elif high == "[":
                    raise self.fail("'[' inside a class (class subtraction) is not supported")
                if ord(high) < ord(low):
                    raise self.fail(f"the range {low}-{high} is the wrong way round")
                items.append(f"{_class_char(low)}-{_class_char(high)}")
            else:
                items.append(_class_char(low))
        return f"[{'^' if negated else ''}{''.join(items)}]"


def _class_char(char: str) -> str:
    return f"\\{char}" if char in _CLASS_SPECIALS else char


def translate(pattern: str) -> str:
    """The Python regex body (use it with ``fullmatch``) of the XSD ``pattern``.

    Raises :class:`~anpr_client.errors.ConfigurationError` for a malformed pattern or one
    outside the subset described above.
    """
    return _Translator(pattern).branches(0)
