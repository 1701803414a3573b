"""Transports: bytes and headers in; status, headers and bytes out.

A transport knows nothing of SOAP, WS-Security or retries (those sit above it). One interface,
:class:`Transport`, and three implementations:

=====================  =====================================================================
:mod:`.https`          :class:`HttpTransport`: HTTPS on urllib3 with one ``ssl.SSLContext``
                       (see :mod:`.tls`), timeouts always set, every answer bounded
                       (``[limits]``); each failure becomes the :mod:`anpr_client.errors`
                       class its :class:`Stage` implies (delivered or outcome unknown)
:mod:`.wire`           HTTP/1.1 on a connected socket: the request written, the answer read
                       within the deadline and size limits
:mod:`.wsgi`           :class:`WsgiTransport`: a WSGI application called in-process
:mod:`.mock`           :class:`MockTransport`: a function turned into a server, for tests
:mod:`.models`         :class:`HttpRequest`, :class:`HttpResponse`, :class:`Stage`
:mod:`.tls`            the client's ``SSLContext`` from the settings (trust, mutual TLS)
=====================  =====================================================================
"""

from .base import Transport
from .https import HttpTransport
from .mock import MockTransport
from .models import HttpRequest, HttpResponse, Stage
from .wsgi import WsgiApp, WsgiTransport

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "HttpTransport",
    "MockTransport",
    "Stage",
    "Transport",
    "WsgiApp",
    "WsgiTransport",
]
