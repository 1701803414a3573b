"""The N000 push as ANPR sent it (italia/anpr#1582) and the Comune's reply (#322), read by the
receiver's own functions."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from lxml import etree

from anpr_client.notifications.message import ReplyCode, build_response, read_request, read_response
from anpr_client.safexml import NS, parse_xml

from .corpus import fixture
from .shapes import element_paths


def _payload(path: str) -> etree._Element:
    root = parse_xml(fixture(path).data())
    body = root.find(f"{{{NS['soap']}}}Body")
    assert body is not None
    return next(c for c in body if isinstance(c.tag, str))


@pytest.mark.parametrize(
    ("path", "kind"),
    [("n000/push-richiesta-n000.xml", "N031"), ("n000/push-richiesta-n000-nris.xml", "NRIS")],
)
def test_the_published_push_is_read(path: str, kind: str) -> None:
    request = read_request(_payload(path))
    assert request.tipo_notifica == kind
    assert (request.cod_mittente, request.cod_destinatario) == ("999999", "058091")
    assert request.id_notifica == "99999901"
    assert request.data_ora_richiesta == dt.datetime(
        2018, 11, 7, 17, 18, 46, 904000, tzinfo=dt.timezone(dt.timedelta(hours=1))
    )
    assert request.contenuto.endswith(b"fictitious, not a real CMS")
    text = _payload(path).findtext("contenuto")
    assert text is not None
    assert base64.b64decode(text) == request.contenuto


def test_the_reply_of_the_specification_is_read_and_ours_has_its_shape() -> None:
    published = fixture("n000/reply-risposta-n000.xml").data()
    assert read_response(published) == ("1", "1")
    ours = build_response(ReplyCode.ACQUIRED)
    assert read_response(ours) == ("1", "1")
    assert element_paths(parse_xml(ours)) == element_paths(parse_xml(published))
