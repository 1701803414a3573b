"""The public namespace: complete, and every exception class exported."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import anpr_client
from anpr_client.errors import exceptions


def test_all_is_importable_without_duplicates() -> None:
    assert len(set(anpr_client.__all__)) == len(anpr_client.__all__)
    for name in anpr_client.__all__:
        assert hasattr(anpr_client, name), name


def test_every_exception_is_exported() -> None:
    # The tree sets ``__module__`` to its public path, so look for both spellings.
    classes = {
        name
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj)
        and obj.__module__ in (exceptions.__name__, "anpr_client.errors")
        and not name.startswith("_")
    }
    assert {"AnprError", "AnprRejected", "XMLTooLarge", "UnknownOperationError"} <= classes
    assert classes <= set(exceptions.__all__)
    assert set(exceptions.__all__) <= set(anpr_client.__all__)


def test_every_exception_is_an_anpr_error_or_warning() -> None:
    for name in exceptions.__all__:
        obj = getattr(exceptions, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, anpr_client.AnprError | anpr_client.AnprWarning), name


# ----------------------------------------------------------------------------- import cost


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}; import sys; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(eval(out.splitlines()[-1]))  # noqa: S307 - our own subprocess prints a list


HEAVY = ("lxml", "cryptography", "asn1crypto", "urllib3", "click", "rich", "xmlschema")


def test_import_anpr_client_loads_no_xml_crypto_or_transport_stack() -> None:
    loaded = _modules_after("import anpr_client")
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []
    ours = sorted(m for m in loaded if m.startswith("anpr_client."))
    # the version, the exception tree and its catalogue (which registers exc.explain())
    allowed = ("anpr_client._version", "anpr_client._compat", "anpr_client.errors")
    assert [m for m in ours if not m.startswith(allowed)] == []
    assert "anpr_client.errors.catalogue" in ours


def test_names_load_on_first_use_and_unknown_ones_are_attribute_errors() -> None:
    loaded = _modules_after("import anpr_client; anpr_client.Settings")
    assert "anpr_client.settings" in loaded
    assert "anpr_client.client" not in loaded
    assert not [m for m in loaded if m.startswith("anpr_client.models.")]
    assert anpr_client.Client.__module__ == "anpr_client.client"
    assert anpr_client.soap.bundle.get_bundle is anpr_client.get_bundle
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        anpr_client.nothing_here  # noqa: B018
    assert set(anpr_client.__all__) <= set(dir(anpr_client))


def test_anpr_help_lists_every_command_without_importing_them() -> None:
    loaded = _modules_after(
        "import sys; sys.argv = ['anpr', '--help']\n"
        "from anpr_client.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert not [
        m
        for m in loaded
        if m.startswith(("anpr_client.client", "anpr_client.cli.")) and m != "anpr_client.cli.main"
    ]
    assert "lxml" not in loaded
    assert "rich" not in loaded


def test_the_command_table_matches_the_commands() -> None:
    import click

    from anpr_client.cli.main import COMMANDS, cli

    context = click.Context(cli)
    for name, (_, _, summary) in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None
        assert command.name == name
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first == summary, name
