"""6001 Certificazione: registry certificates (``client.certificates``).

>>> pdf = client.certificates.certificate_pdf(                         # doctest: +SKIP
...     Subject(codice_fiscale="MRNLDA45P11H501H", surname="MARINI", name="ALDO"),
...     "8", officer_surname="ROSSI", officer_name="MARIA",
... )

:meth:`Certificates.issue_certificate` takes the request model and returns the typed answer;
:meth:`Certificates.certificate_pdf` builds the request from plain values and returns the
certificate itself, the PDF ANPR attaches to its answer (MTOM).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..errors.exceptions import ProtocolError
from ..models import certificazione as m
from ..results import Result
from . import _fragments as f
from ._typed import Face, call, convenience, operation
from .params import Subject

__all__ = ["Certificates"]

#: ``tipoRichiedente``: who asks for the certificate, as ANPR's published XSD documents it
#: (italia/anpr, src/wsdl/comuni, tipoDato.xsd): 1 someone else, 2 the subject, 3 a public body.
_REQUESTER: Mapping[str, str] = {"other": "1", "subject": "2", "public_body": "3"}
#: ``tipoRichiesta`` 1: issue the certificate (2 asks for its data only); ``emissione`` 1: at
#: the counter; ``paEstera`` 0: not for a foreign authority (the same XSD's documentation).
_ISSUE, _AT_THE_COUNTER, _NOT_FOR_ABROAD = "1", "1", "0"


class Certificates(Face):
    """The 6001 service, bound to a client (``client.certificates``)."""

    FAMILY = "6001"

    @operation("6001")
    def issue_certificate(
        self, request: m.Richiesta6001, *, header: Mapping[str, Any] | None = None
    ) -> Result[m.Risposta6001OK]:
        """6001 ``emissioneCertificato``: issue a certificate (``value.file.certificatoPdf``
        holds the PDF) or ask for its data (``tipoRichiesta`` 2: ``value.datiCertificato``).

        ANPR issues a certificate once per ``idOperazioneComune``: resending the same request
        (the journal's retries do) returns the same PDF, never a second certificate.
        """
        return call(self._client, "6001", request, header=header)

    @convenience("6001")
    def certificate_pdf(
        self,
        person: Subject,
        kinds: str | Sequence[str],
        *,
        officer_surname: str,
        officer_name: str,
        requester: Literal["subject", "other", "public_body"] = "subject",
        stamp_duty_cents: int = 0,
        fees_cents: int = 0,
        header: Mapping[str, Any] | None = None,
    ) -> bytes:
        """6001: the PDF of a certificate of ``person``, issued at the counter.

        ``kinds`` are the certificate types of ANPR's table "tipo di certificato" (one code
        or several, for one document); ``officer_surname``/``officer_name`` the registry
        officer who issues it (``cognomeUffAnagrafe``/``nomeUffAnagrafe``);
        ``stamp_duty_cents`` the stamp duty (``bollo``) and ``fees_cents`` the Comune's fees
        (``diritti``), in euro cents, as the XSD documents them. Raises
        :class:`~anpr_client.errors.ProtocolError` if ANPR's answer carries no PDF.
        """
        codes = [kinds] if isinstance(kinds, str) else list(kinds)
        request = m.Richiesta6001(
            listaTipiCertificati=m.TipolistaTipiCertificati(tipoCertificato=codes),
            soggettoIntestatario=m.TipoSoggettoIntestatario(generalita=f.subject(person)),
            datiControllo=m.TipoDatiControllo6001(
                cognomeUffAnagrafe=officer_surname,
                nomeUffAnagrafe=officer_name,
                tipoRichiedente=_REQUESTER[requester],
                tipoRichiesta=_ISSUE,
                paEstera=_NOT_FOR_ABROAD,
                emissione=_AT_THE_COUNTER,
                bollo=str(stamp_duty_cents),
                diritti=str(fees_cents),
            ),
        )
        result = self.issue_certificate(request, header=header)
        document = result.value.file
        if document is None or not document.certificatoPdf:
            raise ProtocolError(
                f"the 6001 answer (idOperazioneANPR {result.id_operazione_anpr}) carries no "
                "certificate PDF"
            )
        return document.certificatoPdf
