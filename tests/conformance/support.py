"""Shared helpers of the conformance tests: where the bundles are, their operations, and
independent tools to compare schema models and to turn payloads into XML.

Nothing here uses :mod:`anpr_client.soap.bundle` or the client's codec: the conformance tests judge
our bundle with their own small readers (lxml) and :mod:`xmlschema`'s model.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree
from xmlschema.validators import (
    XsdAtomicBuiltin,
    XsdAtomicRestriction,
    XsdElement,
    XsdGroup,
)

from tests.samples import load_schema

REPO = Path(__file__).resolve().parents[2]
OUR_BUNDLE = REPO / "wsdl"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"


def reference_dir() -> Path:
    """The official ANPR data: ``$ANPR_REFERENCE_DIR``, by default ``<repo>/../shared/anpr``."""
    return Path(os.environ.get("ANPR_REFERENCE_DIR", REPO.parent / "shared" / "anpr"))


def official_wsdls() -> list[Path]:
    """The 16 WSDLs of the v9.0.3 bundle and the N000 WSDL (empty if the data is absent)."""
    ref = reference_dir()
    found = sorted((ref / "wsdl").glob("*.wsdl"))
    n000 = ref / "wsdl-notifiche" / "N000serviziNotifiche.wsdl"
    return [*found, n000] if n000.exists() else found


def our_wsdls() -> list[Path]:
    return sorted(OUR_BUNDLE.rglob("*.wsdl"))


@dataclass(frozen=True)
class Op:
    """One WSDL operation, as read by :func:`wsdl_operations`."""

    wsdl: Path
    name: str
    request: str  # Clark notation {ns}local
    response: str

    @property
    def code(self) -> str:
        return etree.QName(self.request).localname.removeprefix("Richiesta")

    def __str__(self) -> str:
        return f"{self.code}-{self.name}"


def _qname(node: etree._Element, prefixed: str) -> str:
    prefix, _, local = prefixed.rpartition(":")
    return f"{{{node.nsmap[prefix or None]}}}{local}"


@functools.cache
def wsdl_facts(wsdl: Path) -> dict[str, Any]:
    """Everything a WSDL says about the wire, as plain data (names, QNames, bindings)."""
    root = etree.parse(str(wsdl)).getroot()
    ns = {"w": WSDL_NS, "s": SOAP_NS}
    messages = {}
    for message in root.iterfind("w:message", ns):
        parts = [
            (p.get("name"), _qname(p, p.get("element", ""))) for p in message.iterfind("w:part", ns)
        ]
        messages[message.get("name")] = parts
    port_types: dict[Any, list[Any]] = {}
    for port_type in root.iterfind("w:portType", ns):
        ops: list[Any] = []
        for op in port_type.iterfind("w:operation", ns):
            inp = op.find("w:input", ns)
            out = op.find("w:output", ns)
            assert inp is not None
            assert out is not None
            ops.append(
                (
                    op.get("name"),
                    messages[etree.QName(_qname(inp, inp.get("message", ""))).localname],
                    messages[etree.QName(_qname(out, out.get("message", ""))).localname],
                    etree.QName(_qname(inp, inp.get("message", ""))).localname,
                    etree.QName(_qname(out, out.get("message", ""))).localname,
                )
            )
        port_types[port_type.get("name")] = ops
    bindings = {}
    for binding in root.iterfind("w:binding", ns):
        soap_binding = binding.find("s:binding", ns)
        assert soap_binding is not None
        ops = []
        for op in binding.iterfind("w:operation", ns):
            soap_op = op.find("s:operation", ns)
            ops.append(
                (
                    op.get("name"),
                    None if soap_op is None else soap_op.get("soapAction"),
                    None if soap_op is None else soap_op.get("style"),
                    [b.get("use") for b in op.iterfind("w:input/s:body", ns)],
                    [b.get("use") for b in op.iterfind("w:output/s:body", ns)],
                )
            )
        bindings[binding.get("name")] = {
            "type": etree.QName(_qname(binding, binding.get("type", ""))).localname,
            "style": soap_binding.get("style"),
            "transport": soap_binding.get("transport"),
            "operations": ops,
        }
    services = {}
    for service in root.iterfind("w:service", ns):
        ports = {}
        for port in service.iterfind("w:port", ns):
            address = port.find("s:address", ns)
            ports[port.get("name")] = {
                "binding": etree.QName(_qname(port, port.get("binding", ""))).localname,
                "address": None if address is None else address.get("location"),
            }
        services[service.get("name")] = ports
    return {
        "targetNamespace": root.get("targetNamespace"),
        "portTypes": port_types,
        "bindings": bindings,
        "services": services,
    }


def wsdl_operations(wsdl: Path) -> list[Op]:
    ops = []
    for port_ops in wsdl_facts(wsdl)["portTypes"].values():
        for name, inp, out, _, _ in port_ops:
            ops.append(Op(wsdl, name, inp[0][1], out[0][1]))
    return ops


def official_operations() -> list[Op]:
    return [op for wsdl in official_wsdls() for op in wsdl_operations(wsdl)]


def operation_params() -> list[Any]:
    """``pytest.param`` per official operation, or one skipped param without the reference."""
    ops = official_operations()
    if not ops:
        reason = f"official ANPR reference data not found in {reference_dir()} (ANPR_REFERENCE_DIR)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-reference")]
    return [pytest.param(op, id=str(op)) for op in ops]


def require_reference() -> Path:
    """The reference folder, or skip the calling test with the reason."""
    ref = reference_dir()
    if not (ref / "wsdl").is_dir():
        pytest.skip(f"official ANPR reference data not found in {ref} (ANPR_REFERENCE_DIR)")
    return ref


@functools.cache
def our_operations_by_request() -> dict[str, Op]:
    return {op.request: op for wsdl in our_wsdls() for op in wsdl_operations(wsdl)}


def our_counterpart(official: Op) -> Op:
    return our_operations_by_request()[official.request]


# --------------------------------------------------------------------------- lxml schemas


def _message_schema_root(wsdl: Path) -> etree._Element:
    """A schema document that imports (or inlines) everything a WSDL's types section holds."""
    root = etree.parse(str(wsdl)).getroot()
    wrapper = etree.Element(f"{{{XSD_NS}}}schema", nsmap={"xs": XSD_NS})
    wrapper.set("targetNamespace", "urn:anpr-client:conformance")
    for schema in root.iterfind(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema"):
        for child in schema:
            if child.tag == f"{{{XSD_NS}}}import":
                location = (wsdl.parent / child.get("schemaLocation", "")).resolve().as_uri()
                etree.SubElement(
                    wrapper,
                    f"{{{XSD_NS}}}import",
                    namespace=child.get("namespace", ""),
                    schemaLocation=location,
                )
    return wrapper


class _Inline(etree.Resolver):
    def __init__(self, docs: dict[str, bytes]) -> None:
        super().__init__()
        self.docs = docs

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]
        data = self.docs.get(system_url)
        return None if data is None else self.resolve_string(data, context, base_url=system_url)


