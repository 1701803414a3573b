"""The package is ready to publish: it builds, ``twine check`` passes, ``publiccode.yml`` follows
the publiccode.yml standard (v0.4) and ``CHANGELOG.md`` follows Keep a Changelog."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from anpr_client._version import __version__

ROOT = Path(__file__).resolve().parents[2]

# The standard's core schema, v0.4 (publiccodeyml/publiccode.yml, docs/standard/schema.core.rst).
_MANDATORY = (
    "publiccodeYmlVersion",
    "name",
    "url",
    "platforms",
    "categories",
    "developmentStatus",
    "softwareType",
    "description",
    "legal",
    "maintenance",
    "localisation",
)
_DEVELOPMENT_STATUS = {"concept", "development", "beta", "stable", "obsolete"}
_SOFTWARE_TYPE = {
    "standalone/mobile",
    "standalone/iot",
    "standalone/desktop",
    "standalone/web",
    "standalone/backend",
    "standalone/other",
    "addon",
    "library",
    "configurationFiles",
}
_MAINTENANCE = {"internal", "contract", "community", "none"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def publiccode_problems(data: Any) -> list[str]:
    """What in a parsed ``publiccode.yml`` breaks the standard's v0.4 core rules."""
    if not isinstance(data, dict):
        return ["the document is not a mapping"]
    problems = [f"{key}: mandatory" for key in _MANDATORY if key not in data]
    if str(data.get("publiccodeYmlVersion")) != "0.4":
        problems.append("publiccodeYmlVersion: not 0.4")
    if not str(data.get("url", "")).startswith("https://"):
        problems.append("url: not an https URL")
    if data.get("developmentStatus") not in _DEVELOPMENT_STATUS:
        problems.append(f"developmentStatus: not one of {sorted(_DEVELOPMENT_STATUS)}")
    if data.get("softwareType") not in _SOFTWARE_TYPE:
        problems.append(f"softwareType: not one of {sorted(_SOFTWARE_TYPE)}")
    if not data.get("platforms"):
        problems.append("platforms: empty")
    if not isinstance(data.get("categories"), list) or not data["categories"]:
        problems.append("categories: not a non-empty list")
    date = data.get("releaseDate")
    if date is not None and not _DATE.fullmatch(str(date)):
        problems.append("releaseDate: not YYYY-MM-DD")
    descriptions = data.get("description") or {}
    if not isinstance(descriptions, dict) or not descriptions:
        problems.append("description: at least one language")
        descriptions = {}
    for lang, text in descriptions.items():
        where = f"description/{lang}"
        short = str(text.get("shortDescription", ""))
        long = str(text.get("longDescription", ""))
        if not short:
            problems.append(f"{where}/shortDescription: mandatory")
        if len(short) > 150:
            problems.append(f"{where}/shortDescription: {len(short)} chars, at most 150")
        if not 150 <= len(long) <= 10000:
            problems.append(f"{where}/longDescription: {len(long)} chars, 150 to 10000")
        if len(str(text.get("genericName", ""))) > 35:
            problems.append(f"{where}/genericName: at most 35 chars")
        if not text.get("features"):
            problems.append(f"{where}/features: mandatory")
    if not (data.get("legal") or {}).get("license"):
        problems.append("legal/license: mandatory")
    maintenance = data.get("maintenance") or {}
    if maintenance.get("type") not in _MAINTENANCE:
        problems.append(f"maintenance/type: not one of {sorted(_MAINTENANCE)}")
    contacts = maintenance.get("contacts") or []
    if maintenance.get("type") in {"internal", "community"} and not contacts:
        problems.append("maintenance/contacts: mandatory for internal or community")
    if any(not c.get("name") for c in contacts):
        problems.append("maintenance/contacts: every contact has a name")
    localisation = data.get("localisation") or {}
    if not isinstance(localisation.get("localisationReady"), bool):
        problems.append("localisation/localisationReady: a boolean, mandatory")
    if not localisation.get("availableLanguages"):
        problems.append("localisation/availableLanguages: mandatory")
    return problems


def test_publiccode_yml_follows_the_standard() -> None:
    data = yaml.safe_load((ROOT / "publiccode.yml").read_text(encoding="utf-8"))
    assert publiccode_problems(data) == []
    assert data["softwareVersion"] == __version__


def test_the_publiccode_check_catches_what_the_catalogue_refuses() -> None:
    data = yaml.safe_load((ROOT / "publiccode.yml").read_text(encoding="utf-8"))
    data["description"]["en"]["shortDescription"] = "x" * 151
    del data["categories"]
    data["maintenance"]["type"] = "sometimes"
    problems = publiccode_problems(data)
    assert "description/en/shortDescription: 151 chars, at most 150" in problems
    assert "categories: mandatory" in problems
    assert any(p.startswith("maintenance/type") for p in problems)


_SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_changelog_keeps_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\S+))?$", text, flags=re.MULTILINE)
    assert releases[0] == ("Unreleased", "")
    versions = dict(releases[1:])
    assert __version__ in versions, f"no entry for {__version__}"
    for version, date in versions.items():
        dt.date.fromisoformat(date)  # YYYY-MM-DD
        assert f"[{version}]: https://" in text  # the link reference
    sections = set(re.findall(r"^### (.+)$", text, flags=re.MULTILINE))
    assert sections <= _SECTIONS, sections - _SECTIONS


@pytest.mark.slow
def test_the_sdist_and_wheel_build_and_pass_twine_check(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    wheel = tmp_path / f"anpr_client-{__version__}-py3-none-any.whl"
    sdist = tmp_path / f"anpr_client-{__version__}.tar.gz"
    assert wheel.is_file()
    assert sdist.is_file()
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(f"anpr_client-{__version__}.dist-info/entry_points.txt").decode()
    assert "anpr_client/py.typed" in names
    assert any(n.startswith("anpr_client/_bundle/") and n.endswith(".wsdl") for n in names)
    assert "anpr = anpr_client.cli.main:main" in entry_points
    metadata = zipfile.ZipFile(wheel).read(f"anpr_client-{__version__}.dist-info/METADATA")
    assert b"Provides-Extra: server" not in metadata  # the waitress extra is gone
    assert b"waitress" not in metadata
