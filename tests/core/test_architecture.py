"""The package's shape, checked from its source: no import cycle, the client never imports the
simulator, and what ships or installs with the client is what the client uses.

The import graph counts every import in a module, those inside functions too; only imports
under ``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
PACKAGE = "anpr_client"

# Alias modules kept for one release so that old import paths keep working; each only
# re-exports its new home (see anpr_client/_compat.py).
COMPAT_ALIASES = frozenset(
    {
        f"{PACKAGE}.catalogue",
        f"{PACKAGE}.exceptions",
        f"{PACKAGE}.factory",
        f"{PACKAGE}.faults",
        f"{PACKAGE}.journal.store",
        f"{PACKAGE}.pki",
        f"{PACKAGE}.tls",
    }
)
# The two places that may import the simulator: the simulator itself and the command line
# (``anpr simulator``, ``anpr demo``).
SIMULATOR = f"{PACKAGE}.simulator"
MAY_IMPORT_SIMULATOR = (SIMULATOR, f"{PACKAGE}.cli", f"{PACKAGE}.pki")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run (``if TYPE_CHECKING:`` bodies skipped)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The library modules ``name`` imports (a ``from package import submodule`` counts as
    an import of the submodule)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
            continue
        if node.level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
        else:
            target = node.module or ""
        if target.split(".")[0] != PACKAGE:
            continue
        subs = {f"{target}.{a.name}" for a in node.names} & known
        out.update(subs)
        if len(subs) < len(node.names):
            out.add(target)
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: imported_modules(name, path, known) & known for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_imports_inside_functions() -> None:
    graph = import_graph()
    # soap.binding.Binding.transport imports the TLS module inside a method, never at the top.
    assert f"{PACKAGE}.transport.tls" in graph[f"{PACKAGE}.soap.binding"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" ⇄ ".join(c) for c in cycles)


def test_the_client_side_never_imports_the_simulator() -> None:
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if not name.startswith(MAY_IMPORT_SIMULATOR)
        for target in targets
        if target == SIMULATOR or target.startswith(SIMULATOR + ".")
    )
    assert not offenders, "\n".join(offenders)


# ----------------------------------------------------------------------------- what ships

# The modules a user reaches: the public namespace, the command line, the pytest plugin and
# the packages the documentation tells users to import.
ENTRY_POINTS = (
    PACKAGE,
    f"{PACKAGE}.cli.main",
    f"{SIMULATOR}.pytest_plugin",
    f"{PACKAGE}.credentials",
    f"{PACKAGE}.errors",
    f"{PACKAGE}.errors.catalogue",
    f"{PACKAGE}.errors.faults",
    f"{PACKAGE}.journal",
    f"{PACKAGE}.models",
    f"{PACKAGE}.notifications",
    f"{PACKAGE}.security",
    f"{PACKAGE}.simulator",
    f"{PACKAGE}.validation",
)


def reachable(graph: dict[str, set[str]], roots: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in graph]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(graph[name])
        # A package's modules are reachable through it (``from anpr_client.journal import
        # store`` style access, and lazily imported submodules).
        parent = name.rpartition(".")[0]
        if parent and parent in graph:
            todo.append(parent)
    return seen


def test_every_module_is_reached_from_an_entry_point() -> None:
    """A module nothing reaches is dead weight or a test helper living in the runtime."""
    graph = import_graph()
    unreached = set(graph) - reachable(graph, (*ENTRY_POINTS, *sorted(COMPAT_ALIASES)))
    unreached = {m for m in unreached if not m.endswith(".__main__")}
    assert not unreached, f"modules no entry point reaches: {sorted(unreached)}"


# Distribution name → the top-level import names it provides.
_IMPORT_NAMES = {
    "asn1crypto": {"asn1crypto"},
    "click": {"click"},
    "cryptography": {"cryptography"},
    "elementpath": {"elementpath"},
    "lxml": {"lxml"},
    "platformdirs": {"platformdirs"},
    "psycopg": {"psycopg"},
    "requests": {"requests"},
    "rich": {"rich"},
    "urllib3": {"urllib3"},
    "xmlschema": {"xmlschema"},
}


def _third_party_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_runtime_dependency_is_used_by_the_client_side() -> None:
    """``pip install anpr-client`` brings only what the client itself imports; what only the
    simulator or the tests use belongs to an extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    used: set[str] = set()
    for name, path in all_modules().items():
        if not name.startswith(SIMULATOR) and name not in COMPAT_ALIASES:
            used |= _third_party_imports(path)
    unused = []
    for requirement in project["dependencies"]:
        dist = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
        if not _IMPORT_NAMES.get(dist, {dist}) & used:
            unused.append(dist)
    assert not unused, f"runtime dependencies only tests or the simulator use: {unused}"


@pytest.mark.parametrize("old", sorted(COMPAT_ALIASES))
def test_old_import_paths_still_work_and_say_where_to_go(old: str) -> None:
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match="moved to"):
        module = importlib.import_module(old)
    assert module.__all__, old
    for public in module.__all__:
        assert hasattr(module, public), (old, public)


# A path in docs/architecture.md: ``soap/binding.py``, ``journal/``, ``handlers/__init__.py``…
_DOC_PATH = re.compile(r"`?((?:[a-z_]+/)+(?:[a-z_]+\.py)?|[a-z_]+\.py)`?")


def _architecture_paths(text: str) -> set[str]:
    return {
        m.group(1) for m in _DOC_PATH.finditer(text) if "/" in m.group(1) or ".py" in m.group(1)
    }


def _exists_somewhere(name: str) -> bool:
    """A path of the page names a file of the package (any depth), of tools/ or of tests/."""
    roots = (SRC / PACKAGE, REPO)
    for root in roots:
        if (root / name).exists():
            return True
    tail = name.rstrip("/")
    return any(p.as_posix().endswith(tail) for p in (SRC / PACKAGE).rglob("*"))


def test_the_architecture_page_names_only_modules_that_exist() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    paths = _architecture_paths(text)
    assert "soap/binding.py" in paths  # the pattern sees the page's paths
    missing = sorted(p for p in paths if not _exists_somewhere(p))
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_the_architecture_page_check_catches_a_wrong_path() -> None:
    assert not _exists_somewhere("soap/no_such_module.py")
