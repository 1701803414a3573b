"""The wire corpus: our fixtures reproducing the shape of ANPR messages published in the
italia/anpr and italia/ansc issue threads and documentation, and how to load them.

Every fixture is listed here with the operation it answers (or is), its public sources and
what kind of evidence each part rests on (the tags of ``README.md``): ``WIRE`` as ANPR sent
it, ``RESER`` re-serialised by an integrator's stack, ``DOC`` an official sample, ``PROSE``
described in words only, ``TEXT`` a fault text known without its envelope, ``XSD`` built from
the schema where the record is silent, ``CXF`` Apache CXF's documented MTOM layout (not ANPR
evidence), ``BUILT`` a constructed broken message (never real). Values are fictitious.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from anpr_client.transport import HttpResponse

__all__ = ["CORPUS", "FIXTURES", "WIRE", "Fixture", "fixture"]

WIRE: Final = Path(__file__).resolve().parent
"""The corpus directory."""
FIXTURES: Final = ("answers", "n000", "requests")
"""The folders of this corpus (``4005/`` holds the 4005 exchanges, listed by their own tests)."""

_MIME: Final = (
    'multipart/related; type="application/xop+xml"; '
    'boundary="uuid:3f9a2c1e-8b7d-4e5f-a6b0-c1d2e3f4a5b6"; '
    'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
)
"""The HTTP Content-Type of the ``.mime`` fixtures: Apache CXF's MTOM form (``CXF``)."""


@dataclass(frozen=True)
class Fixture:
    path: str
    """Relative to the corpus directory."""
    operation: str
    """The operation it answers (answers, faults) or is (requests, N000)."""
    sources: tuple[str, ...]
    evidence: tuple[str, ...]
    status: int = 200

    @property
    def file(self) -> Path:
        return WIRE / self.path

    def data(self) -> bytes:
        return self.file.read_bytes()

    def response(self) -> HttpResponse:
        """The fixture as the HTTP answer the client reads."""
        data = self.data()
        if self.file.suffix == ".http":
            head, _, body = data.partition(b"\r\n\r\n")
            status_line, *lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            return HttpResponse(int(status_line.split()[1]), headers, body)
        content_type = _MIME if self.file.suffix == ".mime" else "text/xml"
        return HttpResponse(self.status, {"content-type": content_type}, data)


def _f(path: str, operation: str, sources: str, evidence: str, status: int = 200) -> Fixture:
    return Fixture(path, operation, tuple(sources.split()), tuple(evidence.split()), status)


