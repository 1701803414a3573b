"""The WSDL/XSD bundle: which operations exist, their messages, and the schema models.

A bundle is a directory of WSDL and XSD files. anpr-client ships its own (``wsdl/`` in the
source tree, ``anpr_client/_bundle`` in the wheel), faithful to ANPR's published interface; a user
may point ``wsdl_dir`` at an official bundle instead, since ANPR publishes new versions often
(9.2 added the ``anncsu`` section to the answers of 1002, 5001, 5005 and 5014, italia/anpr#5011,
#5047). A user bundle is then used for everything: building and validating requests, and
reading answers (its new elements are decoded into the value, not set aside as unknown).
Service families missing from a user bundle (e.g. ``TestConn``, which ANPR does not publish) are
taken from ours; a directory holding no ANPR WSDL at all is a
:class:`~anpr_client.errors.ConfigurationError` naming ``wsdl_dir``, never a silent switch to
ours.

Everything here is loaded lazily and **once per process**: the operation table comes from a quick
scan of the WSDL files; a family's element models (:mod:`anpr_client.soap.xsdmodel`, used to order
and decode elements) and its compiled ``lxml`` schema (used to validate requests) are built on
first use and shared by every client. Thread-safe.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lxml import etree

from ..errors.exceptions import ConfigurationError, UnknownOperationError
from .xsdmodel import Node, SchemaSet

if TYPE_CHECKING:
    from zeep.wsdl import Document

__all__ = [
    "Bundle",
    "Family",
    "Operation",
    "UnknownOperationError",  # defined in the exception tree; importable from here too
    "default_bundle_dir",
    "get_bundle",
]

_WSDL = "http://schemas.xmlsoap.org/wsdl/"
_XSD = "http://www.w3.org/2001/XMLSchema"
_SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
_FAMILY_NS = re.compile(r"/ANPR/(?P<family>[A-Za-z0-9]+)AnprService$")
_REQUEST = re.compile(r"^Richiesta(?P<code>.+)$")


@dataclass(frozen=True)
class Operation:
    """One ANPR operation, e.g. ``3002`` → ``interrogazioneCittadino_famiglia_convivenza``."""

    code: str
    """ANPR's code: ``3002``, ``5005``, ``CIE2``, ``C001``, ``N000``; ``TestConn`` for the
    connectivity test."""
    family: str
    """Service family, the key of :data:`anpr_client.endpoints.FAMILY_PATHS` (``3000``…)."""
    name: str
    """The WSDL operation name."""
    request: etree.QName
    response: etree.QName
    wsdl: Path

    @property
    def header_code(self) -> str:
        """The value for ``testataRichiesta/operazioneRichiesta`` (4 characters)."""
        return "CONN" if self.code == "TestConn" else self.code


@dataclass(frozen=True)
class Family:
    """A service family: one WSDL, one endpoint path, several operations."""

    code: str
    wsdl: Path
    namespace: str
    operations: tuple[Operation, ...]
    schema_imports: tuple[tuple[str, str], ...] = field(repr=False)
    """(namespace, absolute schema location) pairs the WSDL's types import."""
    inline_schemas: tuple[bytes, ...] = field(repr=False, default=())


def default_bundle_dir() -> Path:
    """Our bundle: inside the installed wheel, or ``wsdl/`` of a source checkout."""
    packaged = resources.files("anpr_client") / "_bundle"
    if packaged.is_dir():
        return Path(str(packaged))
    source = Path(__file__).resolve().parents[3] / "wsdl"
    if source.is_dir():
        return source
    raise ConfigurationError(  # pragma: no cover - a broken installation
        "anpr-client's WSDL bundle is missing from the installation", setting="wsdl_dir"
    )


def _qname(prefixed: str, nsmap: Mapping[str | None, str]) -> etree.QName:
    prefix, _, local = prefixed.rpartition(":")
    ns = nsmap.get(prefix or None)
    if ns is None:
        raise ConfigurationError(f"undeclared prefix in {prefixed!r}", setting="wsdl_dir")
    return etree.QName(ns, local)


