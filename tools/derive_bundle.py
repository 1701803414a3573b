"""Re-derive the interface facts of anpr-client's WSDL/XSD bundle after an ANPR release.

A **maintainer aid**, not part of the package and never run at install or test time. It reads an
official ANPR bundle (the ``src/wsdl/comuni`` folder of italia/anpr, plus the N000 notification
WSDL), walks its schema model from the 55 published operations, keeps only the components those
operations can reach, and writes them out in **our** layout and formatting:

* one folder per service family holding the family's WSDL(s) named by family code (the keys of
  :data:`anpr_client.endpoints.FAMILY_PATHS`), ``messages.xsd`` (the namespace of the request and
  response elements) and ``vocabulary.xsd`` (the family's ``vocabolario`` namespace);
* ``common/`` for the namespaces several families share (``tipoDato``, ``rispostaComune``,
  ``vocabolarioRispostaComune``);
* ``N000-notifiche/payload*.xsd`` for the contents of notifications (``NotificaN010`` …), a
  schema set of its own with the older ``tipoDato`` of the N000 publication;
* components sorted by role (operation elements in portType order, then complex types, then
  simple types, alphabetically); no annotations or comments from the source; two-space
  indentation; default occurrences (``minOccurs="1" maxOccurs="1"``) left out; our own file
  headers; placeholder ``soap:address`` values (the client always sets the endpoint).

What it carries over are interface facts only: target namespaces, component and child names,
order, occurrences, choices, derivations and simple-type facets. The output is **reviewed and laid
out by us** before it is committed (the TestConn files, which have no official XSD, are written by
hand and left alone). The proof that the committed bundle is faithful is not this script but the
conformance tests in ``tests/conformance/``, which compare our bundle with the official one
operation by operation.

Usage (from the repository root)::

    python tools/derive_bundle.py --reference ../shared/anpr --out wsdl
    python tools/derive_bundle.py --reference ../shared/anpr --out wsdl --check   # diff only
"""

from __future__ import annotations

import argparse
import difflib
import heapq
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final

from lxml import etree

XS: Final = "http://www.w3.org/2001/XMLSchema"
WSDL: Final = "http://schemas.xmlsoap.org/wsdl/"
SOAP: Final = "http://schemas.xmlsoap.org/wsdl/soap/"
XMIME: Final = "http://www.w3.org/2005/05/xmlmime"
SOAP_HTTP: Final = "http://schemas.xmlsoap.org/soap/http"
PLACEHOLDER_HOST: Final = "https://anpr.invalid"

ANPR: Final = "http://sogei.it/ANPR/"

#: Official interface versions our files mirror (named in every file header).
VERSION_COMUNI: Final = "release v9.0.3 (italia/anpr, src/wsdl/comuni, 2024-11-28)"
VERSION_N000: Final = "N000 publication of 2019-06-05 (italia/anpr, wsdl/wsdlN000)"

LICENSE_LINES: Final = (
    "License: Apache-2.0. This file is the anpr-client project's own work; the interface",
    "facts it encodes (names, namespaces, structure, value rules) are ANPR's (Ministero",
    "dell'Interno, developed by Sogei).",
)


@dataclass(frozen=True)
class Family:
    """One folder of our bundle: a service family and the official WSDLs it mirrors."""

    folder: str
    title: str
    wsdls: tuple[tuple[str, str], ...]  # (official WSDL path relative to the reference, our code)
    version: str = VERSION_COMUNI


