"""The contents of N000 notifications (``NotificaN010`` …) match the N000 publication."""

from __future__ import annotations

import pytest
import xmlschema

from .support import OUR_BUNDLE, compare_elements, require_reference

OFFICIAL = "wsdl-notifiche/mappaturaNotificheBase64/N000notificheComuni.xsd"
NS = "{http://sogei.it/ANPR/N000notificheComuni}"


@pytest.fixture(scope="module")
def schemas() -> tuple[xmlschema.XMLSchemaBase, xmlschema.XMLSchemaBase]:
    reference = require_reference()
    ours = xmlschema.XMLSchema(str(OUR_BUNDLE / "N000-notifiche" / "payload.xsd"))
    return ours, xmlschema.XMLSchema(str(reference / OFFICIAL))


def test_same_notification_elements(
    schemas: tuple[xmlschema.XMLSchemaBase, xmlschema.XMLSchemaBase],
) -> None:
    ours, official = schemas
    assert sorted(ours.elements) == sorted(official.elements)
    assert len(ours.elements) == 6


@pytest.mark.parametrize("name", ["N010", "N014", "N015", "N030", "N031", "N032"])
def test_notification_content_matches_official(
    name: str, schemas: tuple[xmlschema.XMLSchemaBase, xmlschema.XMLSchemaBase]
) -> None:
    ours, official = schemas
    compare_elements(ours.elements[f"Notifica{name}"], official.elements[f"Notifica{name}"])


def test_the_older_tipodato_stays_apart() -> None:
    """The contents use the N000 publication's tipoDato, a different version of the namespace
    the services use: it lives in its own file, never imported by a service schema."""
    for path in OUR_BUNDLE.rglob("*.xsd"):
        if path.parent.name != "N000-notifiche":
            assert "payload-tipo-dato.xsd" not in path.read_text("utf-8"), path