def _scan_wsdl(path: Path) -> Family | None:
    """Read the operation table of one WSDL file (fast: no schema processing)."""
    try:
        root = etree.parse(str(path), etree.XMLParser(no_network=True)).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise ConfigurationError(
            f"cannot read the WSDL {str(path)!r}: {exc}", setting="wsdl_dir", rule="bundle"
        ) from None
    if root.tag != f"{{{_WSDL}}}definitions":
        return None
    tns = root.get("targetNamespace", "")
    m = _FAMILY_NS.search(tns)
    if not m:
        return None
    family = m.group("family")
    messages: dict[str, etree.QName] = {}
    for msg in root.iterfind(f"{{{_WSDL}}}message"):
        part = msg.find(f"{{{_WSDL}}}part")
        if part is not None and part.get("element"):
            messages[msg.get("name", "")] = _qname(part.get("element", ""), part.nsmap)
    operations = []
    for port_type in root.iterfind(f"{{{_WSDL}}}portType"):
        for op in port_type.iterfind(f"{{{_WSDL}}}operation"):
            inp = op.find(f"{{{_WSDL}}}input")
            out = op.find(f"{{{_WSDL}}}output")
            if inp is None or out is None:
                continue
            req = messages[_qname(inp.get("message", ""), inp.nsmap).localname]
            resp = messages[_qname(out.get("message", ""), out.nsmap).localname]
            m = _REQUEST.match(req.localname)
            code = m.group("code") if m else req.localname
            if code == "Connessione":
                code = "TestConn"
            operations.append(Operation(code, family, op.get("name", ""), req, resp, path))
    imports: list[tuple[str, str]] = []
    inline: list[bytes] = []
    for schema in root.iterfind(f"{{{_WSDL}}}types/{{{_XSD}}}schema"):
        has_content = False
        for child in schema:
            if child.tag == f"{{{_XSD}}}import" and child.get("schemaLocation"):
                loc = (path.parent / child.get("schemaLocation", "")).resolve()
                imports.append((child.get("namespace", ""), loc.as_uri()))
            elif isinstance(child.tag, str) and child.tag != f"{{{_XSD}}}annotation":
                has_content = True
        if has_content:
            inline.append(_standalone_schema(schema, path))
    return Family(family, path, tns, tuple(operations), tuple(imports), tuple(inline))


def _standalone_schema(schema: etree._Element, wsdl: Path) -> bytes:
    """An inline WSDL schema as a document of its own, with every in-scope prefix declared."""
    nsmap: Any = schema.nsmap  # may hold the default namespace (None key)
    copy = etree.Element(
        schema.tag, attrib={str(k): str(v) for k, v in schema.attrib.items()}, nsmap=nsmap
    )
    for child in schema:
        copy.append(etree.fromstring(etree.tostring(child)))
    for imp in copy.iterfind(f"{{{_XSD}}}import"):
        if imp.get("schemaLocation"):
            imp.set("schemaLocation", (wsdl.parent / imp.get("schemaLocation", "")).as_uri())
    return etree.tostring(copy)