FAMILIES: Final = (
    Family("1000-iscrizione", "registrations", (("wsdl/1000serviziIscrizione.wsdl", "1000"),)),
    Family(
        "2000-cancellazione", "cancellations", (("wsdl/2000serviziCancellazione.wsdl", "2000"),)
    ),
    Family(
        "3000-consultazione", "consultations", (("wsdl/3000serviziConsultazione.wsdl", "3000"),)
    ),
    Family("4000-estrazione", "extractions", (("wsdl/4000serviziEstrazione.wsdl", "4000"),)),
    Family("5000-mutazione", "changes", (("wsdl/5000serviziMutazione.wsdl", "5000"),)),
    Family(
        "6001-certificazione", "certificates", (("wsdl/6001servizioCertificazione.wsdl", "6001"),)
    ),
    Family(
        "7001-scarico-tabelle",
        "reference tables",
        (("wsdl/7001servizioScaricoTabelle.wsdl", "7001"),),
    ),
    Family("A000-aire", "AIRE (Italians abroad)", (("wsdl/A000serviziAire.wsdl", "A000"),)),
    Family("CIE-carta-identita", "electronic identity card", (("wsdl/serviziCIE0.wsdl", "CIE"),)),
    Family("CONSOLATI-consolati", "consulates", (("wsdl/serviziCONSOLATI.wsdl", "CONSOLATI"),)),
    Family(
        "E000-enti",
        "services for other bodies (E001-E004)",
        (
            ("wsdl/E001ScaricoTabelle.wsdl", "E001"),
            ("wsdl/E002Consultazione.wsdl", "E002"),
            ("wsdl/E003Estrazione.wsdl", "E003"),
            ("wsdl/E004DownloadFile.wsdl", "E004"),
        ),
    ),
    Family("P000-cittadino", "citizen requests", (("wsdl/P000ServiziCittadino.wsdl", "P000"),)),
    Family("S001-subentro", "takeover (subentro)", (("wsdl/S001subentro.wsdl", "S001"),)),
    Family(
        "N000-notifiche",
        "notifications pushed by ANPR to the Comune",
        (("wsdl-notifiche/N000serviziNotifiche.wsdl", "N000"),),
        VERSION_N000,
    ),
)

#: Namespaces shared by several families: file under ``common/`` and prefix.
SHARED: Final = {
    ANPR + "tipoDato": ("common/tipo-dato.xsd", "td", "shared data types"),
    ANPR + "rispostaComune": ("common/risposta-comune.xsd", "rc", "the Risposta_Comune answer"),
    ANPR + "vocabolarioRispostaComune": (
        "common/vocabolario-risposta-comune.xsd",
        "vrc",
        "types of the Risposta_Comune answer",
    ),
}

QNAME_ATTRS: Final = ("type", "ref", "base")
ATTR_ORDER: Final = ("name", "ref", "type", "base", "value", "minOccurs", "maxOccurs")
KEPT_XS_TAGS: Final = frozenset(
    {
        "element",
        "complexType",
        "simpleType",
        "sequence",
        "choice",
        "complexContent",
        "simpleContent",
        "extension",
        "restriction",
        "length",
        "minLength",
        "maxLength",
        "pattern",
        "enumeration",
        "whiteSpace",
    }
)
DROPPED_XS_TAGS: Final = frozenset({"annotation"})


class DeriveError(Exception):
    """The official bundle uses a construct this tool does not know: extend the tool."""


def xs(tag: str) -> str:
    return f"{{{XS}}}{tag}"


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def is_element(node: etree._Element) -> bool:
    """False for comments and processing instructions (their ``tag`` is not a string)."""
    tag: object = node.tag
    return isinstance(tag, str)


# --------------------------------------------------------------------------- reading


@dataclass
class Component:
    space: str  # "element" or "type"
    ns: str
    name: str
    node: etree._Element


@dataclass
class Index:
    """The global components of one official release, by symbol space, namespace and name."""

    components: dict[tuple[str, str, str], Component] = field(default_factory=dict)
    loaded: set[Path] = field(default_factory=set)

    def load_schema(self, schema: etree._Element, base: Path) -> None:
        ns = schema.get("targetNamespace", "")
        for child in schema:
            if not is_element(child):
                continue
            tag = local(child.tag)
            if tag == "import" or tag == "include":
                location = child.get("schemaLocation")
                if location is None:
                    raise DeriveError(f"import without schemaLocation in {base}")
                self.load_file(base.parent / location)
            elif tag in ("element", "complexType", "simpleType"):
                space = "element" if tag == "element" else "type"
                key = (space, ns, child.get("name", ""))
                if key in self.components:
                    raise DeriveError(f"{key} defined twice (second time in {base})")
                self.components[key] = Component(space, ns, key[2], child)
            elif tag != "annotation":
                raise DeriveError(f"unsupported top-level xs:{tag} in {base}")

    def load_file(self, path: Path) -> None:
        path = path.resolve()
        if path in self.loaded:
            return
        self.loaded.add(path)
        if not path.exists():
            raise DeriveError(f"missing schema {path}")
        self.load_schema(etree.parse(str(path)).getroot(), path)

    def get(self, space: str, ns: str, name: str) -> Component:
        try:
            return self.components[(space, ns, name)]
        except KeyError:
            raise DeriveError(f"unresolved {space} {{{ns}}}{name}") from None


