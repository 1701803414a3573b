"""MTOM/XOP: ``multipart/related`` SOAP messages with binary attachments.

ANPR's server stack (Apache CXF) answers some operations as MTOM: the 6001 certificate PDF,
4005 results, P002 attachments. The XML part carries ``<xop:Include href="cid:…"/>`` where a
``base64Binary`` value would be. :func:`parse_related` splits the message and
:func:`inline_attachments` puts each attachment back as base64 text, so the rest of the client
reads MTOM and plain answers the same way. :func:`build_related` does the opposite (used by the
simulator to answer like CXF does).

Reading is bounded: at most ``max_parts`` parts (``[limits] max_mtom_parts``; more is
:class:`~anpr_client.errors.AnswerTooLarge`), each no larger than the message that carries it,
whose own size the transport and :func:`~.envelope.read_answer` bound; a part that is not what
its headers say (invalid base64) is a :class:`~anpr_client.errors.ProtocolError`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from lxml import etree

from ..errors.exceptions import AnswerTooLarge, ProtocolError
from ..safexml import NS
from ..settings import Limits

__all__ = [
    "Attachment",
    "RelatedMessage",
    "build_related",
    "inline_attachments",
    "is_related",
    "parse_related",
]

_XOP_INCLUDE = f"{{{NS['xop']}}}Include"
_PARAM = re.compile(r';\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True)
class Attachment:
    content_id: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class RelatedMessage:
    root: bytes
    """The root part: the SOAP envelope (``application/xop+xml``)."""
    attachments: Mapping[str, Attachment]
    """Other parts by Content-ID (without angle brackets)."""


def _params(content_type: str) -> dict[str, str]:
    out = {}
    for key, value in _PARAM.findall(content_type):
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace('\\"', '"')
        out[key.lower()] = value
    return out


def is_related(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "multipart/related"


def _cid(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value


def parse_related(
    body: bytes, content_type: str, *, max_parts: int = Limits.max_mtom_parts
) -> RelatedMessage:
    """Split a ``multipart/related`` body into its root part and attachments (at most
    ``max_parts`` parts)."""
    params = _params(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise ProtocolError("multipart/related answer without a boundary parameter")
    try:
        delimiter = b"--" + boundary.encode("latin-1")
    except UnicodeEncodeError:
        raise ProtocolError("multipart/related boundary is not Latin-1") from None
    chunks = body.split(delimiter, max_parts + 1)
    if len(chunks) == max_parts + 2 and not chunks[-1].startswith(b"--"):
        raise AnswerTooLarge(
            f"the MTOM answer has more than {max_parts} parts (limits.max_mtom_parts); "
            "the operation may have been applied",
            limit="limits.max_mtom_parts",
        )
    if len(chunks) < 3:
        raise ProtocolError("multipart/related answer with no parts")
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.partition(b"\n\n")
            if not sep:
                raise ProtocolError("multipart/related part without a header block")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.strip():
                headers[name.strip().lower()] = value.strip()
        encoding = headers.get("content-transfer-encoding", "binary").lower()
        if encoding == "base64":
            try:
                content = base64.b64decode(content, validate=False)
            except (binascii.Error, ValueError):
                raise ProtocolError(
                    f"MTOM part {headers.get('content-id', len(parts) + 1)!r} is not valid base64"
                ) from None
        parts.append((headers, content))
    if not parts:
        raise ProtocolError("multipart/related answer with no parts")
    start = _cid(params.get("start", ""))
    root_index = 0
    if start:
        for i, (headers, _) in enumerate(parts):
            if _cid(headers.get("content-id", "")) == start:
                root_index = i
                break
        else:
            raise ProtocolError(f"multipart/related root part {start!r} not found")
    attachments = {}
    for i, (headers, content) in enumerate(parts):
        if i == root_index:
            continue
        cid = _cid(headers.get("content-id", f"part{i}"))
        attachments[cid] = Attachment(
            cid, headers.get("content-type", "application/octet-stream"), content
        )
    return RelatedMessage(parts[root_index][1], attachments)


def inline_attachments(root: etree._Element, attachments: Mapping[str, Attachment]) -> None:
    """Replace every ``xop:Include`` under ``root`` by the base64 text of its attachment."""
    for include in list(root.iter(_XOP_INCLUDE)):
        href = include.get("href", "")
        cid = unquote(href[4:]) if href.startswith("cid:") else href
        attachment = attachments.get(cid)
        if attachment is None:
            raise ProtocolError(f"MTOM reference {href!r} has no matching attachment")
        parent = include.getparent()
        if parent is None:  # pragma: no cover - an Include is never the root
            continue
        parent.remove(include)
        parent.text = base64.b64encode(attachment.data).decode("ascii")


def build_related(
    envelope: bytes, attachments: Mapping[str, tuple[str, bytes]]
) -> tuple[bytes, str]:
    """An MTOM message: ``envelope`` (already holding ``xop:Include`` references) plus
    ``attachments`` (content id → (content type, data)). Returns the body and Content-Type."""
    boundary = f"uuid:{secrets.token_hex(16)}"
    root_id = f"root.message@{secrets.token_hex(4)}.anpr-client"
    out = [
        f"--{boundary}\r\n".encode(),
        b'Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\n',
        b"Content-Transfer-Encoding: binary\r\n",
        f"Content-ID: <{root_id}>\r\n\r\n".encode(),
        envelope,
        b"\r\n",
    ]
    for cid, (ctype, data) in attachments.items():
        out += [
            f"--{boundary}\r\n".encode(),
            f"Content-Type: {ctype}\r\n".encode(),
            b"Content-Transfer-Encoding: binary\r\n",
            f"Content-ID: <{cid}>\r\n\r\n".encode(),
            data,
            b"\r\n",
        ]
    out.append(f"--{boundary}--\r\n".encode())
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<{root_id}>"; start-info="text/xml"'
    )
    return b"".join(out), content_type
