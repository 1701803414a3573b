"""No POSIX-only call in ``src/`` without a portable branch (docs/platforms.md).

The library runs where Comuni work: Windows desktops above all, macOS, Linux servers. A call
that exists only on POSIX (``os.kill`` — which on Windows *terminates* the process —,
``os.getuid``, ``os.fchmod``, ``fcntl``…) or a path that exists only on Linux (``/proc``) must
sit behind a branch that keeps the other platforms working. The scan reads the code (not the
docstrings or comments) of every module; each finding is either inside a function that tests
the platform itself (``sys.platform``, ``os.name``, ``hasattr(os, …)``) or in the allow-list
below with the reason it is safe.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "anpr_client"

POSIX_ATTRIBUTES = {
    "os": {
        "kill", "killpg", "getuid", "geteuid", "getgid", "getegid", "getpgid", "setsid",
        "fchmod", "fchown", "chown", "lchown", "fork", "forkpty", "mkfifo", "statvfs",
        "getloadavg", "sync", "WNOHANG", "O_NOFOLLOW", "setuid", "setgid", "nice",
    },
    "signal": {"SIGKILL", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "alarm", "pause"},
    "socket": {"AF_UNIX"},
    "select": {"poll", "epoll", "kqueue"},
}  # fmt: skip
POSIX_MODULES = {"fcntl", "pwd", "grp", "termios", "resource", "pty", "tty", "posix"}
POSIX_PATHS = ("/proc", "/dev/", "/sys/", "/etc/", "/var/run")

ALLOWED: dict[tuple[str, str], str] = {
    ("journal/ownership.py", "os.kill"): (
        "_posix_exists is called only from _start_token's POSIX branch, after the "
        "sys.platform == 'win32' branch that uses kernel32 instead; signal 0 only asks"
    ),
    ("journal/ownership.py", "/proc"): (
        "read only on Linux (sys.platform == 'linux' and /proc is a directory); elsewhere "
        "the token is empty or comes from kernel32, and a failed read only means waiting for "
        "the lease"
    ),
    ("transport/tls.py", "/dev/"): (
        "/dev/shm is used only when it exists and is writable; otherwise the system's temp "
        "directory (Windows, macOS)"
    ),
}


@dataclass(frozen=True)
class Finding:
    module: str
    what: str
    line: int


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (or bare string statements)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            out.add(id(node.value))
    return out


def _guarded(function: ast.AST | None) -> bool:
    """Whether ``function`` tests the platform itself."""
    if function is None:
        return False
    text = ast.unparse(function)
    return any(probe in text for probe in ("sys.platform", "os.name", "hasattr(os,", "getattr(os,"))


def scan(source: str, module: str) -> list[Finding]:
    """POSIX-only uses in ``source`` that no platform test of their function covers."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node

    def function_of(node: ast.AST) -> ast.AST | None:
        current = parents.get(id(node))
        while current is not None and not isinstance(
            current, ast.FunctionDef | ast.AsyncFunctionDef
        ):
            current = parents.get(id(current))
        return current

    found: list[Finding] = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in POSIX_ATTRIBUTES.get(node.value.id, ()):
                what = f"{node.value.id}.{node.attr}"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            hit = [n for n in names if n.split(".")[0] in POSIX_MODULES]
            what = f"import {hit[0]}" if hit else None
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and node.value.startswith(POSIX_PATHS)
        ):
            what = next(p for p in POSIX_PATHS if node.value.startswith(p)).rstrip("/") + (
                "/" if node.value.startswith("/dev/") else ""
            )
        if what is None:
            continue
        if _guarded(function_of(node)):
            continue
        found.append(Finding(module, what, getattr(node, "lineno", 0)))
    return found


def test_no_posix_only_call_without_a_portable_branch() -> None:
    unexplained = []
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        for f in scan(path.read_text(encoding="utf-8"), module):
            if (f.module, f.what) not in ALLOWED:
                unexplained.append(f"{f.module}:{f.line}: {f.what}")
    assert unexplained == [], (
        "POSIX-only calls without a portable branch (add one, or an ALLOWED entry with the "
        "reason it is safe on Windows and macOS):\n" + "\n".join(unexplained)
    )


def test_every_allowance_is_still_needed() -> None:
    seen = {
        (path.relative_to(SRC).as_posix(), f.what)
        for path in SRC.rglob("*.py")
        for f in scan(path.read_text(encoding="utf-8"), path.relative_to(SRC).as_posix())
    }
    assert set(ALLOWED) <= seen, set(ALLOWED) - seen


def test_the_scan_sees_what_it_must() -> None:
    bad = '''
import fcntl
import os, signal

def stop(pid):
    os.kill(pid, signal.SIGKILL)

def owner():
    return os.getuid(), open("/proc/self/stat").read()

def docs():
    """Mentions os.kill and /proc in prose only."""
'''
    hits = {f.what for f in scan(bad, "x.py")}
    assert hits == {"import fcntl", "os.kill", "signal.SIGKILL", "os.getuid", "/proc"}
    good = """
import os, sys

def stop(pid):
    if sys.platform == "win32":
        return None
    os.kill(pid, 0)
"""
    assert scan(good, "y.py") == []
