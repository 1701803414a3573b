"""The frame we send: shape, independent verification (xmlsec1, python-xmlsec), SAML schema,
IdPostazioneFirmato, zeep integration, settings."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import importlib.util
import subprocess
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import xmlschema
from asn1crypto import cms as acms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from anpr_client.errors.exceptions import ConfigurationError, SigningError
from anpr_client.security.algorithms import DigestMethod, SignatureMethod
from anpr_client.security.cms import verify_signed_data
from anpr_client.security.frame import BASE64_BINARY, X509V3, WsSecurity
from anpr_client.security.policy import DEFAULT_POLICY
from anpr_client.security.verify import verify_envelope
from anpr_client.settings import (
    KeySourceConfig,
    OperatorSettings,
    SecuritySettings,
    Settings,
    WorkstationSettings,
)
from anpr_client.simulator.pki import Pki, PkiFiles
from tests.security.support import (
    DS,
    ENVELOPE_3002,
    NS_3000,
    OPERATOR_CF,
    SAML,
    SOAP,
    WSSE,
    WSU,
    attribute_values,
    body_of,
    make_frame,
    require,
    require_program,
    security_of,
    signed_3002,
    trust_for,
)

SAML_XSD = Path("/usr/share/xml/opensaml/saml-schema-assertion-2.0.xsd")
XSD_DIR = Path(xmlschema.__file__).parent / "schemas"
MESSAGE_SIGNATURE_XPATH = (
    "/*[local-name()='Envelope']/*[local-name()='Header']/*[local-name()='Security']"
    "/*[local-name()='Signature']"
)
ASSERTION_SIGNATURE_XPATH = "//*[local-name()='Assertion']/*[local-name()='Signature']"


def test_security_header_has_the_parts_in_anpr_order(pki: Pki) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    header = envelope.find(f"{{{SOAP}}}Header")
    assert header is not None
    assert envelope.index(header) == 0
    security = security_of(envelope)
    assert security.get(f"{{{SOAP}}}mustUnderstand") == "1"
    assert [etree.QName(c).localname for c in security] == [
        "Timestamp",
        "Assertion",
        "BinarySecurityToken",
        "Signature",
    ]
    bst = security[2]
    assert bst.get("ValueType") == X509V3
    assert bst.get("EncodingType") == BASE64_BINARY
    cert = x509.load_der_x509_certificate(base64.b64decode(bst.text or ""))
    assert cert == pki.comune.certificate


def test_timestamp_is_utc_and_lives_300_seconds(pki: Pki) -> None:
    fixed = dt.datetime(2025, 3, 1, 8, 22, 49, 985000, tzinfo=dt.UTC)
    frame = make_frame(pki, clock=lambda: fixed)
    envelope = frame.sign(etree.fromstring(ENVELOPE_3002))
    timestamp = security_of(envelope)[0]
    assert timestamp.findtext(f"{{{WSU}}}Created") == "2025-03-01T08:22:49.985Z"
    assert timestamp.findtext(f"{{{WSU}}}Expires") == "2025-03-01T08:27:49.985Z"
    short = make_frame(pki, clock=lambda: fixed, ttl=60)
    expires = security_of(short.sign(etree.fromstring(ENVELOPE_3002)))[0][1].text
    assert expires == "2025-03-01T08:23:49.985Z"


def test_message_signature_covers_exactly_timestamp_and_body(pki: Pki) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    security = security_of(envelope)
    body = body_of(envelope)
    assert body.nsmap.get("wsu") == WSU, "xmlns:wsu must be in scope on soap:Body"
    signature = security[3]
    uris = [r.get("URI") for r in signature.iter(f"{{{DS}}}Reference")]
    assert uris == [f"#{security[0].get(f'{{{WSU}}}Id')}", f"#{body.get(f'{{{WSU}}}Id')}"]
    methods = [m.get("Algorithm") for m in signature.iter(f"{{{DS}}}SignatureMethod")]
    digests = {m.get("Algorithm") for m in signature.iter(f"{{{DS}}}DigestMethod")}
    assert methods == [SignatureMethod.RSA_SHA256]
    assert digests == {DigestMethod.SHA256}
    transforms = [t.get("Algorithm") for t in signature.iter(f"{{{DS}}}Transform")]
    assert transforms == ["http://www.w3.org/2001/10/xml-exc-c14n#"] * 2
    reference = signature.find(
        f"{{{DS}}}KeyInfo/{{{WSSE}}}SecurityTokenReference/{{{WSSE}}}Reference"
    )
    assert reference is not None
    assert reference.get("URI") == f"#{security[2].get(f'{{{WSU}}}Id')}"


def test_rsa_sha1_only_when_asked(pki: Pki) -> None:
    envelope = etree.fromstring(signed_3002(pki, algorithm="rsa-sha1"))
    methods = {m.get("Algorithm") for m in envelope.iter(f"{{{DS}}}SignatureMethod")}
    digests = {m.get("Algorithm") for m in envelope.iter(f"{{{DS}}}DigestMethod")}
    assert methods == {SignatureMethod.RSA_SHA1}
    assert digests == {DigestMethod.SHA1}


def test_assertion_content(pki: Pki) -> None:
    envelope = etree.fromstring(signed_3002(pki))
    assertion = security_of(envelope)[1]
    assert assertion.get("Version") == "2.0"
    assert (assertion.get("ID") or "").startswith("_")
    assert assertion.findtext(f"{{{SAML}}}Issuer") == "XS"
    assert etree.QName(assertion[1]).localname == "Signature"
    name_id = assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
    assert name_id is not None
    assert name_id.text == OPERATOR_CF
    assert name_id.get("Format") == "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    confirmation = assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation")
    assert confirmation is not None
    assert confirmation.get("Method") == "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    locality = assertion.find(f"{{{SAML}}}AuthnStatement/{{{SAML}}}SubjectLocality")
    assert locality is not None
    assert locality.get("Address") == "192.0.2.10"
    values = attribute_values(envelope)
    assert values["IdSede"] == "058091"
    assert values["IdPostazione"] == "058091-PC-0001"
    assert values["IdApplicazione"] == "12345"
    for value in assertion.iter(f"{{{SAML}}}AttributeValue"):
        assert value.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "xsd:string"
        assert value.nsmap.get("xsd") == "http://www.w3.org/2001/XMLSchema"


class _LocalSchemas(etree.Resolver):
    """Resolves the W3C schemas the SAML schema imports to local copies (no network)."""

    FILES: ClassVar[dict[str, Path]] = {
        "xmldsig-core-schema.xsd": XSD_DIR / "DSIG" / "xmldsig-core-schema.xsd",
        "xenc-schema.xsd": XSD_DIR / "XENC" / "xenc-schema.xsd",
    }

    def resolve(self, system_url, public_id, context):  # type: ignore[no-untyped-def,override]
        local = self.FILES.get((system_url or "").rsplit("/", 1)[-1])
        if local is None:
            return None
        return self.resolve_filename(str(local), context)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def saml_schema() -> etree.XMLSchema:
    require(SAML_XSD.exists(), "opensaml-schemas (saml-schema-assertion-2.0.xsd) is not installed")
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas())
    return etree.XMLSchema(etree.parse(str(SAML_XSD), parser))


def test_assertion_validates_against_the_oasis_schema(
    pki: Pki, saml_schema: etree.XMLSchema
) -> None:
    assertion = copy.deepcopy(security_of(etree.fromstring(signed_3002(pki)))[1])
    assert saml_schema.validate(assertion), saml_schema.error_log


def test_schema_check_catches_an_unbound_xsd_prefix(pki: Pki, saml_schema: etree.XMLSchema) -> None:
    # The known real-world failure: xsi:type="xsd:string" without xmlns:xsd in scope.
    text = etree.tostring(copy.deepcopy(security_of(etree.fromstring(signed_3002(pki)))[1]))
    broken = text.replace(b' xmlns:xsd="http://www.w3.org/2001/XMLSchema"', b"", 1)
    assert not saml_schema.validate(etree.fromstring(broken))


def test_id_postazione_firmato_is_cms_signed_data_of_the_workstation(pki: Pki) -> None:
    der = base64.b64decode(
        attribute_values(etree.fromstring(signed_3002(pki)))["IdPostazioneFirmato"]
    )
    info = acms.ContentInfo.load(der)
    assert info["content_type"].native == "signed_data"
    signed = info["content"]
    assert signed["encap_content_info"]["content"].native == b"058091-PC-0001"
    assert signed["digest_algorithms"][0]["algorithm"].native == "sha256"
    assert signed["signer_infos"][0]["digest_algorithm"]["algorithm"].native == "sha256"
    included = signed["certificates"][0].chosen.dump()
    assert included == pki.workstation.certificate.public_bytes(serialization.Encoding.DER)
    verified = verify_signed_data(der, trust=trust_for(pki))
    assert verified.signer == pki.workstation.certificate
    assert verified.content == b"058091-PC-0001"


def test_openssl_verifies_id_postazione_firmato(
    pki: Pki, pki_files: PkiFiles, tmp_path: Path
) -> None:
    openssl = require_program("openssl")
    der = base64.b64decode(
        attribute_values(etree.fromstring(signed_3002(pki)))["IdPostazioneFirmato"]
    )
    (tmp_path / "cms.der").write_bytes(der)
    result = subprocess.run(
        [
            openssl,
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "cms.der"),
            "-CAfile",
            str(pki_files.ca_pem),
            "-purpose",
            "any",
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"058091-PC-0001"


def test_id_postazione_firmato_is_computed_once(pki: Pki) -> None:
    frame = make_frame(pki)
    first = attribute_values(etree.fromstring(frame.sign_bytes(ENVELOPE_3002)))
    second = attribute_values(etree.fromstring(frame.sign_bytes(ENVELOPE_3002)))
    assert (
        first["IdPostazioneFirmato"] == second["IdPostazioneFirmato"] == frame.id_postazione_firmato
    )


# ------------------------------------------------------------------ independent engines


def _xmlsec1(args: list[str], document: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [require_program("xmlsec1"), "--verify", *args, str(document)],
        capture_output=True,
        check=False,
    )


def _message_args(cert_pem: Path) -> list[str]:
    return [
        "--id-attr:Id",
        f"{WSU}:Timestamp",
        "--id-attr:Id",
        f"{SOAP}:Body",
        "--node-xpath",
        MESSAGE_SIGNATURE_XPATH,
        "--pubkey-cert-pem",
        str(cert_pem),
    ]


def _assertion_args(ca_pem: Path) -> list[str]:
    return [
        "--id-attr:ID",
        f"{SAML}:Assertion",
        "--node-xpath",
        ASSERTION_SIGNATURE_XPATH,
        "--trusted-pem",
        str(ca_pem),
    ]


def _signed_through(pki: Pki, path: str, algorithm: str = "rsa-sha256") -> bytes:
    """The 3002 request signed as text (``sign_bytes``), into the lxml tree (``sign``), or
    as text around an envelope with a Header and a Body attribute (the tree fallback)."""
    frame = make_frame(pki, algorithm=algorithm)
    if path == "text":
        return frame.sign_bytes(ENVELOPE_3002)
    if path == "tree":
        return etree.tostring(frame.sign(etree.fromstring(ENVELOPE_3002)))
    source = ENVELOPE_3002.replace(
        b"<soap:Body>", b'<soap:Header><x:Other xmlns:x="urn:x"/></soap:Header><soap:Body a="1">'
    )
    return frame.sign_to_bytes(etree.fromstring(source))


@pytest.mark.parametrize("path", ["text", "tree", "fallback"])
@pytest.mark.parametrize("algorithm", ["rsa-sha256", "rsa-sha1"])
def test_xmlsec1_command_verifies_both_signatures(
    pki: Pki, pki_files: PkiFiles, tmp_path: Path, algorithm: str, path: str
) -> None:
    document = tmp_path / "signed.xml"
    document.write_bytes(_signed_through(pki, path, algorithm))
    message = _xmlsec1(_message_args(pki_files.comune_cert_pem), document)
    assert message.returncode == 0, message.stderr
    assert b"SignedInfo References (ok/all): 2/2" in message.stderr + message.stdout
    assertion = _xmlsec1(_assertion_args(pki_files.ca_pem), document)
    assert assertion.returncode == 0, assertion.stderr
    assert b"SignedInfo References (ok/all): 1/1" in assertion.stderr + assertion.stdout


def test_xmlsec1_command_rejects_a_tampered_request(
    pki: Pki, pki_files: PkiFiles, tmp_path: Path
) -> None:
    document = tmp_path / "tampered.xml"
    document.write_bytes(
        signed_3002(pki).replace(
            b"RSSMRA80A01H501U</codiceFiscale>", b"VRDGPP80A01H501K</codiceFiscale>"
        )
    )
    assert _xmlsec1(_message_args(pki_files.comune_cert_pem), document).returncode != 0
    assert _xmlsec1(_assertion_args(pki_files.ca_pem), document).returncode == 0


def _python_xmlsec_verify(
    signature: etree._Element,
    cert_pem: bytes,
    ids: Sequence[tuple[etree._Element, str, str | None]],
) -> None:
    import xmlsec

    ctx = xmlsec.SignatureContext()
    for node, name, namespace in ids:
        ctx.register_id(node, name, namespace)
    ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    ctx.verify(signature)


@pytest.mark.parametrize("path", ["text", "tree"])
@pytest.mark.parametrize("algorithm", ["rsa-sha256", "rsa-sha1"])
def test_python_xmlsec_verifies_both_signatures(pki: Pki, algorithm: str, path: str) -> None:
    require(importlib.util.find_spec("xmlsec") is not None, "python-xmlsec is not installed")
    import xmlsec

    envelope = etree.fromstring(_signed_through(pki, path, algorithm))
    security = security_of(envelope)
    cert_pem = pki.comune.certificate.public_bytes(serialization.Encoding.PEM)
    message_ids = [(security[0], "Id", WSU), (body_of(envelope), "Id", WSU)]
    _python_xmlsec_verify(security[3], cert_pem, message_ids)
    _python_xmlsec_verify(security[1][1], cert_pem, [(security[1], "ID", None)])
    # and a changed byte is caught
    body_of(envelope)[0][1][0].text = "VRDGPP80A01H501K"
    with pytest.raises(xmlsec.Error):
        _python_xmlsec_verify(security[3], cert_pem, message_ids)


# ------------------------------------------------------------------ the frame as canonical text


def _without(element: etree._Element, child: etree._Element) -> etree._Element:
    element = copy.deepcopy(element)
    for found in element:
        if found.tag == child.tag:
            element.remove(found)
            break
    return element


@pytest.mark.parametrize("path", ["text", "tree"])
def test_the_signed_parts_are_sent_in_the_canonical_form_they_were_digested_in(
    pki: Pki, path: str
) -> None:
    # The frame digests text it wrote as exclusive c14n; what a receiver canonicalises from
    # the wire must be those very bytes, with awkward characters in every free-text value.
    frame = make_frame(pki, issuer='X&S <"1">\r', subject_locality='a"b&c<d>\te\nf')
    signed = (
        frame.sign_bytes(ENVELOPE_3002)
        if path == "text"
        else etree.tostring(frame.sign(etree.fromstring(ENVELOPE_3002)))
    )
    envelope = etree.fromstring(signed)
    security = security_of(envelope)
    timestamp, assertion, _, signature = security
    xsd = ["xsd"]
    canonical = {
        "timestamp": etree.tostring(timestamp, method="c14n", exclusive=True),
        "body": etree.tostring(body_of(envelope), method="c14n", exclusive=True),
        "assertion": etree.tostring(
            _without(assertion, assertion[1]),
            method="c14n",
            exclusive=True,
            inclusive_ns_prefixes=xsd,
        ),
    }
    digests = [d.text for d in signature.iter(f"{{{DS}}}DigestValue")]
    assertion_digest = assertion[1].findtext(
        f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestValue"
    )

    def b64sha(data: bytes) -> str:
        return base64.b64encode(hashlib.sha256(data).digest()).decode()

    assert digests == [b64sha(canonical["timestamp"]), b64sha(canonical["body"])]
    assert assertion_digest == b64sha(canonical["assertion"])
    assert assertion.findtext(f"{{{SAML}}}Issuer") == 'X&S <"1">\r'  # kept as &#xD;
    locality = assertion.find(f"{{{SAML}}}AuthnStatement/{{{SAML}}}SubjectLocality")
    assert locality is not None
    assert locality.get("Address") == 'a"b&c<d>\te\nf'
    verify_envelope(signed, trust=trust_for(pki))


def test_text_and_tree_paths_send_the_same_canonical_frame(pki: Pki) -> None:
    fixed = dt.datetime.now(dt.UTC).replace(microsecond=985000)
    frame = make_frame(pki, clock=lambda: fixed)
    text = etree.fromstring(frame.sign_bytes(ENVELOPE_3002))
    tree = frame.sign(etree.fromstring(ENVELOPE_3002))
    for one in (text, tree):
        assert [etree.QName(c).localname for c in one] == ["Header", "Body"]
        created = security_of(one)[0].findtext(f"{{{WSU}}}Created")
        assert created == fixed.strftime("%Y-%m-%dT%H:%M:%S.985Z")
        assert body_of(one).nsmap.get("wsu") == WSU
        assert [etree.QName(c).localname for c in security_of(one)] == [
            "Timestamp",
            "Assertion",
            "BinarySecurityToken",
            "Signature",
        ]
        verify_envelope(etree.tostring(one), trust=trust_for(pki))


def test_a_value_xml_cannot_carry_is_refused_at_construction(pki: Pki) -> None:
    with pytest.raises(ConfigurationError) as err:
        make_frame(pki, issuer="X\x01S")
    assert err.value.setting == "issuer"
    assert "XML" in str(err.value)


def test_sign_to_bytes_leaves_the_given_envelope_alone(pki: Pki) -> None:
    envelope = etree.fromstring(ENVELOPE_3002)
    before = etree.tostring(envelope)
    frame = make_frame(pki)
    declared = frame.sign_to_bytes(envelope, xml_declaration=True)
    assert declared.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<soap:Envelope")
    assert etree.tostring(envelope) == before
    verify_envelope(declared, trust=trust_for(pki))


# ------------------------------------------------------------------ envelope handling


def test_existing_header_is_reused_and_body_attributes_kept(pki: Pki) -> None:
    source = ENVELOPE_3002.replace(
        b"<soap:Body>", b'<soap:Header><x:Other xmlns:x="urn:x"/></soap:Header><soap:Body a="1">'
    )
    envelope = make_frame(pki).sign(etree.fromstring(source))
    header = envelope[0]
    assert [etree.QName(c).localname for c in header] == ["Other", "Security"]
    assert body_of(envelope).get("a") == "1"
    verify_envelope(etree.tostring(envelope), trust=trust_for(pki))


def test_zeep_style_prefixes_are_signed_correctly(pki: Pki) -> None:
    source = (
        b'<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
        b'<soap-env:Body><ns0:Richiesta3002 xmlns:ns0="' + NS_3000.encode() + b'">'
        b"<testataRichiesta/></ns0:Richiesta3002></soap-env:Body></soap-env:Envelope>"
    )
    signed = make_frame(pki).sign_bytes(source)
    assert signed.startswith(b"<soap-env:Envelope")
    verified = verify_envelope(signed, trust=trust_for(pki))
    assert verified.payload is not None
    assert verified.payload.tag == f"{{{NS_3000}}}Richiesta3002"


def test_refuses_to_sign_twice_or_a_non_envelope(pki: Pki) -> None:
    frame = make_frame(pki)
    signed = frame.sign(etree.fromstring(ENVELOPE_3002))
    with pytest.raises(SigningError, match="already has a wsse:Security"):
        frame.sign(signed)
    with pytest.raises(SigningError, match="not a SOAP envelope"):
        frame.sign(etree.fromstring(b"<a/>"))
    two_bodies = ENVELOPE_3002.replace(b"</soap:Envelope>", b"<soap:Body/></soap:Envelope>")
    with pytest.raises(SigningError, match="exactly one Body"):
        frame.sign(etree.fromstring(two_bodies))


def test_verify_hook_passes_responses_through(pki: Pki) -> None:
    frame = make_frame(pki)
    response = etree.fromstring(
        b'<soap:Envelope xmlns:soap="' + SOAP.encode() + b'"><soap:Body/></soap:Envelope>'
    )
    assert frame.verify(response) is response


def test_constructor_validates_its_inputs(pki: Pki) -> None:
    with pytest.raises(ConfigurationError) as err:
        make_frame(pki, operator="RSSMRA80A01H501X")
    assert err.value.setting == "operator.codice_fiscale"
    with pytest.raises(ConfigurationError):
        make_frame(pki, workstation_id="058091-XX-0001")
    with pytest.raises(ConfigurationError):
        make_frame(pki, id_sede="58091")
    with pytest.raises(ConfigurationError):
        make_frame(pki, algorithm="rsa-md5")
    generic = make_frame(pki, operator="COMUNETEST019025", validate_operator=False)
    assert generic.operator == "COMUNETEST019025"


def test_repr_names_the_signer_and_no_key_material(pki: Pki) -> None:
    frame = make_frame(pki)
    text = repr(frame)
    assert "058091-CO-9999" in text
    assert "058091-PC-0001" in text
    assert "PRIVATE" not in text
    assert frame.id_postazione_firmato not in text


# ------------------------------------------------------------------ zeep


_NS3000 = "http://sogei.it/ANPR/3000consultazione"
WSDL = f"""<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
  xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{_NS3000}" targetNamespace="{_NS3000}">
 <types><xs:schema targetNamespace="{_NS3000}" elementFormDefault="unqualified">
  <xs:element name="Richiesta3002"><xs:complexType><xs:sequence>
   <xs:element name="testataRichiesta"><xs:complexType><xs:sequence>
    <xs:element name="idOperazioneComune" type="xs:string"/>
   </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="Risposta3002"><xs:complexType><xs:sequence>
   <xs:element name="esito" type="xs:string"/></xs:sequence></xs:complexType></xs:element>
 </xs:schema></types>
 <message name="req"><part name="p" element="tns:Richiesta3002"/></message>
 <message name="res"><part name="p" element="tns:Risposta3002"/></message>
 <portType name="PT">
  <operation name="ricerca"><input message="tns:req"/><output message="tns:res"/></operation>
 </portType>
 <binding name="B" type="tns:PT">
  <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
  <operation name="ricerca"><soap:operation soapAction=""/>
   <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output>
  </operation>
 </binding>
 <service name="S"><port name="P" binding="tns:B">
  <soap:address location="http://127.0.0.1:1/"/></port></service>