@functools.cache
def lxml_schema(wsdl: Path) -> etree.XMLSchema:
    """The messages of ``wsdl`` compiled by libxml2, offline. Inline schemas are supported."""
    root = etree.parse(str(wsdl)).getroot()
    wrapper = _message_schema_root(wsdl)
    docs: dict[str, bytes] = {}
    for i, schema in enumerate(root.iterfind(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")):
        content = [c for c in schema if c.tag != f"{{{XSD_NS}}}import" and isinstance(c.tag, str)]
        if not content:
            continue
        nsmap: Any = schema.nsmap
        copy = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=nsmap)
        for child in content:
            copy.append(etree.fromstring(etree.tostring(child)))
        url = wsdl.with_name(f"{wsdl.name}.inline{i}.xsd").as_uri()  # virtual: served below
        docs[url] = etree.tostring(copy)
        etree.SubElement(
            wrapper,
            f"{{{XSD_NS}}}import",
            namespace=schema.get("targetNamespace", ""),
            schemaLocation=url,
        )
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_Inline(docs))
    return etree.XMLSchema(etree.fromstring(etree.tostring(wrapper), parser))


def model(wsdl: Path) -> xmlschema.XMLSchemaBase:
    return load_schema(wsdl)


def global_element(wsdl: Path, qname: str) -> XsdElement:
    found: XsdElement = model(wsdl).maps.elements[qname]
    return found


# --------------------------------------------------------------------------- structure


class Mismatch(AssertionError):
    """Our model differs from the official one at ``path``."""


def _occurs(particle: Any) -> tuple[int, int | None]:
    return (particle.min_occurs, particle.max_occurs)


