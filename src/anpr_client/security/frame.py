"""The WS-Security frame ANPR expects, as a zeep ``wsse=`` plugin.

:class:`WsSecurity` adds to a SOAP envelope, in this order (the working requests of
italia/anpr#1903, #2504, #2162 and #700)::

    soap:Header/wsse:Security  soap:mustUnderstand="1"
        wsu:Timestamp                Created = now (UTC), Expires = now + ttl (300 s)
        saml2:Assertion              signed by the Comune key (see :mod:`.saml`)
        wsse:BinarySecurityToken     the Comune certificate (X509v3, Base64Binary, wsu:Id)
        ds:Signature                 over exactly the Timestamp and the Body (wsu:Id on
                                     soap:Body), exc-c14n, KeyInfo = STR → the BST

``IdPostazioneFirmato`` is computed once, at construction, with the workstation key; keys are
loaded once (:meth:`WsSecurity.from_settings`). ``apply`` keeps no per-call state on the object,
so one frame may sign from several threads (token signers serialise themselves).

The caller must serialise the envelope right after ``apply`` with ``etree.tostring(envelope)``
and never re-indent it: pretty-printing after signing changes the signed bytes.

Usage with the client's pipeline or a stock zeep client::

    frame = WsSecurity.from_settings(settings)
    envelope, headers = frame.apply(envelope, headers)
    client = zeep.Client(wsdl, wsse=frame)
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import datetime as dt
import functools
import os
import secrets
import socket
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from lxml import etree

from anpr_client._identifiers import ISTAT_CODE as _ISTAT
from anpr_client._identifiers import WORKSTATION_ID as _WORKSTATION
from anpr_client.credentials.base import KeySource, SecretCallback
from anpr_client.credentials.certificates import common_name, comune_of_name, refuse_unusable
from anpr_client.credentials.identity import validate_codice_fiscale
from anpr_client.errors.exceptions import ConfigurationError, SigningError
from anpr_client.safexml import NS, parse_xml
from anpr_client.security.algorithms import SignatureMethod
from anpr_client.security.cms import id_postazione_firmato as make_id_postazione_firmato
from anpr_client.security.saml import (
    AssertionContent,
    AssertionParts,
    assertion_parts,
    certificate_b64,
    format_instant,
    signed_assertion_parts,
)
from anpr_client.security.xmldsig import (
    CanonicalReference,
    c14n,
    c14n_attribute,
    reference_writer,
    references_text,
    signature_over,
)

if TYPE_CHECKING:
    from anpr_client.settings import Settings

__all__ = [
    "BASE64_BINARY",
    "SAMPLE_APPLICATION_ID",
    "SOAP11_NS",
    "SOAP12_NS",
    "X509V3",
    "WsSecurity",
]

SOAP11_NS: Final = NS["soap"]
SOAP12_NS: Final = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS: Final = NS["wsse"]
WSU_NS: Final = NS["wsu"]
X509V3: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
)
BASE64_BINARY: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
_WSU_ID: Final = f"{{{WSU_NS}}}Id"
_DECLARATION: Final = b"<?xml version='1.0' encoding='UTF-8'?>\n"
#: Each SOAP envelope's tag, with its namespace and its Body's tag.
_ENVELOPES: Final = {f"{{{ns}}}Envelope": (ns, f"{{{ns}}}Body") for ns in (SOAP11_NS, SOAP12_NS)}
#: The Timestamp's start tag as exclusive c14n writes it alone (``wsu`` declared on it).
_TIMESTAMP_C14N: Final = f'<wsu:Timestamp xmlns:wsu="{WSU_NS}" '
#: The message signature's KeyInfo around the token's id.
_TOKEN_REFERENCE: Final = (
    '<wsse:SecurityTokenReference><wsse:Reference URI="#X509-',
    f'" ValueType="{X509V3}"/></wsse:SecurityTokenReference>',
)
SAMPLE_APPLICATION_ID: Final = "12345"
"""``IdApplicazione`` when none is configured: the value of ANPR's official sample client
(``ID_APPLICAZIONE=12345`` in italia/anpr-client-example). ANPR publishes no list of values;
every known one is numeric and a gateway (GovWay) lets each application set its own."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_address() -> str:
    """This host's primary IPv4 address (no packet is sent), or ``127.0.0.1``."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only
        return str(s.getsockname()[0])
    return "127.0.0.1"


def check_workstation(workstation_id: str, *, codice_istat: str | None = None) -> None:
    """Refuse an ``IdPostazione`` that is not shaped ``NNNNNN-PC-NNNN`` (or ``-CO-``), and, with
    ``codice_istat``, one of another Comune: ANPR's gateway answers it "Rejected by policy".
    Raises :class:`~anpr_client.errors.ConfigurationError` naming ``workstation.id``."""
    if not _WORKSTATION.fullmatch(workstation_id):
        raise ConfigurationError(
            f"IdPostazione {workstation_id!r} must look like 058091-PC-0001",
            setting="workstation.id",
            rule="NNNNNN-PC-NNNN or NNNNNN-CO-NNNN",
        )
    named = comune_of_name(workstation_id)
    if codice_istat is not None and named != codice_istat:
        raise ConfigurationError(
            f"setting 'workstation.id' = {workstation_id!r} names a workstation of Comune "
            f"{named}, not of codice_istat {codice_istat}: ANPR refuses it (Rejected by policy)",
            setting="workstation.id",
            rule="the workstation's Comune equals codice_istat",
        )


class WsSecurity:
    """Builds ANPR's security frame. Plugs into zeep as ``wsse=`` (``apply``/``verify``).

    :param signer: the Comune key (``<ISTAT>-CO-9999``): signs the message and the assertion;
        its certificate goes into the BinarySecurityToken.
    :param operator: the SAML NameID, the operator's codice fiscale (validated unless
        ``validate_operator=False``, for the generic users of ANPR's test environments;
        :meth:`from_settings` accepts those in the test environment only).
    :param id_sede: the Comune's ISTAT code.
    :param workstation_id: ``IdPostazione``.
    :param workstation_key: the workstation key: signs ``IdPostazioneFirmato`` once, here
        (or pass ``id_postazione_firmato``).
    :param id_postazione_firmato: the precomputed base64 value, instead of ``workstation_key``.
    :param application_id: ``IdApplicazione`` (default :data:`SAMPLE_APPLICATION_ID`, the
        official sample client's value; see ``[security] application_id`` in
        docs/configuration.md).
    :param issuer: the assertion Issuer (``XS``).
    :param algorithm: a :class:`~anpr_client.security.algorithms.SignatureMethod` or its short
        name: ``rsa-sha256`` (default) or ``rsa-sha1`` (ANPR's reference client).
    :param ttl: seconds from Created to Expires (and the assertion's validity).
    :param subject_locality: ``SubjectLocality/@Address`` (default: this host's address).
    :param clock: returns the current UTC time (tests).
    """

    def __init__(
        self,
        *,
        signer: KeySource,
        operator: str,
        id_sede: str,
        workstation_id: str,
        workstation_key: KeySource | None = None,
        id_postazione_firmato: str | None = None,
        application_id: str = SAMPLE_APPLICATION_ID,
        issuer: str = "XS",
        algorithm: SignatureMethod | str = SignatureMethod.RSA_SHA256,
        ttl: int = 300,
        subject_locality: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        must_understand: bool = True,
        validate_operator: bool = True,
    ) -> None:
        method = SignatureMethod.from_name(algorithm, setting="security.signature")
        if not _ISTAT.fullmatch(id_sede):
            raise ConfigurationError(
                f"IdSede {id_sede!r} must be the six-digit ISTAT code",
                setting="codice_istat",
                rule="six digits",
            )
        check_workstation(workstation_id)
        if validate_operator:
            operator = validate_codice_fiscale(operator)
        elif not operator.strip():
            raise ConfigurationError("the operator (NameID) is empty", setting="operator")
        if not application_id:
            raise ConfigurationError(
                "IdApplicazione is empty", setting="security.application_id", rule="non-empty"
            )
        if (workstation_key is None) == (id_postazione_firmato is None):
            raise ConfigurationError(
                "give exactly one of workstation_key and id_postazione_firmato",
                setting="workstation",
            )
        if not 30 <= ttl <= 3600:
            raise ConfigurationError(
                "the Timestamp ttl must be 30..3600 seconds",
                setting="security.timestamp_ttl",
                rule="30..3600",
            )
        if workstation_key is not None:
            id_postazione_firmato = make_id_postazione_firmato(workstation_id, workstation_key)
        assert id_postazione_firmato is not None
        self._signer = signer
        self._method = method
        self._ttl = ttl
        self._expiry = dt.timedelta(seconds=ttl)
        self._reference = reference_writer(method)  # of the frame's own ids
        self._clock = clock or _utc_now
        self._must_understand = must_understand
        self._certificate_b64 = certificate_b64(signer.certificate)
        self._token = (  # the BinarySecurityToken around its wsu:Id
            f'<wsse:BinarySecurityToken EncodingType="{BASE64_BINARY}" ValueType="{X509V3}"'
            ' wsu:Id="X509-',
            f'">{self._certificate_b64}</wsse:BinarySecurityToken>',
        )
        self._content = AssertionContent(
            name_id=operator,
            id_sede=id_sede,
            id_postazione=workstation_id,
            id_postazione_firmato=id_postazione_firmato,
            id_applicazione=application_id,
            issuer=issuer,
            subject_locality=subject_locality or local_address(),
        )
        self._made = (self._content, assertion_parts(self._content))

    # -- construction from settings ------------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        secret: SecretCallback | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> WsSecurity:
        """Load the keys named by ``settings`` (once) and build the frame.

        Uses ``[comune_key]`` (signer), ``[workstation]`` (id + key; without a key the Comune
        key signs IdPostazioneFirmato, allowed only when the id is the Comune certificate's
        CN, as for ``CO`` ids in unattended jobs), ``[operator]`` (codice fiscale, or
        ``from_card``: read from the card certificate after PIN login) and ``[security]``.
        ``secret`` receives a prompt and returns a PIN or password; otherwise each key source
        reads the environment variable its settings name.

        What ANPR would refuse is a :class:`~anpr_client.errors.ConfigurationError` here,
        before anything is sent: a Comune or workstation certificate that is expired or not
        yet valid, or named after another Comune than ``codice_istat``, and a
        ``workstation.id`` of another Comune (:func:`~anpr_client.credentials.certificates.
        refuse_unusable`).
        """
        from anpr_client.credentials import load_key_source
        from anpr_client.credentials.identity import codice_fiscale_from_certificate

        if settings.comune_key is None:
            raise ConfigurationError(
                "signing needs [comune_key] (the <ISTAT>-CO-9999 key)",
                setting="comune_key",
                rule="required to sign",
            )
        if settings.workstation is None:
            raise ConfigurationError(
                "signing needs [workstation] with id (IdPostazione)",
                setting="workstation",
                rule="required to sign",
            )
        if settings.operator is None:
            raise ConfigurationError(
                "signing needs [operator] (codice_fiscale or from_card = true)",
                setting="operator",
                rule="required to sign",
            )
        ws = settings.workstation
        check_workstation(ws.id, codice_istat=settings.codice_istat)
        signer = load_key_source(settings.comune_key, secret=secret, purpose="comune_key")
        # Refused here, before anything is journaled or sent, what ANPR's gateway would refuse
        # with an opaque "Rejected by policy": at construction, because the keys are loaded
        # here once and a client that cannot sign should not start (see credentials.certificates).
        refuse_unusable(
            signer.certificate, setting="comune_key", codice_istat=settings.codice_istat
        )
        if ws.key is None or ws.key == settings.comune_key:
            if ws.key is None and common_name(signer.certificate) != ws.id:
                raise ConfigurationError(
                    f"[workstation] {ws.id} has no key: add pkcs12/pem/pkcs11 settings for it",
                    setting="workstation",
                    rule="a key source",
                )
            workstation_key = signer
        else:
            workstation_key = load_key_source(ws.key, secret=secret, purpose="workstation")
            refuse_unusable(
                workstation_key.certificate,
                setting="workstation",
                codice_istat=settings.codice_istat,
            )
        operator_settings = settings.operator
        named = settings.operator_id  # a codice fiscale, or a generic test user (test only)
        if named is not None:
            operator = named
        else:
            if operator_settings.card is None:
                raise ConfigurationError(
                    "[operator] from_card = true needs the card: pkcs11_module, token_label, "
                    "key_label (and pin_env)",
                    setting="operator",
                    rule="card settings with from_card",
                )
            card = load_key_source(operator_settings.card, secret=secret, purpose="operator")
            try:
                operator = codice_fiscale_from_certificate(card.certificate)
            finally:
                # Only the certificate was needed (read after PIN login): release the card.
                close = getattr(card, "close", None)
                if callable(close):
                    close()
        sec = settings.security
        return cls(
            signer=signer,
            operator=operator,
            id_sede=settings.codice_istat,
            workstation_id=ws.id,
            workstation_key=workstation_key,
            application_id=sec.application_id or SAMPLE_APPLICATION_ID,
            issuer=sec.issuer,
            algorithm=sec.signature,
            ttl=sec.timestamp_ttl,
            subject_locality=sec.subject_locality,
            clock=clock,
            validate_operator=False,  # settings.operator_id checked it for the environment
        )

    def for_desk(
        self,
        *,
        operator: str | None = None,
        workstation_id: str | None = None,
        workstation_key: KeySource | None = None,
        validate_operator: bool = True,
    ) -> WsSecurity:
        """This frame for another desk: another operator (the SAML NameID) and, optionally,
        another workstation (``IdPostazione``, whose ``IdPostazioneFirmato`` ``workstation_key``
        signs once, here). The Comune key, the algorithm and the rest are shared, not reloaded:
        a desk costs one small object. Give ``workstation_key`` with ``workstation_id``, unless
        the id is the Comune certificate's CN (a ``CO`` workstation).

        :param operator: the operator's codice fiscale (validated unless
            ``validate_operator=False``, for ANPR's generic test users); default: this frame's.
        :param workstation_id: ``IdPostazione``; default: this frame's workstation.
        :param workstation_key: the key that signs ``IdPostazioneFirmato`` for
            ``workstation_id``.
        """
        content = self._content
        if operator is not None:
            if validate_operator:
                operator = validate_codice_fiscale(operator)
            elif not operator.strip():
                raise ConfigurationError("the operator (NameID) is empty", setting="operator")
            content = dataclasses.replace(content, name_id=operator)
        if workstation_id is not None and workstation_id != content.id_postazione:
            check_workstation(workstation_id, codice_istat=content.id_sede)
            key = workstation_key
            if key is not None:
                refuse_unusable(
                    key.certificate, setting="workstation", codice_istat=content.id_sede
                )
            else:
                if common_name(self._signer.certificate) != workstation_id:
                    raise ConfigurationError(
                        f"workstation {workstation_id} needs its key to sign IdPostazioneFirmato",
                        setting="workstation",
                        rule="a key source",
                    )
                key = self._signer
            content = dataclasses.replace(
                content,
                id_postazione=workstation_id,
                id_postazione_firmato=make_id_postazione_firmato(workstation_id, key),
            )
        desk = copy.copy(self)
        desk._content = content
        return desk

    def close(self) -> None:
        """Release the Comune key (a token session, for PKCS#11 or a card); the frame cannot
        sign afterwards. Frames made with :meth:`for_desk` share the key: close only the one
        that loaded it."""
        close = getattr(self._signer, "close", None)
        if callable(close):
            close()

    # -- properties --------------------------------------------------------------------

    @property
    def operator(self) -> str:
        return self._content.name_id

    @property
    def workstation_id(self) -> str:
        return self._content.id_postazione

    @property
    def id_postazione_firmato(self) -> str:
        """The cached base64 CMS placed in every assertion."""
        return self._content.id_postazione_firmato

    @property
    def algorithm(self) -> str:
        """The short name of the signature method (``rsa-sha256``)."""
        return self._method.short_name

    @property
    def signature_method(self) -> SignatureMethod:
        return self._method

    def __repr__(self) -> str:
        return (
            f"<WsSecurity signer={self._signer.certificate.subject.rfc4514_string()!r} "
            f"workstation={self.workstation_id} operator={self.operator} "
            f"algorithm={self.algorithm}>"
        )

    # -- zeep plugin interface ---------------------------------------------------------

    def apply(
        self, envelope: etree._Element, headers: dict[str, str]
    ) -> tuple[etree._Element, dict[str, str]]:
        """Add the frame to ``envelope`` (in place) and return ``(envelope, headers)``."""
        return self.sign(envelope), headers

    def verify(self, envelope: etree._Element) -> etree._Element:
        """Return ``envelope`` unchanged: ANPR's responses carry no WS-Security signature.

        ANPR's WS-SecurityPolicy is attached to the *input* of each operation only, and its
        answers (including gateway faults) come without a Security header (the
        WSDL's policy covers the input only; italia/anpr-client-example ``policy-X509v3.xml``).
        Their integrity and origin rest on the TLS connection, whose server certificate is
        verified against the configured CA. Nothing is verified here, and nothing is claimed
        to be: to check a *signed* message (a notification, a request received by the
        simulator) use :func:`anpr_client.security.verify.verify_envelope`.
        """
        return envelope

    # -- signing -----------------------------------------------------------------------

    def sign_bytes(self, data: bytes) -> bytes:
        """Parse an unsigned envelope, add the frame, return the bytes to send."""
        return self.sign_to_bytes(parse_xml(data))

    def sign_to_bytes(self, envelope: etree._Element, *, xml_declaration: bool = False) -> bytes:
        """The bytes to send for ``envelope`` signed, which is left as it is.

        An envelope holding only its Body (what the client and zeep build) is written as text
        around the canonical parts, with no tree parsed or serialised; any other shape goes
        through :meth:`sign`. ``xml_declaration`` prefixes lxml's UTF-8 declaration.
        """
        return self._to_bytes(envelope, xml_declaration=xml_declaration, assertion=True)

    def _to_bytes(
        self, envelope: etree._Element, *, xml_declaration: bool, assertion: bool
    ) -> bytes:
        """:meth:`sign_to_bytes`; ``assertion`` as for :meth:`_sign`."""
        declaration = _DECLARATION if xml_declaration else b""
        soap = _ENVELOPES.get(envelope.tag)
        body = envelope[0] if len(envelope) == 1 else None
        if (
            soap is None
            or body is None
            or body.tag != soap[1]
            or envelope.getparent() is not None
            or envelope.attrib
            or (envelope.text or "").strip()
            or body.tail
            or not envelope.prefix
            # A Body with attributes (an Id among them), or whose content uses a ``wsu``
            # prefix, is rebuilt through lxml: the tree path.
            or body.attrib
            or body.prefix == "wsu"
        ):
            return declaration + etree.tostring(
                self._sign(copy.deepcopy(envelope), assertion=assertion)
            )
        canonical = c14n(body)
        if b"xmlns:wsu=" in canonical:
            return declaration + etree.tostring(
                self._sign(copy.deepcopy(envelope), assertion=assertion)
            )
        body_id = _random_id()  # drawn first, as the tree path does
        body_text = _with_id(canonical, body.prefix, soap[0], body_id)
        prefix = envelope.prefix
        parts = self._security_parts(
            [self._reference(f"#id-{body_id}", body_text)],
            soap=soap[0],
            soap_prefix=prefix,
            assertion=assertion,
        )
        parts.insert(0, _envelope_start(prefix, tuple(envelope.nsmap.items())))
        parts.append(f"</{prefix}:Header>")
        return b"".join(
            (declaration, "".join(parts).encode(), body_text, f"</{prefix}:Envelope>".encode())
        )

    def sign(self, envelope: etree._Element) -> etree._Element:
        """Add the frame to ``envelope`` and return it.

        The signed parts (Timestamp, assertion, the Body with its ``wsu:Id``) are written as
        exclusive-c14n text and digested as written; the whole header is then parsed once and
        put in place, with the Body as signed. No tree is built element by element.
        """
        return self._sign(envelope, assertion=True)

    def _sign(self, envelope: etree._Element, *, assertion: bool) -> etree._Element:
        """:meth:`sign`; without the assertion, for ``bench/bench_security.py``'s
        message-signature row only (ANPR refuses a frame without it)."""
        tag = etree.QName(envelope)
        if tag.localname != "Envelope" or tag.namespace not in (SOAP11_NS, SOAP12_NS):
            raise SigningError(f"not a SOAP envelope: {envelope.tag!r}")
        soap = tag.namespace
        header = None
        bodies = []
        for child in envelope:
            if child.tag == f"{{{soap}}}Header":
                if header is not None:
                    raise SigningError("the envelope has more than one Header")
                header = child
            elif child.tag == f"{{{soap}}}Body":
                bodies.append(child)
        if len(bodies) != 1:
            raise SigningError(f"the envelope must have exactly one Body (found {len(bodies)})")
        if header is not None and header.find(f"{{{WSSE_NS}}}Security") is not None:
            raise SigningError("the envelope already has a wsse:Security header")
        body_id, body_text, replace_body = _canonical_body(envelope, bodies[0])
        prefix = envelope.prefix or "soap"
        security = self.security_text(
            [CanonicalReference(f"#{body_id}", body_text)],
            soap=soap,
            soap_prefix=prefix,
            assertion=assertion,
        )
        # One parse for the header and, when it was rewritten with its wsu:Id, the Body.
        holder = f'<{prefix}:Envelope xmlns:{prefix}="{soap}"><{prefix}:Header>'.encode()
        fragment = etree.fromstring(
            holder
            + security.encode("utf-8")
            + f"</{prefix}:Header>".encode()
            + (body_text if replace_body else b"")
            + f"</{prefix}:Envelope>".encode(),
            parser=_PARSER,
        )
        new_header, *new_body = fragment
        if header is None:
            envelope.insert(0, new_header)
        else:
            header.append(new_header[0])
        if new_body:
            envelope.replace(bodies[0], new_body[0])
        return envelope

    def security_text(
        self,
        references: list[CanonicalReference],
        *,
        soap: str = SOAP11_NS,
        soap_prefix: str = "soap",
        assertion: bool = True,
    ) -> str:
        """The ``wsse:Security`` header as XML text: Timestamp, the signed assertion (unless
        ``assertion`` is false), the BinarySecurityToken and the message signature over the
        Timestamp and ``references`` (canonical bytes, e.g. the Body's)."""
        method = self._method
        return "".join(
            self._security_parts(
                [references_text(references, method)],
                soap=soap,
                soap_prefix=soap_prefix,
                assertion=assertion,
            )
        )

    def _security_parts(
        self,
        references: list[str],
        *,
        soap: str,
        soap_prefix: str,
        assertion: bool,
    ) -> list[str]:
        """:meth:`security_text` in pieces, over ``references`` written by
        :func:`~anpr_client.security.xmldsig.reference_text` (each reference, or several joined)."""
        now = self._clock()
        created = format_instant(now)
        expires = format_instant(now + self._expiry)
        timestamp_id, token_id = _random_id(), _random_id()
        timestamp = (
            f'wsu:Id="TS-{timestamp_id}"><wsu:Created>{created}</wsu:Created>'
            f"<wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>"
        )
        method = self._method
        signature = signature_over(
            "".join(
                [
                    self._reference(
                        f"#TS-{timestamp_id}", f"{_TIMESTAMP_C14N}{timestamp}".encode()
                    ),
                    *references,
                ]
            ),
            method,
            self._signer,
            key_info=f"{_TOKEN_REFERENCE[0]}{token_id}{_TOKEN_REFERENCE[1]}",
        )
        token_start, token_end = self._token
        if not assertion:
            saml: tuple[str, ...] = ()
        else:
            saml = signed_assertion_parts(
                self._assertion_parts(),
                signer=self._signer,
                method=method,
                start=created,
                until=expires,
                certificate=self._certificate_b64,
                assertion_id=f"_{_random_id()}",
            )
        return [
            _security_start(soap, soap_prefix, self._must_understand),
            "<wsu:Timestamp ",
            timestamp,
            *saml,
            token_start,
            token_id,
            token_end,
            signature,
            "</wsse:Security>",
        ]

    def _assertion_parts(self) -> AssertionParts:
        """The assertion's constant text for this frame's content, kept with the content it
        was made from (a desk made by :meth:`for_desk` has content of its own)."""
        made = self._made
        if made[0] is not self._content:
            made = self._made = (self._content, assertion_parts(self._content))
        return made[1]

    @staticmethod
    def _body_with_id(
        envelope: etree._Element, body: etree._Element, body_id: str | None = None
    ) -> etree._Element:
        """Give the Body a ``wsu:Id`` with ``xmlns:wsu`` declared on it (as ANPR's PHP and
        Java clients do), rebuilding the element because lxml cannot add a declaration to an
        existing one."""
        if body.get(_WSU_ID):
            return body
        attributes = {str(k): str(v) for k, v in body.attrib.items()}
        replacement = etree.SubElement(envelope, body.tag, attributes, nsmap={"wsu": WSU_NS})
        replacement.set(_WSU_ID, body_id or f"id-{uuid.uuid4().hex}")
        replacement.text = body.text
        replacement.extend(list(body))
        replacement.tail = body.tail
        envelope.replace(body, replacement)
        return replacement


# Our own text only (never received input): no DTD, no entities, no network.
_PARSER: Final = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, collect_ids=False
)


#: Random ids drawn ahead, 16 bytes each, 64 of them per system call, each handed out once:
#: ``popleft`` is atomic, so threads share the pool, and a forked child starts with an empty
#: one (it would otherwise hand out the ids its parent hands out next).
_IDS: collections.deque[str] = collections.deque()
_IDS_PER_DRAW: Final = 64


def _random_id() -> str:
    """32 hex digits of the system's CSPRNG, what ``secrets.token_hex(16)`` returns, taken
    from the pool (a frame needs three or four per request)."""
    try:
        return _IDS.popleft()
    except IndexError:
        drawn = secrets.token_hex(16 * _IDS_PER_DRAW)
        _IDS.extend([drawn[i : i + 32] for i in range(0, len(drawn), 32)])
        return _IDS.popleft()


os.register_at_fork(after_in_child=lambda: _IDS.clear())


@functools.lru_cache(maxsize=16)
def _security_start(soap: str, soap_prefix: str, must_understand: bool) -> str:
    """The ``wsse:Security`` start tag (``mustUnderstand`` as SOAP 1.1 or 1.2 writes it)."""
    flag = ""
    if must_understand:
        value = "1" if soap == SOAP11_NS else "true"
        flag = f' xmlns:{soap_prefix}="{soap}" {soap_prefix}:mustUnderstand="{value}"'
    return f'<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}"{flag}>'


@functools.lru_cache(maxsize=16)
def _envelope_start(prefix: str, namespaces: tuple[tuple[str | None, str], ...]) -> str:
    """The envelope's start tag with the namespaces it declares, then the Header's."""
    declarations = " ".join(
        f'xmlns:{p}="{c14n_attribute(uri)}"' if p else f'xmlns="{c14n_attribute(uri)}"'
        for p, uri in namespaces
    )
    return f"<{prefix}:Envelope {declarations}><{prefix}:Header>"


@functools.lru_cache(maxsize=16)
def _body_start(prefix: str | None, namespace: str) -> bytes:
    """The canonical start tag of a Body without attributes given ``xmlns:wsu`` and
    ``wsu:Id``, up to the id's value: declarations sorted by prefix, then the attribute."""
    declarations = sorted([(prefix or "", namespace), ("wsu", WSU_NS)])
    tag = f"{prefix}:Body" if prefix else "Body"
    written = " ".join(f'xmlns:{p}="{uri}"' if p else f'xmlns="{uri}"' for p, uri in declarations)
    return f'<{tag} {written} wsu:Id="'.encode()


def _with_id(canonical: bytes, prefix: str | None, namespace: str, body_id: str) -> bytes:
    """The canonical bytes of a Body without attributes (``<p:Body xmlns:p="…">``: one
    declaration, no attribute) as they are with ``wsu:Id="id-<body_id>"`` and its
    declaration: what the Body is replaced with, and what is digested."""
    start = canonical.index(b">")
    return b"".join((_body_start(prefix, namespace), f'id-{body_id}"'.encode(), canonical[start:]))


def _canonical_body(envelope: etree._Element, body: etree._Element) -> tuple[str, bytes, bool]:
    """The Body's ``wsu:Id``, its canonical bytes as signed, and whether they must replace it.

    A Body without attributes (what the client and zeep build) gets ``xmlns:wsu`` and
    ``wsu:Id`` written into its canonical start tag, as ANPR's PHP and Java clients declare
    them; those bytes then replace the Body. A Body that already has an Id is signed as it
    is, and one with other attributes, or whose content uses a ``wsu`` prefix, is rebuilt in
    place through lxml first.
    """
    existing = body.get(_WSU_ID)
    if existing:
        return existing, c14n(body), False
    body_hex = _random_id()
    canonical = c14n(body)
    if not body.attrib and b"xmlns:wsu=" not in canonical and body.prefix != "wsu":
        namespace = body.tag[1:].partition("}")[0]  # the envelope's: {ns}Body
        return f"id-{body_hex}", _with_id(canonical, body.prefix, namespace, body_hex), True
    body_id = f"id-{body_hex}"
    rebuilt = WsSecurity._body_with_id(envelope, body, body_id)
    return body_id, c14n(rebuilt), False
