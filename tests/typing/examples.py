"""The Python examples of the README and the docs, as modules that mypy checks and tests run.

Every ```python block of ``README.md``, ``docs/*.md`` and ``docs/operations/*.md`` is meant to
run, unless the line just before its fence says why not::

    <!-- not run: a fragment (settings, frame and envelope come from your code) -->

A page's blocks run in order in one namespace, as a reader types them. On the operations pages
each example after the first block (which makes ``client``) is wrapped in a function of its own:
they are independent, and each one is called once.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
SKIP: Final = re.compile(r"<!--\s*not run:\s*(?P<why>.+?)\s*-->")
OPERATIONS: Final = ROOT / "docs" / "operations"


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    """The line of the opening fence (1-based)."""
    code: str
    skipped: str | None
    """Why it does not run, or ``None``."""


def pages() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted(OPERATIONS.glob("*.md")),
    ]


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i
            end = next(j for j in range(start + 1, len(lines)) if lines[j].strip() == "```")
            previous = SKIP.fullmatch(lines[start - 1].strip()) if start else None
            code = textwrap.dedent("\n".join(lines[start + 1 : end])) + "\n"
            found.append(Block(page, start + 1, code, previous.group("why") if previous else None))
            i = end
        i += 1
    return found


def name(page: Path) -> str:
    """The module name of a page's examples (``docs_quickstart``, ``operations_5000_…``)."""
    stem = re.sub(r"\W", "_", page.stem.lower())
    if page == ROOT / "README.md":
        return "docs_readme"
    return f"operations_{stem}" if page.parent == OPERATIONS else f"docs_{stem}"


def module(page: Path) -> str | None:
    """The page's runnable examples as one module (``None``: it has none)."""
    runnable = [b for b in blocks(page) if b.skipped is None]
    if not runnable:
        return None
    parts = ["# mypy: allow-redefinition\n"]
    for index, block in enumerate(runnable):
        parts.append(f"# {page.relative_to(ROOT)}, line {block.line}\n")
        if page.parent == OPERATIONS and index > 0:
            parts.append(f"def example_{index}() -> None:\n" + textwrap.indent(block.code, "    "))
        else:
            parts.append(block.code)
    return "\n".join(parts)