def _facets(step: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, facet in step.facets.items():
        local = etree.QName(name).localname
        if local == "pattern":
            out[local] = list(facet.regexps)
        elif local == "enumeration":
            out[local] = list(facet.enumeration)
        elif facet is not None:
            out[local] = facet.value
    return out


@dataclass
class Comparer:
    """Walks two content models side by side; raises :class:`Mismatch` at the first difference."""

    seen: set[tuple[int, int]]

    def element(self, ours: XsdElement, theirs: XsdElement, path: str) -> None:
        self.same(path, "element name", ours.name, theirs.name)
        self.same(path, "reference to a global element", ours.ref is None, theirs.ref is None)
        self.same(path, "occurrences (min, max)", _occurs(ours), _occurs(theirs))
        self.same(path, "form", ours.qualified, theirs.qualified)
        self.same(path, "nillable", ours.nillable, theirs.nillable)
        self.same(path, "default/fixed", (ours.default, ours.fixed), (theirs.default, theirs.fixed))
        self.type(ours.type, theirs.type, path)

    def type(self, ours: Any, theirs: Any, path: str) -> None:
        self.same(path, "type name", ours.name, theirs.name)
        key = (id(ours), id(theirs))
        if key in self.seen:
            return
        self.seen.add(key)
        self.same(path, "simple type or complex type", ours.is_simple(), theirs.is_simple())
        if ours.is_simple():
            self.simple(ours, theirs, path)
            return
        self.same(path, "derivation", ours.derivation, theirs.derivation)
        ours_base = getattr(ours.base_type, "name", None)
        theirs_base = getattr(theirs.base_type, "name", None)
        self.same(path, "base type", ours_base, theirs_base)
        self.same(path, "mixed content", ours.mixed, theirs.mixed)
        self.same(path, "attributes", sorted(ours.attributes), sorted(theirs.attributes))
        self.same(path, "simple content", ours.has_simple_content(), theirs.has_simple_content())
        if ours.has_simple_content():
            self.simple(ours.content, theirs.content, path)
            return
        self.same(
            path,
            "content kind",
            isinstance(ours.content, XsdGroup),
            isinstance(theirs.content, XsdGroup),
        )
        if isinstance(ours.content, XsdGroup):
            self.group(ours.content, theirs.content, path)

    def group(self, ours: XsdGroup, theirs: XsdGroup, path: str) -> None:
        self.same(path, "model group", ours.model, theirs.model)
        self.same(path, f"{ours.model} occurrences (min, max)", _occurs(ours), _occurs(theirs))
        ours_items, theirs_items = list(ours), list(theirs)
        self.same(
            path,
            f"{ours.model} particles",
            [_label(p) for p in ours_items],
            [_label(p) for p in theirs_items],
        )
        mine: Any
        official: Any
        for mine, official in zip(ours_items, theirs_items, strict=True):
            if isinstance(mine, XsdGroup):
                self.group(mine, official, f"{path}/({mine.model})")
            else:
                self.element(mine, official, f"{path}/{mine.local_name}")

    def simple(self, ours: Any, theirs: Any, path: str) -> None:
        step = 0
        while True:
            where = f"{path} [type {ours.name or 'anonymous'}, derivation step {step}]"
            self.same(where, "type name", ours.name, theirs.name)
            self.same(where, "kind of simple type", type(ours).__name__, type(theirs).__name__)
            if isinstance(ours, XsdAtomicBuiltin) or not isinstance(ours, XsdAtomicRestriction):
                self.same(where, "builtin", ours.name, theirs.name)
                if not isinstance(ours, XsdAtomicBuiltin):
                    raise Mismatch(f"{where}: unexpected simple type {ours!r}")
                return
            self.same(where, "facets", _facets(ours), _facets(theirs))
            self.same(where, "whiteSpace", ours.white_space, theirs.white_space)
            ours, theirs = ours.base_type, theirs.base_type
            step += 1

    @staticmethod
    def same(path: str, what: str, ours: object, theirs: object) -> None:
        if ours != theirs:
            raise Mismatch(f"{path}: {what} differs: ours {ours!r}, official {theirs!r}")


def _label(particle: Any) -> str:
    if isinstance(particle, XsdGroup):
        return f"({particle.model})"
    return str(particle.name)


def compare_elements(ours: XsdElement, theirs: XsdElement) -> None:
    Comparer(set()).element(ours, theirs, ours.local_name)


# --------------------------------------------------------------------------- payload -> XML


@dataclass(frozen=True)
class Leaf:
    """A simple-content element of a rendered sample, with its type."""

    node: etree._Element
    xsd_type: Any


def render(element: XsdElement, payload: Any) -> tuple[etree._Element, list[Leaf]]:
    """The XML of ``payload`` as ``element`` (an independent, model-driven serializer)."""
    leaves: list[Leaf] = []
    root = etree.Element(element.name, nsmap={"m": etree.QName(element.name).namespace})
    _fill(root, element, payload, leaves)
    return root, leaves


def _fill(node: etree._Element, element: XsdElement, value: Any, leaves: list[Leaf]) -> None:
    xsd_type: Any = element.type
    if xsd_type.is_simple() or xsd_type.has_simple_content():
        assert isinstance(value, str), f"{element.local_name}: expected a string, got {value!r}"
        node.text = value
        leaves.append(Leaf(node, xsd_type if xsd_type.is_simple() else xsd_type.content))
        return
    assert isinstance(value, dict), f"{element.local_name}: expected a dict, got {value!r}"
    unknown = set(value) - {e.local_name for e in _elements(xsd_type.content)}
    assert not unknown, f"{element.local_name}: keys outside the model: {unknown}"
    done: set[str] = set()
    for child in _elements(xsd_type.content):
        if child.local_name in done or child.local_name not in value:
            continue
        done.add(child.local_name)
        items = value[child.local_name]
        for item in items if isinstance(items, list) else [items]:
            _fill(etree.SubElement(node, child.name), child, item, leaves)


def _elements(group: Any) -> Iterator[XsdElement]:
    if not isinstance(group, XsdGroup):
        return
    for item in group:
        if isinstance(item, XsdGroup):
            yield from _elements(item)
        elif isinstance(item, XsdElement):
            yield item
        else:
            raise AssertionError(f"unexpected particle {item!r}")