</definitions>"""


@pytest.fixture
def loopback_service(pki: Pki) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that verifies each request and answers unsigned."""
    seen: list[str] = []
    trust = trust_for(pki)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers["Content-Length"]))
            verified = verify_envelope(data, trust=trust)
            seen.append(verified.operator or "")
            answer = (
                b'<soap:Envelope xmlns:soap="' + SOAP.encode() + b'"><soap:Body>'
                b'<ns:Risposta3002 xmlns:ns="' + NS_3000.encode() + b'"><esito>ok</esito>'
                b"</ns:Risposta3002></soap:Body></soap:Envelope>"
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_stock_zeep_client_sends_a_verifiable_frame(
    pki: Pki, tmp_path: Path, loopback_service: tuple[str, list[str]]
) -> None:
    import zeep

    url, seen = loopback_service
    (tmp_path / "s.wsdl").write_text(WSDL)
    frame = make_frame(pki)
    client = zeep.Client(str(tmp_path / "s.wsdl"), wsse=frame)  # type: ignore[no-untyped-call]
    message = client.create_message(  # type: ignore[no-untyped-call]
        client.service, "ricerca", testataRichiesta={"idOperazioneComune": "7"}
    )
    verified = verify_envelope(etree.tostring(message), trust=trust_for(pki))
    assert verified.operator == OPERATOR_CF
    assert verified.payload is not None
    assert verified.payload.findtext("testataRichiesta/idOperazioneComune") == "7"
    service = client.create_service(f"{{{_NS3000}}}B", url)  # type: ignore[no-untyped-call]
    assert service.ricerca(testataRichiesta={"idOperazioneComune": "8"}) == "ok"
    assert seen == [OPERATOR_CF]


# ------------------------------------------------------------------ settings


def test_from_settings_loads_keys_and_signs(
    pki: Pki, pki_files: PkiFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANPR_TEST_CO_PASSWORD", "file-password")
    settings = Settings(
        codice_istat="058091",
        comune_key=KeySourceConfig(
            "pkcs12", path=pki_files.comune_p12, password_env="ANPR_TEST_CO_PASSWORD"
        ),
        workstation=WorkstationSettings(
            id="058091-PC-0001",
            key=KeySourceConfig(
                "pem",
                pem_key=pki_files.workstation_key_pem,
                pem_cert=pki_files.workstation_cert_pem,
            ),
        ),
        operator=OperatorSettings(codice_fiscale="rssmra80a01h501u"),
        security=SecuritySettings(
            signature=SignatureMethod.RSA_SHA1,
            application_id="777",
            issuer="ACME",
            subject_locality="10.0.0.1",
        ),
    )
    frame = WsSecurity.from_settings(settings)
    assert frame.algorithm == "rsa-sha1"
    verified = verify_envelope(
        frame.sign_bytes(ENVELOPE_3002), trust=trust_for(pki), policy=DEFAULT_POLICY.allowing_sha1()
    )
    assert verified.operator == OPERATOR_CF
    assert verified.id_applicazione == "777"
    assert verified.assertion is not None
    assert verified.assertion.issuer == "ACME"
    assert verified.assertion.subject_locality == "10.0.0.1"


def test_from_settings_explains_what_is_missing(pki_files: PkiFiles) -> None:
    base = Settings(codice_istat="058091")
    with pytest.raises(ConfigurationError) as err:
        WsSecurity.from_settings(base)
    assert err.value.setting == "comune_key"
    with_key = base.replace(
        comune_key=KeySourceConfig(
            "pem", pem_key=pki_files.comune_key_pem, pem_cert=pki_files.comune_cert_pem
        )
    )
    with pytest.raises(ConfigurationError) as err:
        WsSecurity.from_settings(with_key)
    assert err.value.setting == "workstation"
    with pytest.raises(ConfigurationError) as err:
        WsSecurity.from_settings(
            with_key.replace(workstation=WorkstationSettings(id="058091-PC-0001"))
        )
    assert err.value.setting == "operator"
    no_ws_key = with_key.replace(
        workstation=WorkstationSettings(id="058091-PC-0001"),
        operator=OperatorSettings(codice_fiscale=OPERATOR_CF),
    )
    with pytest.raises(ConfigurationError, match="has no key"):
        WsSecurity.from_settings(no_ws_key)
    # A CO id without its own key: the Comune key signs IdPostazioneFirmato (unattended jobs).
    unattended = no_ws_key.replace(workstation=WorkstationSettings(id="058091-CO-9999"))
    assert WsSecurity.from_settings(unattended).workstation_id == "058091-CO-9999"


def test_from_settings_sends_the_sample_id_applicazione_and_generic_test_operators(
    pki: Pki, pki_files: PkiFiles
) -> None:
    """IdApplicazione not set: the official sample client's 12345, never a value of our own;
    ANPR's generic test users (italia/anpr#374, #2594) go into the NameID in test only."""
    settings = Settings(
        codice_istat="058091",
        comune_key=KeySourceConfig(
            "pem", pem_key=pki_files.comune_key_pem, pem_cert=pki_files.comune_cert_pem
        ),
        workstation=WorkstationSettings(
            id="058091-PC-0001",
            key=KeySourceConfig(
                "pem",
                pem_key=pki_files.workstation_key_pem,
                pem_cert=pki_files.workstation_cert_pem,
            ),
        ),
        operator=OperatorSettings(codice_fiscale="COMUNETEST019025"),
    )
    frame = WsSecurity.from_settings(settings)
    assert frame.operator == "COMUNETEST019025"
    verified = verify_envelope(frame.sign_bytes(ENVELOPE_3002), trust=trust_for(pki))
    assert verified.operator == "COMUNETEST019025"
    assert verified.id_applicazione == "12345"
    with pytest.raises(ConfigurationError) as err:
        settings.replace(environment="produzione")
    assert err.value.setting == "operator.codice_fiscale"
