"""mypy --strict catches the mistakes users make with the models, and accepts correct code.

One mypy run checks every snippet of ``snippets/``, the README's first example and the examples
of the README and the docs (:mod:`.examples`; mypy is slow; the snippets are excluded from the
tree-wide mypy run, see ``pyproject.toml``). A good snippet (``good_*.py``, the README, the
docs' examples) must give no error; a bad one (``bad_*.py``) must give exactly the errors its
lines announce with ``# E: <error code>``, no other.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from . import examples

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = Path(__file__).parent / "snippets"
MYPY = Path(sys.executable).with_name("mypy")
_EXPECT = re.compile(r"#\s*E:\s*([a-z-]+)")
_ERROR = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")


def readme_first_call() -> str:
    """The code block under the README's "A first call" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A first call", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "README.md has no python block under 'A first call'"
    return match.group(1)


def expected(path: Path) -> set[tuple[int, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {
        (number, m.group(1))
        for number, line in enumerate(lines, 1)
        for m in [_EXPECT.search(line)]
        if m is not None
    }


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[int, str]]]:
    """Every error mypy reports, by file name, from one run."""
    readme = tmp_path_factory.mktemp("readme") / "good_readme_first_call.py"
    readme.write_text(readme_first_call(), encoding="utf-8")
    docs = tmp_path_factory.mktemp("docs")
    written = []
    for page in examples.pages():
        source = examples.module(page)
        if source is not None:
            written.append(docs / f"{examples.name(page)}.py")
            written[-1].write_text(source, encoding="utf-8")
    files = [*sorted(SNIPPETS.glob("*.py")), readme, *written]
    done = subprocess.run(
        [str(MYPY), "--strict", "--no-pretty", "--show-error-codes", "--no-error-summary"]
        + [str(f) for f in files],
        cwd=ROOT,  # the project's mypy settings (pyproject.toml) and cache
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2: mypy itself failed
    found: dict[str, set[tuple[int, str]]] = {f.name: set() for f in files}
    for line in done.stdout.splitlines():
        m = _ERROR.match(line)
        if m is not None:
            found[Path(m.group("path")).name].add((int(m.group("line")), m.group("code")))
    unparsed = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(unparsed) == sum(len(v) for v in found.values()), done.stdout
    return found


GOOD = sorted(p.name for p in SNIPPETS.glob("good_*.py"))
BAD = sorted(p.name for p in SNIPPETS.glob("bad_*.py"))


def test_there_are_good_and_bad_snippets() -> None:
    assert GOOD
    assert {
        "bad_missing_required.py",
        "bad_misspelt_field.py",
        "bad_values.py",
        "bad_two_branches.py",
        "bad_wrong_branch.py",
    } <= set(BAD)
    for name in BAD:
        assert expected(SNIPPETS / name), f"{name} announces no error"


@pytest.mark.parametrize("name", GOOD)
def test_good_snippets_pass(name: str, reported: dict[str, set[tuple[int, str]]]) -> None:
    assert reported[name] == set()


def test_the_readme_first_example_passes(reported: dict[str, set[tuple[int, str]]]) -> None:
    assert "consultazione.find_by_codice_fiscale" in readme_first_call()
    assert reported["good_readme_first_call.py"] == set()


@pytest.mark.parametrize("name", BAD)
def test_bad_snippets_fail_as_announced(
    name: str, reported: dict[str, set[tuple[int, str]]]
) -> None:
    assert reported[name] == expected(SNIPPETS / name)


DOC_PAGES = [p for p in examples.pages() if examples.module(p) is not None]


@pytest.mark.parametrize("page", DOC_PAGES, ids=[examples.name(p) for p in DOC_PAGES])
def test_the_docs_examples_pass(page: Path, reported: dict[str, set[tuple[int, str]]]) -> None:
    assert reported[f"{examples.name(page)}.py"] == set()


def test_the_docs_examples_are_checked() -> None:
    """The pages whose examples matter are among those checked (none lost to a marker)."""
    names = {examples.name(p) for p in DOC_PAGES}
    assert {"docs_readme", "docs_quickstart", "docs_models", "operations_5000_mutazione"} <= names
