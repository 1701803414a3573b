"""The settings of many Comuni: a folder of settings files, or one file with a table per Comune.

:func:`load_comuni` reads either into :class:`ComuneConfig` objects (a Comune's
:class:`~anpr_client.Settings` and its :class:`Desk` objects), which
:class:`~anpr_client.ComuneRegistry` serves. The formats are described in
``docs/deployment.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..errors.exceptions import ConfigurationError
from ..settings import (
    OperatorSettings,
    Settings,
    WorkstationSettings,
    read_settings_file,
    settings_from_mapping,
    workstation_from_mapping,
)

__all__ = ["ComuneConfig", "Desk", "load_comuni"]

_KEY_TABLES: Final = frozenset({"operator", "comune_key", "workstation", "tls_client"})
"""Tables a Comune's own table replaces whole (a key source is never half one, half another)."""
_DESK_KEYS: Final = frozenset({"operator", "workstation"})


@dataclass(frozen=True)
class Desk:
    """A desk of a Comune: who signs (``operator``) from where (``workstation``)."""

    name: str
    operator: str | None = None
    """The operator's codice fiscale; ``None``: the Comune's ``[operator]``."""
    workstation: WorkstationSettings | None = None
    """The desk's workstation; ``None``: the Comune's ``[workstation]``."""


@dataclass(frozen=True)
class ComuneConfig:
    """A Comune as the registry knows it: its settings and its desks."""

    settings: Settings
    desks: Mapping[str, Desk] = field(default_factory=dict)


def _merge(shared: Mapping[str, Any], own: Mapping[str, Any], *, top: bool) -> dict[str, Any]:
    """``own`` over ``shared``: tables merge key by key, except the key sources (replaced)."""
    merged = dict(shared)
    for key, value in own.items():
        below = merged.get(key)
        mergeable = not (top and key in _KEY_TABLES)
        if mergeable and isinstance(value, Mapping) and isinstance(below, Mapping):
            value = _merge(below, value, top=False)
        merged[key] = value
    return merged


def _desks(data: object, *, section: str, base: Path) -> dict[str, Desk]:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"'{section}' must be a table", setting=section, rule="table")
    desks: dict[str, Desk] = {}
    for name, table in data.items():
        where = f"{section}.{name}"
        if not isinstance(table, Mapping) or not table:
            raise ConfigurationError(
                f"'{where}' must be a table with operator and/or workstation",
                setting=where,
                rule="operator | workstation",
            )
        for key in table:
            if key not in _DESK_KEYS:
                raise ConfigurationError(
                    f"unknown setting '{where}.{key}'", setting=f"{where}.{key}", rule="unknown"
                )
        operator = table.get("operator")
        if operator is not None and not isinstance(operator, str):
            raise ConfigurationError(
                f"setting '{where}.operator' must be a codice fiscale (a string)",
                setting=f"{where}.operator",
                rule="type",
            )
        ws = table.get("workstation")
        if ws is not None and not isinstance(ws, Mapping):
            raise ConfigurationError(
                f"'{where}.workstation' must be a table", setting=f"{where}.workstation"
            )
        workstation = (
            workstation_from_mapping(ws, section=f"{where}.workstation", base=base)
            if ws is not None
            else None
        )
        desks[name] = Desk(name, operator, workstation)
    return desks


def _comune(data: Mapping[str, Any], *, base: Path, source: Path, section: str) -> ComuneConfig:
    own = dict(data)
    desks = _desks(own.pop("desks", {}), section=f"{section}desks", base=base)
    try:
        settings = settings_from_mapping(own, base=base, source=source)
    except ConfigurationError as exc:
        # Say which Comune: its table in a shared file, or its own file in a folder; and name
        # the setting as the file spells it.
        where = f"[{section[:-1]}]" if section else str(source)
        setting = section + exc.setting if section and exc.setting else exc.setting
        raise ConfigurationError(f"{where}: {exc}", setting=setting, rule=exc.rule) from None
    for desk in desks.values():  # a desk's operator is checked as [operator] is
        if desk.operator is not None:
            try:
                settings.replace(operator=OperatorSettings(codice_fiscale=desk.operator))
            except ConfigurationError as exc:
                raise ConfigurationError(
                    f"{section}desks.{desk.name}.operator: {exc}",
                    setting=f"{section}desks.{desk.name}.operator",
                    rule=exc.rule,
                ) from None
    return ComuneConfig(settings, desks)


def load_comuni(path: str | Path) -> dict[str, ComuneConfig]:
    """The Comuni a settings folder or a multi-Comune settings file describes, by ISTAT code.

    - **a folder**: every ``*.toml`` in it, and every ``*/anpr.toml`` one level down, is one
      Comune's settings file (the format of ``docs/configuration.md``), plus optional
      ``[desks.<name>]`` tables;
    - **a file**: the top-level keys and tables are shared by every Comune, and each
      ``[comuni.<ISTAT>]`` table holds one Comune's own (``codice_istat`` is the table's name).
      A Comune's tables merge into the shared ones key by key, except ``[operator]``,
      ``[comune_key]``, ``[workstation]`` and ``[tls_client]``, which replace the shared ones
      whole; arrays (``decrypt_keys``) are replaced.

    Relative paths are resolved against the file that names them. Environment variables
    (``ANPR_CODICE_ISTAT``…) are not applied: they would apply to every Comune at once. A
    Comune described twice, or a file without a Comune, is refused.
    """
    root = Path(path).expanduser().resolve()
    comuni: dict[str, ComuneConfig] = {}

    def add(config: ComuneConfig, where: str) -> None:
        code = config.settings.codice_istat
        if code in comuni:
            raise ConfigurationError(
                f"Comune {code} is described twice (again in {where})",
                setting="codice_istat",
                rule="one description per Comune",
            )
        comuni[code] = config

    if root.is_dir():
        files = sorted(root.glob("*.toml")) + sorted(root.glob("*/anpr.toml"))
        for file in (f.resolve() for f in files):  # paths relative to where it really is
            add(
                _comune(read_settings_file(file), base=file.parent, source=file, section=""),
                str(file),
            )
    elif root.is_file():
        data = read_settings_file(root)
        tables = data.pop("comuni", None)
        if not isinstance(tables, Mapping):
            raise ConfigurationError(
                f"{str(root)!r} has no [comuni.<ISTAT>] tables",
                setting="comuni",
                rule="a table per Comune",
            )
        for code, own in tables.items():
            section = f"comuni.{code}."
            if not isinstance(own, Mapping):
                raise ConfigurationError(f"'comuni.{code}' must be a table", setting=section[:-1])
            if own.get("codice_istat", code) != code:
                raise ConfigurationError(
                    f"[comuni.{code}] says codice_istat = {own['codice_istat']!r}",
                    setting=f"{section}codice_istat",
                    rule="the table's name",
                )
            merged = _merge(data, {**own, "codice_istat": code}, top=True)
            add(_comune(merged, base=root.parent, source=root, section=section), section[:-1])
    else:
        raise ConfigurationError(
            f"{str(root)!r} is neither a settings folder nor a settings file", setting="comuni"
        )
    if not comuni:
        raise ConfigurationError(f"{str(root)!r} describes no Comune", setting="comuni")
    return comuni
