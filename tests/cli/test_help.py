"""``anpr --help`` loads only what printing the help needs (its start-up is a row of
docs/performance.md): no command (tests/core/test_public_api.py) and not ``logging``, which
only ``-v`` uses (``test_calls.test_verbose_logs_one_line_per_call_on_stderr``)."""

from __future__ import annotations

import subprocess
import sys

from anpr_client.cli.main import COMMANDS

_HELP = (
    "import sys; sys.argv = ['anpr', '--help']\n"
    "from anpr_client.cli.main import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print(sorted(sys.modules))"
)


def test_help_does_not_import_logging() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _HELP], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(eval(out.splitlines()[-1]))  # noqa: S307 - our own subprocess prints a list
    assert "anpr_client.cli.main" in loaded
    assert "logging" not in loaded
    for name in COMMANDS:  # the help was printed, every command listed
        assert f"  {name} " in out