class _NoNetworkTransport:
    """zeep transport that loads local files only: a bundle never touches the network."""

    def __init__(self) -> None:
        from zeep.transports import Transport

        self._inner = Transport()  # type: ignore[no-untyped-call]

    def load(self, url: str) -> bytes:
        if "://" in url and not url.startswith("file://"):
            raise ConfigurationError(
                f"the bundle refers to a remote document {url!r}; bundles must be self-contained",
                setting="wsdl_dir",
            )
        data: bytes = self._inner.load(url)  # type: ignore[no-untyped-call]
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Bundle:
    """A WSDL/XSD bundle on disk. Use :func:`get_bundle` to share one per process."""

    def __init__(self, root: Path, *, fallback: Bundle | None = None):
        self.root = root
        self._fallback = fallback
        self._lock = threading.RLock()
        self._documents: dict[str, Document] = {}
        self._schemas: dict[str, etree.XMLSchema] = {}
        self._inline_docs: dict[str, bytes] = {}
        self._models = SchemaSet()
        self._modelled: set[str] = set()

    def __repr__(self) -> str:
        return f"Bundle({str(self.root)!r})"

    @cached_property
    def _own_families(self) -> Mapping[str, Family]:
        found: dict[str, Family] = {}
        for path in sorted(self.root.rglob("*.wsdl")):
            fam = _scan_wsdl(path)
            if fam is not None and fam.code not in found:
                found[fam.code] = fam
        return found

    @property
    def own_families(self) -> Mapping[str, Family]:
        """The families this bundle's own files define (without those taken from ours)."""
        return MappingProxyType(self._own_families)

    @cached_property
    def families(self) -> Mapping[str, Family]:
        """Families by code; those missing here come from the fallback bundle (ours)."""
        found = dict(self._own_families)
        if self._fallback is not None:
            for code, fam in self._fallback._own_families.items():
                found.setdefault(code, fam)
        if not found:
            raise ConfigurationError(
                f"no ANPR WSDL found under {str(self.root)!r}", setting="wsdl_dir", rule="bundle"
            )
        return MappingProxyType(found)

    @cached_property
    def operations(self) -> Mapping[str, Operation]:
        table = {op.code: op for fam in self.families.values() for op in fam.operations}
        return MappingProxyType(table)

    def operation(self, code: str) -> Operation:
        """The operation with ANPR code ``code`` (``"3002"``, ``"testconn"`` is accepted too)."""
        op = self.operations.get(code) or self.operations.get(code.upper())
        if op is None and code.lower() == "testconn":
            op = self.operations.get("TestConn")
        if op is None:
            raise UnknownOperationError(
                f"unknown ANPR operation {code!r}; known: {', '.join(sorted(self.operations))}"
            )
        return op

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations.values())

    def _family_of(self, family: str) -> Family:
        try:
            return self.families[family]
        except KeyError:
            raise UnknownOperationError(f"unknown ANPR service family {family!r}") from None

    def document(self, family: str) -> Document:
        """The zeep ``Document`` of a family (parsed once per process).

        Not used on the client's path (see :mod:`anpr_client.soap.xsdmodel`); it serves
        :meth:`anpr_client.client.Client.zeep_service` and anyone who wants zeep's type objects.
        """
        doc = self._documents.get(family)
        if doc is not None:
            return doc
        with self._lock:
            doc = self._documents.get(family)
            if doc is None:
                from zeep.settings import Settings as ZeepSettings
                from zeep.wsdl import Document

                fam = self._family_of(family)
                settings = ZeepSettings(
                    strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True
                )
                from zeep.exceptions import Error as ZeepError
                from zeep.exceptions import ExternalReferenceForbidden

                transport: Any = _NoNetworkTransport()  # zeep's hint says type[Transport]
                try:
                    doc = Document(str(fam.wsdl), transport, settings=settings)
                except ExternalReferenceForbidden as exc:
                    raise ConfigurationError(
                        f"the bundle refers to a remote document {exc.url!r}; bundles must "
                        "be self-contained",
                        setting="wsdl_dir",
                    ) from None
                except (ZeepError, etree.LxmlError, OSError) as exc:
                    raise ConfigurationError(
                        f"cannot load {str(fam.wsdl)!r}: {exc}", setting="wsdl_dir"
                    ) from None
                self._documents[family] = doc
            return doc

    def _model_set(self, family: str) -> SchemaSet:
        if family not in self._modelled:
            with self._lock:
                if family not in self._modelled:
                    fam = self._family_of(family)
                    for _, location in fam.schema_imports:
                        self._models.load(Path(location[len("file://") :]))
                    for i, data in enumerate(fam.inline_schemas):
                        self._models.load_inline(f"{fam.wsdl}#{i}", data, fam.wsdl)
                    self._modelled.add(family)
        return self._models

    def element_model(self, family: str, qname: etree.QName) -> Node:
        """The model (:class:`~anpr_client.soap.xsdmodel.Node`) of a global element of a family."""
        return self._model_set(family).element(qname.namespace or "", qname.localname)

    def request_model(self, operation: Operation) -> Node:
        """The model of an operation's request element."""
        return self.element_model(operation.family, operation.request)

    def response_model(self, operation: Operation) -> Node:
        """The model of an operation's response element."""
        return self.element_model(operation.family, operation.response)

    def schema(self, family: str) -> etree.XMLSchema:
        """The compiled schema of a family's messages (compiled once per process)."""
        schema = self._schemas.get(family)
        if schema is not None:
            return schema
        with self._lock:
            schema = self._schemas.get(family)
            if schema is None:
                fam = self._family_of(family)
                wrapper = etree.Element(f"{{{_XSD}}}schema", nsmap={"xs": _XSD})
                wrapper.set("targetNamespace", "urn:anpr-client:bundle")
                for ns, loc in fam.schema_imports:
                    etree.SubElement(wrapper, f"{{{_XSD}}}import", namespace=ns, schemaLocation=loc)
                for i, data in enumerate(fam.inline_schemas):
                    # Schemas written inside the WSDL are served to lxml under a virtual URL.
                    url = fam.wsdl.with_name(f"{fam.wsdl.name}.inline{i}.xsd").as_uri()
                    self._inline_docs[url] = data
                    ns = etree.fromstring(data).get("targetNamespace", "")
                    etree.SubElement(wrapper, f"{{{_XSD}}}import", namespace=ns, schemaLocation=url)
                parser = etree.XMLParser(no_network=True, resolve_entities=False)
                parser.resolvers.add(_InlineResolver(self._inline_docs))
                doc = etree.fromstring(etree.tostring(wrapper), parser=parser)
                try:
                    schema = etree.XMLSchema(doc)
                except etree.XMLSchemaParseError as exc:
                    raise ConfigurationError(
                        f"the schemas of family {family} in {str(self.root)!r} do not compile: "
                        f"{exc}",
                        setting="wsdl_dir",
                    ) from None
                self._schemas[family] = schema
            return schema


