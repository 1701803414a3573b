"""The faces: typed methods over :meth:`anpr_client.Client.call`, one face per service family.

>>> from anpr_client.services import FACES
>>> FACES["registrations"]
('1000', 'anpr_client.services.registrations', 'Registrations')

Each face is a property of the client (``client.registrations``, ``client.changes``…) whose
methods are named after the act and send one operation each: they take the operation's request
model (:mod:`anpr_client.models`; ``testataRichiesta`` may be left out) and return a
:class:`~anpr_client.results.Result` whose ``value`` is the answer's OK branch as its model. The
daily acts also have methods that take plain values (codici fiscali, names, dates, ISTAT codes,
the small dataclasses of :mod:`.params`: :class:`Address`, :class:`Place`, :class:`Subject`,
:class:`Member`, :class:`AddressAbroad`) and build the request themselves.

Every operation is also reachable by code, for generic tooling: ``client.typed_call(code,
request)`` (:func:`anpr_client.models.request_type` gives the class). :data:`FACES` lists the
faces; :func:`face_methods` the methods of one with the operation each sends. Importing this
package imports no family's models: a face's module is loaded when the client property is
first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import MappingProxyType
from typing import Final

from ._typed import Face, Method, methods
from .params import Address, AddressAbroad, Member, Place, Subject

__all__ = [
    "FACES",
    "Address",
    "AddressAbroad",
    "Face",
    "Member",
    "Method",
    "Place",
    "Subject",
    "face_class",
    "face_methods",
]

FACES: Final = MappingProxyType(
    {
        "registrations": ("1000", f"{__name__}.registrations", "Registrations"),
        "cancellations": ("2000", f"{__name__}.cancellations", "Cancellations"),
        "consultazione": ("3000", f"{__name__}.consultazione", "Consultazione"),
        "extractions": ("4000", f"{__name__}.extractions", "Extractions"),
        "changes": ("5000", f"{__name__}.changes", "Changes"),
        "certificates": ("6001", f"{__name__}.certificates", "Certificates"),
        "tables": ("7001", f"{__name__}.tables", "Tables"),
        "aire": ("A000", f"{__name__}.aire", "Aire"),
        "identity_cards": ("CIE", f"{__name__}.identity_cards", "IdentityCards"),
        "consulates": ("CONSOLATI", f"{__name__}.consulates", "Consulates"),
        "agencies": ("E000", f"{__name__}.agencies", "Agencies"),
        "citizen_requests": ("P000", f"{__name__}.citizen_requests", "CitizenRequests"),
        "takeover": ("S001", f"{__name__}.takeover", "Takeover"),
    }
)
"""Client property → (family, module, class) of every face. N000 has none (ANPR sends it to
the Comune: :mod:`anpr_client.notifications` receives it); TestConn is
:meth:`anpr_client.Client.test_connection`."""


def face_class(attribute: str) -> type[Face]:
    """The face class behind ``client.<attribute>`` (imports its module)."""
    _, module, name = FACES[attribute]
    cls: type[Face] = getattr(importlib.import_module(module), name)
    return cls


def face_methods(attribute: str) -> Iterator[Method]:
    """The methods of the face ``client.<attribute>``, each with the operation it sends."""
    return methods(face_class(attribute))