def resolve_qname(node: etree._Element, value: str) -> tuple[str, str]:
    prefix, _, name = value.rpartition(":")
    ns = node.nsmap.get(prefix or None)
    if ns is None:
        if prefix:
            raise DeriveError(f"unbound prefix in {value!r}")
        ns = ""
    return ns, name


def references(node: etree._Element) -> Iterator[tuple[str, str, str]]:
    """(space, ns, name) of every global component ``node`` refers to, builtins excluded."""
    for sub in node.iter():
        if not is_element(sub):
            continue
        for attr in QNAME_ATTRS:
            value = sub.get(attr)
            if value is None:
                continue
            ns, name = resolve_qname(sub, value)
            if ns != XS:
                yield ("element" if attr == "ref" else "type", ns, name)


@dataclass(frozen=True)
class Operation:
    name: str
    request: tuple[str, str]
    response: tuple[str, str]


@dataclass
class ServiceFacts:
    """The WSDL-level facts of one official WSDL."""

    code: str
    target_ns: str
    service: str
    port: str
    binding: str
    port_type: str
    operations: list[Operation]
    message_parts: dict[str, tuple[str, tuple[str, str]]]  # message -> (part, element)
    op_messages: dict[str, tuple[str, str]]  # operation -> (input message, output message)


def read_wsdl(path: Path, code: str, index: Index) -> ServiceFacts:
    root = etree.parse(str(path)).getroot()
    ns = {"w": WSDL, "s": SOAP, "x": XS}
    target = root.get("targetNamespace", "")
    for schema in root.iterfind("w:types/x:schema", ns):
        index.load_schema(schema, path)

    def one(xpath: str) -> etree._Element:
        found = root.findall(xpath, ns)
        if len(found) != 1:
            raise DeriveError(f"{path.name}: expected one {xpath}, found {len(found)}")
        return found[0]

    service = one("w:service")
    port = one("w:service/w:port")
    binding = one("w:binding")
    port_type = one("w:portType")
    style = one("w:binding/s:binding")
    if style.get("style") != "document" or style.get("transport") != SOAP_HTTP:
        raise DeriveError(f"{path.name}: not SOAP 1.1 document style over HTTP")
    parts: dict[str, tuple[str, tuple[str, str]]] = {}
    for message in root.iterfind("w:message", ns):
        (part,) = message.iterfind("w:part", ns)
        parts[message.get("name", "")] = (
            part.get("name", ""),
            resolve_qname(part, part.get("element", "")),
        )
    operations = []
    op_messages = {}
    for op in port_type.iterfind("w:operation", ns):
        name = op.get("name", "")
        inp = resolve_qname(op, one_child(op, "input").get("message", ""))[1]
        out = resolve_qname(op, one_child(op, "output").get("message", ""))[1]
        op_messages[name] = (inp, out)
        operations.append(Operation(name, parts[inp][1], parts[out][1]))
    for bop in binding.iterfind("w:operation", ns):
        soap_op = bop.find("s:operation", ns)
        if soap_op is None or soap_op.get("soapAction") != "":
            raise DeriveError(f"{path.name}: {bop.get('name')} has a soapAction")
        for body in bop.iterfind("*/s:body", ns):
            if body.get("use") != "literal":
                raise DeriveError(f"{path.name}: {bop.get('name')} is not literal")
    return ServiceFacts(
        code=code,
        target_ns=target,
        service=service.get("name", ""),
        port=port.get("name", ""),
        binding=binding.get("name", ""),
        port_type=port_type.get("name", ""),
        operations=operations,
        message_parts=parts,
        op_messages=op_messages,
    )


def one_child(node: etree._Element, name: str) -> etree._Element:
    found = node.find(f"{{{WSDL}}}{name}")
    if found is None:
        raise DeriveError(f"operation {node.get('name')} has no {name}")
    return found


# --------------------------------------------------------------------------- planning


@dataclass
class OutFile:
    """One schema file of our bundle: a namespace and the components kept in it."""

    path: str  # relative to the bundle root, POSIX
    ns: str
    description: str
    version: str
    keys: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Plan:
    index: Index
    family: Family
    services: list[ServiceFacts]
    files: dict[str, OutFile]  # by namespace