CORPUS: Final[dict[str, Fixture]] = {
    f.path: f
    for f in (
        # SOAP faults of ANPR's gateway (HTTP 500, italia/anpr#988)
        _f("answers/fault-1.1-rejected-by-policy.xml", "3002", "#192", "WIRE", 500),
        _f("answers/fault-1.1-rejected-by-policy.http", "TestConn", "#988", "WIRE"),
        _f("answers/fault-1.1-rejected-by-policy-6001.xml", "6001", "#2594", "WIRE", 500),
        _f("answers/fault-1.1-soap-env-header.xml", "3002", "#4140", "RESER", 500),
        _f("answers/fault-1.1-internal-error-from-client.xml", "E002", "#3285 #192", "WIRE", 500),
        _f("answers/fault-1.1-internal-error.xml", "P001", "#3574 #192", "RESER", 500),
        _f("answers/fault-1.2-internal-error-from-server.xml", "6001", "#2653", "WIRE", 500),
        _f("answers/fault-1.1-certificate-revoked.xml", "3002", "#1918 #2246 #192", "TEXT", 500),
        _f("answers/fault-1.1-error-nl.xml", "3002", "#3571 #5256 #192", "TEXT", 500),
        # KO answers: rispostaKO/listaErrori
        _f("answers/ko-3002-en122.xml", "3002", "#1903", "WIRE"),
        _f("answers/ko-4001-en179-cr.xml", "4001", "#2688", "WIRE"),
        _f("answers/ko-5008-two-errors.xml", "5008", "#2060", "WIRE"),
        _f("answers/ko-1002-three-errors.xml", "1002", "#1820 #1903", "WIRE"),
        _f("answers/ko-2009-en493.xml", "2009", "#876", "RESER"),
        _f("answers/ko-5001-en493.xml", "5001", "#816", "RESER"),
        _f("answers/ko-3003-empty-lista-errori.xml", "3003", "#1282 #1903", "RESER"),
        _f("answers/ko-5011-xxxx-code.xml", "5011", "#3463 #2060", "RESER XSD"),
        _f("answers/ko-5005-en493.xml", "5005", "#2283 #1903", "RESER XSD"),
        _f("answers/ko-1014-999.xml", "1014", "#3947 #1903", "RESER XSD"),
        _f("answers/ko-5008-en413.xml", "5008", "#1349 #2060", "RESER XSD"),
        _f("answers/ko-A002-eav92.xml", "A002", "#1436 #1903", "RESER XSD"),
        _f("answers/ko-A001-empty-text.xml", "A001", "#1061 #1903", "RESER XSD"),
        _f("answers/ko-3002-id-above-2-31.xml", "3002", "#4780 #5398 #4769 ansc#2625", "XSD"),
        # OK answers with warnings (listaAnomalie: no XML on the record)
        _f("answers/ok-3002-lista-anomalie.xml", "3002", "#1087 #666 #30", "PROSE XSD"),
        _f("answers/ok-5005-lista-anomalie.xml", "5005", "#4827", "PROSE XSD"),
        _f("answers/ok-1014-empty-dati-soggetto.xml", "1014", "#1165", "RESER XSD"),
        # newer interface versions: the anncsu section of ANPR 9.2 (no XML public)
        _f("answers/ok-1002-anncsu.xml", "1002", "#5011 #5047 #5134", "PROSE XSD"),
        _f("answers/ok-5001-anncsu.xml", "5001", "#5011 #5047 #5134", "PROSE XSD"),
        _f("answers/ok-5005-anncsu.xml", "5005", "#5011 #5047 #5134", "PROSE XSD"),
        _f("answers/ok-5014-anncsu.xml", "5014", "#5011 #5047 #5134", "PROSE XSD"),
        # MTOM answers (the MIME framing is CXF's, not ANPR evidence)
        _f("answers/ok-6001-mtom.mime", "6001", "#2437 #2318 #992", "WIRE RESER CXF"),
        _f("answers/ok-6001-without-file.xml", "6001", "#2437 #5069", "WIRE PROSE"),
        _f("answers/ok-7001-mtom.mime", "7001", "#840", "PROSE XSD CXF"),
        _f("answers/broken-6001-include-without-part.mime", "6001", "#2318", "BUILT"),
        _f("answers/broken-6001-include-not-mtom.xml", "6001", "#2318", "BUILT"),
        # N000: ANPR's push and the Comune's reply
        _f("n000/push-richiesta-n000.xml", "N000", "#1582 #912", "RESER"),
        _f("n000/push-richiesta-n000-nris.xml", "N000", "#1582 #1543", "RESER"),
        _f("n000/reply-risposta-n000.xml", "N000", "#322", "DOC"),
        # requests ANPR accepted
        _f("requests/testconn-ace.xml", "TestConn", "anpr-client-example", "DOC"),
        _f("requests/3002-ace.xml", "3002", "anpr-client-example", "DOC"),
        _f("requests/3002-ace-stub.xml", "3002", "anpr-client-example", "DOC"),
        _f("requests/6001-ace.xml", "6001", "anpr-client-example", "DOC"),
        _f("requests/testconn-dotnet.xml", "TestConn", "#988", "WIRE"),
    )
}


def fixture(path: str) -> Fixture:
    """The corpus entry for ``path`` (e.g. ``answers/ko-3002-en122.xml``)."""
    return CORPUS[path]