class _InlineResolver(etree.Resolver):
    def __init__(self, docs: Mapping[str, bytes]):
        super().__init__()
        self._docs = docs

    def resolve(  # type: ignore[override]  # lxml-stubs lacks the context argument
        self, system_url: str, public_id: str | None, context: object
    ) -> Any:
        data = self._docs.get(system_url)
        if data is not None:
            return self.resolve_string(data, context, base_url=system_url)
        return None


_bundles: dict[Path, Bundle] = {}
_bundles_lock = threading.Lock()


def get_bundle(wsdl_dir: Path | str | None = None) -> Bundle:
    """The process-wide :class:`Bundle` for ``wsdl_dir`` (``None``: ours)."""
    ours = default_bundle_dir().resolve()
    root = ours if wsdl_dir is None else Path(wsdl_dir).expanduser().resolve()
    with _bundles_lock:
        bundle = _bundles.get(root)
        if bundle is None:
            if not root.is_dir():
                raise ConfigurationError(
                    f"wsdl_dir {str(root)!r} is not a directory",
                    setting="wsdl_dir",
                    rule="a directory with an ANPR WSDL/XSD bundle",
                )
            fallback = None if root == ours else get_bundle_unlocked(ours)
            bundle = Bundle(root, fallback=fallback)
            if fallback is not None and not bundle.own_families:
                raise ConfigurationError(
                    f"wsdl_dir {str(root)!r} holds no ANPR WSDL (a *.wsdl file whose "
                    "targetNamespace ends in /ANPR/<family>AnprService): point it at the "
                    "directory of the official bundle",
                    setting="wsdl_dir",
                    rule="a directory with an ANPR WSDL/XSD bundle",
                )
            _bundles[root] = bundle
        return bundle


def get_bundle_unlocked(root: Path) -> Bundle:
    bundle = _bundles.get(root)
    if bundle is None:
        bundle = _bundles[root] = Bundle(root)
    return bundle