def reachable(index: Index, roots: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    seen: dict[tuple[str, str, str], None] = {}
    todo = list(roots)
    while todo:
        key = todo.pop(0)
        if key in seen:
            continue
        seen[key] = None
        todo.extend(references(index.get(*key).node))
    return list(seen)


def plan_family(reference: Path, family: Family, shared: dict[str, OutFile]) -> Plan:
    index = Index()
    services = [read_wsdl(reference / rel, code, index) for rel, code in family.wsdls]
    roots = [
        ("element", *qname)
        for service in services
        for op in service.operations
        for qname in (op.request, op.response)
    ]
    message_nss = {key[1] for key in roots}
    if len(message_nss) != 1:
        raise DeriveError(f"{family.folder}: operation elements in several namespaces")
    files: dict[str, OutFile] = {}
    for key in reachable(index, roots):
        ns = key[1]
        if ns in SHARED:
            path, _, description = SHARED[ns]
            out = shared.setdefault(ns, OutFile(path, ns, description, family.version))
            if out.version != family.version:
                raise DeriveError(f"{ns} is shared by families of different releases")
        else:
            if not ns.startswith(ANPR) and not ns.startswith("http://www.sogei.it/ANPR/"):
                raise DeriveError(f"unexpected namespace {ns}")
            if ns in message_nss:
                name, description = "messages.xsd", f"requests and responses of {family.title}"
            else:
                name, description = "vocabulary.xsd", f"types of {family.title}"
            out = files.setdefault(ns, OutFile(f"{family.folder}/{name}", ns, description, ""))
            out.version = family.version
            if [o for o in files.values() if o.path == out.path and o is not out]:
                raise DeriveError(f"{family.folder}: two namespaces for {name}")
        if key not in out.keys:
            out.keys.append(key)
    return Plan(index, family, services, files)


#: The contents of N000 notifications (the plaintext of ``contenuto``): their own schema set,
#: published beside the N000 WSDL and never imported by it. It uses an older version of the
#: ``tipoDato`` namespace, so that namespace gets a file of its own here, loaded only with
#: the notification contents (never in the same schema set as ``common/tipo-dato.xsd``).
PAYLOAD: Final = Family("N000-notifiche", "notification contents", (), VERSION_N000)
PAYLOAD_SOURCE: Final = "wsdl-notifiche/mappaturaNotificheBase64/N000notificheComuni.xsd"
PAYLOAD_FILES: Final = {
    ANPR + "N000notificheComuni": ("payload.xsd", "the contents of N000 notifications"),
    ANPR + "vocabolarioN000Comuni": (
        "payload-vocabulary.xsd",
        "types of the contents of N000 notifications",
    ),
    ANPR + "tipoDato": (
        "payload-tipo-dato.xsd",
        "the data types of the contents of N000 notifications (the older tipoDato of the N000 "
        "publication; never load it with common/tipo-dato.xsd)",
    ),
}


def plan_payload(reference: Path) -> Plan:
    index = Index()
    index.load_file(reference / PAYLOAD_SOURCE)
    root_ns = ANPR + "N000notificheComuni"
    roots = sorted(k for k in index.components if k[0] == "element" and k[1] == root_ns)
    files: dict[str, OutFile] = {}
    for key in reachable(index, roots):
        if key[1] not in PAYLOAD_FILES:
            raise DeriveError(f"unexpected namespace {key[1]} in the notification contents")
        name, description = PAYLOAD_FILES[key[1]]
        out = files.setdefault(
            key[1], OutFile(f"{PAYLOAD.folder}/{name}", key[1], description, PAYLOAD.version)
        )
        out.keys.append(key)
    return Plan(index, PAYLOAD, [], files)


# --------------------------------------------------------------------------- writing


class Prefixes:
    """Our prefix for each namespace of one output file."""

    def __init__(self, own: str, files: dict[str, OutFile]) -> None:
        self.own = own
        self.used: dict[str, str] = {}
        self.files = files

    def prefix(self, ns: str) -> str:
        if ns == XS:
            return "xs"
        if ns == self.own:
            return "tns"
        if ns in SHARED:
            p = SHARED[ns][1]
        elif ns == XMIME:
            p = "xmime"
        elif self.files[ns].path.endswith("vocabulary.xsd"):
            p = "voc"
        else:
            p = "msg"
        self.used[ns] = p
        return p


def escape_attr(value: str) -> str:
    out = []
    for ch in value:
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == '"':
            out.append("&quot;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == " " or (ch.isprintable() and not ch.isspace()):
            out.append(ch)
        else:
            out.append(f"&#x{ord(ch):X};")
    return "".join(out)


def xsd_children(node: etree._Element) -> list[etree._Element]:
    kids = []
    for child in node:
        if not is_element(child):
            continue  # comments and processing instructions are not interface facts
        if child.tag.startswith(f"{{{XS}}}"):
            tag = local(child.tag)
            if tag in DROPPED_XS_TAGS:
                continue
            if tag not in KEPT_XS_TAGS:
                raise DeriveError(f"unsupported xs:{tag}")
            kids.append(child)
        else:
            raise DeriveError(f"unexpected element {child.tag}")
    if (node.text or "").strip():
        raise DeriveError(f"text content in xs:{local(node.tag)}")
    return kids


def emit(node: etree._Element, prefixes: Prefixes, depth: int, lines: list[str]) -> None:
    tag = local(node.tag)
    attrs: list[tuple[str, str]] = []
    for raw_name, raw_value in node.attrib.items():
        name, value = str(raw_name), str(raw_value)
        if name.startswith("{"):
            ns, _, lname = name[1:].partition("}")
            attrs.append((f"{prefixes.prefix(ns)}:{lname}", value))
            continue
        if name in QNAME_ATTRS:
            ns, lname = resolve_qname(node, value)
            value = f"{prefixes.prefix(ns)}:{lname}"
        elif name in ("minOccurs", "maxOccurs"):
            if value == "1":
                continue
        elif name not in ATTR_ORDER:
            raise DeriveError(f"unsupported attribute {name} on xs:{tag}")
        attrs.append((name, value))
    attrs.sort(key=lambda a: ATTR_ORDER.index(a[0]) if a[0] in ATTR_ORDER else len(ATTR_ORDER))
    text = "".join(f' {name}="{escape_attr(value)}"' for name, value in attrs)
    pad = "  " * depth
    kids = xsd_children(node)
    if not kids:
        lines.append(f"{pad}<xs:{tag}{text}/>")
        return
    lines.append(f"{pad}<xs:{tag}{text}>")
    for kid in kids:
        emit(kid, prefixes, depth + 1, lines)
    lines.append(f"{pad}</xs:{tag}>")


def header(lines: list[str], what: str, version: str, extra: tuple[str, ...] = ()) -> None:
    lines.append('<?xml version="1.0" encoding="UTF-8"?>')
    lines.append("<!--")
    lines.append(f"  anpr-client's own {what}.")
    lines.append("  Mirrors the official ANPR interface,")
    lines.append(f"  {version}:")
    lines.append("  same namespaces, names, structure and value rules;")
    lines.append("  layout and wording are ours.")
    for line in extra:
        lines.append(f"  {line}")
    for line in LICENSE_LINES:
        lines.append(f"  {line}")
    lines.append("-->")


def relpath(from_file: str, to_file: str) -> str:
    return os.path.relpath(to_file, str(PurePosixPath(from_file).parent)).replace(os.sep, "/")


def order_keys(plan: Plan, out: OutFile) -> tuple[list[list[tuple[str, str, str]]], list[str]]:
    """Elements grouped by operation (shared ones first), then complex and simple types."""
    elements = [k for k in out.keys if k[0] == "element"]
    groups: list[list[tuple[str, str, str]]] = []
    titles: list[str] = []
    operations = [op for service in plan.services for op in service.operations]
    owners: dict[tuple[str, str, str], list[str]] = {}
    for op in operations:
        for key in reachable(plan.index, [("element", *op.request), ("element", *op.response)]):
            owners.setdefault(key, []).append(op.name)
    shared = sorted(
        (k for k in elements if len(owners.get(k, ())) != 1), key=lambda k: k[2].lower()
    )
    if shared:
        groups.append(shared)
        contents = plan.family is PAYLOAD
        titles.append("Elements" if contents else "Elements used by several operations")
    for op in operations:
        group = [k for k in (("element", *op.request), ("element", *op.response)) if k in elements]
        group += sorted(
            (k for k in elements if owners[k] == [op.name] and k not in group),
            key=lambda k: k[2].lower(),
        )
        if group:
            groups.append(group)
            titles.append(f"Operation {op.request[1].removeprefix('Richiesta')} ({op.name})")
    for kind, title in (("simpleType", "Simple types"), ("complexType", "Complex types")):
        types = [k for k in out.keys if k[0] == "type" and local(plan_node(plan, k).tag) == kind]
        if types:
            groups.append(dependency_order(plan, types))
            titles.append(f"{title}, each after the types it uses, otherwise alphabetically")
    placed = [k for group in groups for k in group]
    if sorted(placed) != sorted(out.keys):
        raise DeriveError(f"{out.path}: components placed {len(placed)} != kept {len(out.keys)}")
    return groups, titles


def dependency_order(plan: Plan, keys: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """``keys`` sorted so that each type follows the types it uses (alphabetical otherwise).

    Besides reading top-down, this order matters to zeep: it resolves a schema's types in
    document order, and a reference to a type not yet resolved builds that type again.
    """
    wanted = set(keys)
    deps = {k: {d for d in references(plan_node(plan, k)) if d in wanted and d != k} for k in keys}
    ready = [(k[2].lower(), k) for k in keys if not deps[k]]
    heapq.heapify(ready)
    ordered: list[tuple[str, str, str]] = []
    while ready:
        _, key = heapq.heappop(ready)
        ordered.append(key)
        for other, needs in deps.items():
            if key in needs:
                needs.discard(key)
                if not needs:
                    heapq.heappush(ready, (other[2].lower(), other))
    if len(ordered) != len(keys):
        raise DeriveError("circular type definitions")
    return ordered


def plan_node(plan: Plan, key: tuple[str, str, str]) -> etree._Element:
    return plan.index.get(*key).node


def write_schema(plan: Plan, out: OutFile, all_files: dict[str, OutFile]) -> str:
    prefixes = Prefixes(out.ns, all_files)
    body: list[str] = []
    groups, titles = order_keys(plan, out)
    for group, title in zip(groups, titles, strict=True):
        body.append("")
        body.append(f"  <!-- {title} -->")
        for key in group:
            emit(plan_node(plan, key), prefixes, 1, body)
    imports = sorted(ns for ns in prefixes.used if ns not in (XS, XMIME, out.ns))
    lines: list[str] = []
    roots = "notification contents" if plan.family is PAYLOAD else "operations"
    extra = (f"Only the components reachable from the published {roots} are kept.",)
    what = f"schema of {out.description},\n  namespace {out.ns}"
    header(lines, what, out.version, extra)
    decls = [f'xmlns:xs="{XS}"', f'xmlns:tns="{out.ns}"']
    decls += [f'xmlns:{prefixes.used[ns]}="{ns}"' for ns in sorted(prefixes.used, key=str)]
    lines.append("<xs:schema")
    for decl in decls:
        lines.append(f"    {decl}")
    lines.append(f'    targetNamespace="{out.ns}"')
    lines.append('    elementFormDefault="unqualified">')
    if imports:
        lines.append("")
    for ns in imports:
        location = relpath(out.path, all_files[ns].path)
        lines.append(f'  <xs:import namespace="{ns}" schemaLocation="{location}"/>')
    lines.extend(body)
    lines.append("</xs:schema>")
    return "\n".join(lines) + "\n"


def write_wsdl(service: ServiceFacts, family: Family, messages: OutFile) -> str:
    from anpr_client.endpoints import FAMILY_PATHS

    lines: list[str] = []
    header(
        lines,
        f"WSDL for ANPR service {service.code} ({family.title})",
        family.version,
        (
            "SOAP 1.1, document/literal, empty soapAction. The address is a placeholder:",
            "the client always sets the endpoint of the chosen environment.",
        ),
    )
    lines += [
        "<wsdl:definitions",
        f'    xmlns:wsdl="{WSDL}"',
        f'    xmlns:soap="{SOAP}"',
        f'    xmlns:xs="{XS}"',
        f'    xmlns:tns="{service.target_ns}"',
        f'    xmlns:msg="{messages.ns}"',
        f'    targetNamespace="{service.target_ns}">',
        "",
        "  <wsdl:types>",
    ]
    location = PurePosixPath(messages.path).name
    if messages.ns == service.target_ns:
        # N000 declares its elements in the WSDL's own namespace: a schema cannot import its
        # own namespace, so the wrapper schema has no target namespace.
        lines.append("    <xs:schema>")
    else:
        lines.append(f'    <xs:schema targetNamespace="{service.target_ns}">')
    lines += [
        f'      <xs:import namespace="{messages.ns}" schemaLocation="{location}"/>',
        "    </xs:schema>",
        "  </wsdl:types>",
        "",
    ]
    for op in service.operations:
        for message in service.op_messages[op.name]:
            part, (_, element) = service.message_parts[message]
            lines += [
                f'  <wsdl:message name="{message}">',
                f'    <wsdl:part name="{part}" element="msg:{element}"/>',
                "  </wsdl:message>",
            ]
    lines += ["", f'  <wsdl:portType name="{service.port_type}">']
    for op in service.operations:
        inp, out = service.op_messages[op.name]
        lines += [
            f'    <wsdl:operation name="{op.name}">',
            f'      <wsdl:input message="tns:{inp}"/>',
            f'      <wsdl:output message="tns:{out}"/>',
            "    </wsdl:operation>",
        ]
    lines += [
        "  </wsdl:portType>",
        "",
        f'  <wsdl:binding name="{service.binding}" type="tns:{service.port_type}">',
        f'    <soap:binding style="document" transport="{SOAP_HTTP}"/>',
    ]
    for op in service.operations:
        lines += [
            f'    <wsdl:operation name="{op.name}">',
            '      <soap:operation soapAction=""/>',
            '      <wsdl:input><soap:body use="literal"/></wsdl:input>',
            '      <wsdl:output><soap:body use="literal"/></wsdl:output>',
            "    </wsdl:operation>",
        ]
    address = PLACEHOLDER_HOST + FAMILY_PATHS[service.code]
    lines += [
        "  </wsdl:binding>",
        "",
        f'  <wsdl:service name="{service.service}">',
        f'    <wsdl:port name="{service.port}" binding="tns:{service.binding}">',
        f'      <soap:address location="{address}"/>',
        "    </wsdl:port>",
        "  </wsdl:service>",
        "</wsdl:definitions>",
    ]
    return "\n".join(lines) + "\n"


def derive(reference: Path) -> dict[str, str]:
    """Our bundle's derived files (path relative to the bundle root -> text)."""
    shared: dict[str, OutFile] = {}
    plans = [plan_family(reference, family, shared) for family in FAMILIES]
    texts: dict[str, str] = {}
    for plan in plans:
        all_files = {**shared, **plan.files}
        for out in plan.files.values():
            texts[out.path] = write_schema(plan, out, all_files)
        messages = next(o for o in plan.files.values() if o.path.endswith("messages.xsd"))
        for service in plan.services:
            texts[f"{plan.family.folder}/{service.code}.wsdl"] = write_wsdl(
                service, plan.family, messages
            )
    for out in shared.values():
        # A shared namespace is reached by several families; their indexes hold the same
        # official definitions (they load the same files), so their union writes it.
        owner = Plan(Index(), FAMILIES[0], [], {})
        for plan in plans:
            owner.index.components.update(
                {k: v for k, v in plan.index.components.items() if k in out.keys}
            )
        texts[out.path] = write_schema(owner, out, {**shared})
    payload = plan_payload(reference)
    for out in payload.files.values():
        texts[out.path] = write_schema(payload, out, payload.files)
    return dict(sorted(texts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reference", type=Path, required=True, help="the official data folder")
    parser.add_argument("--out", type=Path, required=True, help="our bundle root (wsdl/)")
    parser.add_argument("--check", action="store_true", help="only report differences")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    texts = derive(args.reference)
    changed = 0
    for rel, text in texts.items():
        target = args.out / rel
        old = target.read_text(encoding="utf-8") if target.exists() else ""
        if old == text:
            continue
        changed += 1
        if args.check:
            sys.stdout.writelines(
                difflib.unified_diff(
                    old.splitlines(keepends=True), text.splitlines(keepends=True), rel, rel
                )
            )
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=target.parent, delete=False
            ) as tmp:
                tmp.write(text)
            os.replace(tmp.name, target)
            print(f"wrote {rel}")
    print(f"{len(texts)} derived files, {changed} {'differ' if args.check else 'changed'}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
