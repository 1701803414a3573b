"""Transports: bytes and headers in; status, headers and bytes out.

A transport knows nothing of SOAP, WS-Security or retries (those sit above it). One interface,
:class:`Transport`, and three implementations:

=====================  =====================================================================
:mod:`.https`          :class:`HttpTransport`: HTTPS with one ``ssl.SSLContext`` (see
                       :mod:`.tls`) and timeouts always set; network errors become
                       :mod:`anpr_client.errors` classes that say whether the request may
                       have reached the server
:mod:`.wsgi`           :class:`WsgiTransport`: a WSGI application called in-process
:mod:`.mock`           :class:`MockTransport`: a function turned into a server, for tests
:mod:`.models`         :class:`HttpRequest`, :class:`HttpResponse`
:mod:`.tls`            the client's ``SSLContext`` from the settings (trust, mutual TLS)
=====================  =====================================================================
"""

from .base import Transport
from .https import HttpTransport
from .mock import MockTransport
from .models import HttpRequest, HttpResponse
from .wsgi import WsgiApp, WsgiTransport

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "HttpTransport",
    "MockTransport",
    "Transport",
    "WsgiApp",
    "WsgiTransport",
]
