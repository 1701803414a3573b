"""``scripts/apt-get-wait`` waits for another apt/dpkg run to release its lock (``scripts/test``
and ``.ci/run`` install through it), and fails at once on any other error. An ``apt-get`` stand-in
on ``PATH`` plays the busy lock, so nothing is installed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "apt-get-wait"

FAKE = """#!/usr/bin/env bash
n=$(cat "$COUNTER" 2>/dev/null || echo 0); echo $((n + 1)) > "$COUNTER"
echo "$@" >> "$CALLS"
if [ "$n" -lt "$BUSY" ]; then
  echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1 (apt-get)" >&2
  exit 100
fi
[ "$FAIL" = 1 ] && { echo "E: Unable to locate package nope" >&2; exit 100; }
exit 0
"""


def _run(tmp_path: Path, *, busy: int, fail: bool = False, timeout: int = 60) -> tuple[int, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "apt-get"
    fake.write_text(FAKE, encoding="utf-8")
    fake.chmod(0o755)
    for name in ("counter", "calls"):
        (tmp_path / name).unlink(missing_ok=True)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "COUNTER": str(tmp_path / "counter"),
        "CALLS": str(tmp_path / "calls"),
        "BUSY": str(busy),
        "FAIL": "1" if fail else "0",
        "ANPR_APT_LOCK_TIMEOUT": str(timeout),
        "ANPR_APT_RETRY_DELAY": "0",
    }
    run = subprocess.run(
        [str(SCRIPT), "update", "-qq"], env=env, capture_output=True, text=True, check=False
    )
    return run.returncode, run.stderr


def test_a_busy_lock_is_waited_for(tmp_path: Path) -> None:
    code, err = _run(tmp_path, busy=2)
    assert code == 0, err
    assert err.count("waiting") == 2
    calls = (tmp_path / "calls").read_text(encoding="utf-8").splitlines()
    assert calls == ["-o DPkg::Lock::Timeout=60 update -qq"] * 3


def test_another_error_fails_at_once(tmp_path: Path) -> None:
    code, err = _run(tmp_path, busy=0, fail=True)
    assert code == 100
    assert "Unable to locate package" in err
    assert len((tmp_path / "calls").read_text(encoding="utf-8").splitlines()) == 1


def test_the_wait_has_an_end(tmp_path: Path) -> None:
    code, err = _run(tmp_path, busy=10**6, timeout=0)
    assert code == 100
    assert "Could not get lock" in err
