"""A small, fast model of the XSD subset ANPR's schemas use.

What the codec needs from a schema is little: for each element, its qualified tag, whether it
repeats, whether it is required, its children in schema order, and the builtin type a simple
value derives from. ANPR's schemas use a small subset of XSD to say it — ``element`` (local,
``ref``), ``sequence``/``choice``, named and anonymous ``complexType``/``simpleType``,
``complexContent``/``simpleContent`` extension and restriction, ``import``/``include`` — so this
module reads that subset directly with lxml. Every schema file is parsed once per process and
shared by all families (``tipoDato.xsd`` is imported by all of them), and element models are
built lazily, only for the parts of a message that are used. Validation itself is lxml's
compiled XSD (:meth:`anpr_client.soap.bundle.Bundle.schema`); this model never decides validity.

Constructs outside the subset (``xs:any``, ``xs:group``, attributes) are refused with a clear
error rather than modelled wrong.

Some facts serve tools and nothing on the call path: :attr:`Node.choice` (the ``xs:choice`` an
element is a branch of), :attr:`Node.extends` (the base a complex type extends) and
:attr:`Node.enumeration` (the literal values a simple type allows) the model generator
(``tools/generate_models.py``); :attr:`Node.facets` (a simple type's rules, flattened along its
derivation) the request templates (:mod:`anpr_client.soap.template`). All but the first are
read on demand.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, NamedTuple, TypeAlias

from lxml import etree

from ..errors.exceptions import ConfigurationError

__all__ = ["Choice", "Facets", "Node", "Plan", "SchemaSet", "Step"]

XS: Final = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XS}}}"
_UNBOUNDED: Final = -1
#: A pattern that is only alternatives of plain words (``S|N|s|n``): ANPR's way of writing an
#: enumeration. Anchored like every XSD pattern, it allows exactly those words.
_WORDS: Final = re.compile(r"[0-9A-Za-z_]+(?:\|[0-9A-Za-z_]+)*")


class Choice:
    """One ``xs:choice`` of elements: its branches in schema order, and whether one is required.

    ``required`` is true when the choice itself and every branch have ``minOccurs >= 1``: then
    exactly one branch must be present; otherwise at most one.
    """

    __slots__ = ("branches", "nested", "required")

    def __init__(self, branches: tuple[str, ...], required: bool):
        self.branches = branches
        self.required = required
        self.nested = False
        """Whether the choice also holds groups (sequences), which are not listed here."""

    def __repr__(self) -> str:
        return f"Choice({' | '.join(self.branches)}{'' if self.required else ', optional'})"


class Facets:
    """The rules of a simple type, flattened along its restriction chain.

    ``base`` is the builtin it derives from (``string``, ``date``…); ``patterns`` holds, for
    each derivation step that has any, that step's patterns (a value matches one pattern of
    every step); ``min_length``/``max_length`` the tightest bounds (``length`` sets both);
    ``enumeration`` the allowed values when the type lists them (see :attr:`Node.enumeration`).
    """

    __slots__ = ("base", "enumeration", "max_length", "min_length", "patterns")

    def __init__(
        self,
        base: str,
        *,
        patterns: tuple[tuple[str, ...], ...] = (),
        min_length: int | None = None,
        max_length: int | None = None,
        enumeration: tuple[str, ...] | None = None,
    ):
        self.base = base
        self.patterns = patterns
        self.min_length = min_length
        self.max_length = max_length
        self.enumeration = enumeration

    def __repr__(self) -> str:
        return (
            f"Facets({self.base!r}, patterns={self.patterns!r}, length={self.min_length}.."
            f"{self.max_length}, enumeration={self.enumeration!r})"
        )


class Step(NamedTuple):
    """One child of a complex element, as the encoder writes it (:attr:`Node.steps`)."""

    position: int
    """Its place in schema order (0-based)."""
    qname: str
    node: Node
    simple: bool
    """Whether it is of a simple type (:attr:`Node.is_simple`)."""
    repeated: bool
    name: str
    """Its local name (the payload's key)."""


Plan: TypeAlias = "tuple[tuple[str, bool, Step], ...]"
"""What the encoder writes for an object with a given key order (:meth:`Node.plan`): per key,
in that order, ``(qname, simple, step)`` of its :class:`Step` (the first two again, for the
encoder's usual leaf and object without a lookup)."""


class Node:
    """The model of one element: tag, cardinality, children (lazily) and simple type."""

    __slots__ = (
        "_by_qname",
        "_children",
        "_content",
        "_schemas",
        "_simple_decl",
        "_steps",
        "choice",
        "max_occurs",
        "min_occurs",
        "name",
        "plans",
        "qname",
        "simple_type",
        "type_name",
        "type_namespace",
    )

    def __init__(
        self,
        schemas: SchemaSet,
        name: str,
        qname: str,
        min_occurs: int,
        max_occurs: int,
        type_name: str | None,
        content: tuple[_Doc, etree._Element] | None,
        simple_type: str | None,
        type_namespace: str = "",
        simple_decl: tuple[_Doc, etree._Element] | None = None,
    ):
        self._schemas = schemas
        self.name = name
        self.qname = qname
        """Clark notation (``{ns}local``), or the bare name for unqualified local elements."""
        self.min_occurs = min_occurs
        self.max_occurs = max_occurs
        """``-1`` for unbounded."""
        self.type_name = type_name
        """Local name of the XSD type, or ``None`` for an anonymous type."""
        self.type_namespace = type_namespace
        """Namespace of the schema that defines the type (named or anonymous)."""
        self._content = content
        self.simple_type = simple_type
        """The builtin a simple value derives from (``string``, ``date``…); ``None`` if complex."""
        self._children: dict[str, Node] | None = None
        self._by_qname: dict[str, Node] | None = None
        self._steps: dict[str, Step] | None = None
        self.plans: dict[tuple[str, ...], Callable[..., None]] = {}
        """The encoder's memo, by key order: what it made from :meth:`plan` to write an object
        with those keys (:func:`anpr_client.soap.codec._writer`; bounded there)."""
        self._simple_decl = simple_decl
        self.choice: Choice | None = None
        """The ``xs:choice`` this element is a branch of (``None`` outside a choice)."""

    @property
    def repeated(self) -> bool:
        return self.max_occurs == _UNBOUNDED or self.max_occurs > 1

    @property
    def required(self) -> bool:
        return self.min_occurs > 0

    @property
    def is_simple(self) -> bool:
        return self.simple_type is not None

    @property
    def children(self) -> dict[str, Node]:
        """Child nodes by local name, in schema order (choices flattened in place)."""
        if self._children is None:
            kids: dict[str, Node] = {}
            if self._content is not None:
                doc, complex_type = self._content
                for child in self._schemas._particles(doc, complex_type):
                    kids.setdefault(child.name, child)
            self._children = kids
        return self._children

    @property
    def by_qname(self) -> dict[str, Node]:
        """The child nodes by tag (Clark notation): what a received child element is, in one
        lookup (the node :attr:`children` names by the tag's local name, when its qname is the
        tag)."""
        if self._by_qname is None:
            children = self.children
            self._by_qname = {
                node.qname: node
                for node in children.values()
                if children.get(node.qname.rpartition("}")[2]) is node
            }
        return self._by_qname

    @property
    def steps(self) -> dict[str, Step]:
        """:attr:`children` as the encoder needs them, in one lookup per payload key: each
        child's :class:`Step` by local name (made on first use)."""
        if self._steps is None:
            self._steps = {
                name: Step(i, node.qname, node, node.is_simple, node.repeated, name)
                for i, (name, node) in enumerate(self.children.items())
            }
        return self._steps

    def plan(self, keys: tuple[str, ...]) -> Plan | None:
        """How to write an object whose keys are ``keys``, in that order, in one pass: each
        key's step, when every key is a child and they come in schema order (``None``
        otherwise: the encoder then reorders the object and reports the unknown keys)."""
        steps = self.steps
        plan = []
        last = -1
        for key in keys:
            step = steps.get(key)
            if step is None or step.position < last:
                return None
            last = step.position
            plan.append((step.qname, step.simple, step))
        return tuple(plan)

    @property
    def enumeration(self) -> tuple[str, ...] | None:
        """The only values a simple type allows, when it lists them: ``xs:enumeration`` facets,
        or a pattern of plain alternatives (``M|F|N|m|f|n``, ANPR's usual spelling); ``None``
        for other types. Read on demand (the call path never needs it)."""
        if self._simple_decl is None:
            return None
        doc, simple_type = self._simple_decl
        return self._schemas._enumeration(doc, simple_type)

    @property
    def facets(self) -> Facets | None:
        """The rules of a simple element's type (:class:`Facets`); ``None`` for a complex one.
        Read on demand (the call path never needs it: lxml validates)."""
        if self.simple_type is None:
            return None
        if self._simple_decl is None:
            return Facets(self.simple_type)
        doc, simple_type = self._simple_decl
        return self._schemas._facets(doc, simple_type, self.simple_type, self.enumeration)

    @property
    def extends(self) -> tuple[Node, bool] | None:
        """For a complex type derived by ``complexContent`` extension: this element seen as its
        base type (a node with the base's content), and whether the extension adds elements of
        its own; ``None`` otherwise."""
        if self._content is None:
            return None
        doc, complex_type = self._content
        extension = complex_type.find(f"{_XS}complexContent/{_XS}extension")
        if extension is None:
            return None
        ns, local = doc.resolve(extension, extension.get("base", ""))
        if ns == XS:
            return None
        bdoc, base_type = self._schemas._find("complex_types", ns, local)
        simple = self._schemas._simple_content(bdoc, base_type)
        content = None if simple else (bdoc, base_type)
        base = Node(
            self._schemas,
            self.name,
            self.qname,
            self.min_occurs,
            self.max_occurs,
            local,
            content,
            simple,
            ns,
        )
        base.choice = self.choice
        adds = any(
            child.tag in (_XS + "sequence", _XS + "choice", _XS + "all") for child in extension
        )
        return base, adds

    def __repr__(self) -> str:
        kind = self.simple_type or (self.type_name or "anonymous")
        return f"Node({self.qname!r}, {self.min_occurs}..{self.max_occurs}, {kind})"


class _Doc:
    """One parsed schema document and its global declarations."""

    def __init__(self, path: Path, root: etree._Element):
        self.path = path
        self.root = root
        self.target = root.get("targetNamespace", "")
        self.qualified = root.get("elementFormDefault", "unqualified") == "qualified"
        self.elements: dict[str, etree._Element] = {}
        self.complex_types: dict[str, etree._Element] = {}
        self.simple_types: dict[str, etree._Element] = {}
        for child in root:
            name = child.get("name")
            if name is None:
                continue
            if child.tag == _XS + "element":
                self.elements[name] = child
            elif child.tag == _XS + "complexType":
                self.complex_types[name] = child
            elif child.tag == _XS + "simpleType":
                self.simple_types[name] = child

    def resolve(self, el: etree._Element, prefixed: str) -> tuple[str, str]:
        """A QName attribute value as (namespace, local name), with ``el``'s prefixes."""
        prefix, _, local = prefixed.rpartition(":")
        ns = el.nsmap.get(prefix or None)
        if ns is None:
            if not prefix:
                return "", local
            raise ConfigurationError(
                f"{self.path.name}: undeclared prefix in {prefixed!r}", setting="wsdl_dir"
            )
        return ns, local


def _allows(facet: str, rule: str, value: str) -> bool:
    """Whether ``value`` passes one facet of a simple type (those that bound a word list)."""
    if facet == "length":
        return len(value) == int(rule)
    if facet == "minLength":
        return len(value) >= int(rule)
    if facet == "maxLength":
        return len(value) <= int(rule)
    if facet == "pattern":
        # XSD's \d is Unicode's too; the values tested are plain ASCII words.
        return re.fullmatch(rule, value) is not None
    return True


def _occurs(el: etree._Element, attr: str, default: int) -> int:
    value = el.get(attr)
    if value is None:
        return default
    return _UNBOUNDED if value == "unbounded" else int(value)


class SchemaSet:
    """Schema documents by namespace, loaded on demand and shared by every family."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._docs: dict[Path, _Doc] = {}
        self._by_ns: dict[str, list[_Doc]] = {}
        self._nodes: dict[tuple[str, str], Node] = {}
        self._inline: dict[str, _Doc] = {}

    # ------------------------------------------------------------------ loading

    def load(self, path: Path) -> None:
        """Load a schema document and, recursively, what it imports or includes."""
        with self._lock:
            self._load(path.resolve())

    def load_inline(self, key: str, data: bytes, base: Path) -> None:
        """Load a schema written inside a WSDL (``key`` identifies it)."""
        with self._lock:
            if key in self._inline:
                return
            root = etree.fromstring(data)
            doc = _Doc(base, root)
            self._inline[key] = doc
            self._register(doc)
            self._follow(doc)

    def _load(self, path: Path) -> None:
        if path in self._docs:
            return
        try:
            root = etree.parse(str(path), etree.XMLParser(no_network=True)).getroot()
        except (OSError, etree.XMLSyntaxError) as exc:
            raise ConfigurationError(
                f"cannot read schema {str(path)!r}: {exc}", setting="wsdl_dir"
            ) from None
        doc = _Doc(path, root)
        self._docs[path] = doc
        self._register(doc)
        self._follow(doc)

    def _register(self, doc: _Doc) -> None:
        self._by_ns.setdefault(doc.target, []).append(doc)

    def _follow(self, doc: _Doc) -> None:
        for child in doc.root:
            if child.tag in (_XS + "import", _XS + "include") and child.get("schemaLocation"):
                location = child.get("schemaLocation", "")
                if "://" in location and not location.startswith("file://"):
                    raise ConfigurationError(
                        f"{doc.path.name} refers to a remote document {location!r}; bundles must "
                        "be self-contained",
                        setting="wsdl_dir",
                    )
                if location.startswith("file://"):
                    target = Path(location[len("file://") :])
                else:
                    target = doc.path.parent / location
                self._load(target.resolve())

    # ------------------------------------------------------------------ lookups

    def _find(self, kind: str, ns: str, local: str) -> tuple[_Doc, etree._Element]:
        for doc in self._by_ns.get(ns, ()):
            table = getattr(doc, kind)
            if local in table:
                return doc, table[local]
        raise ConfigurationError(
            f"the bundle has no {kind[:-1].replace('_', ' ')} {{{ns}}}{local}", setting="wsdl_dir"
        )

    def element(self, ns: str, local: str) -> Node:
        """The model of a global element."""
        key = (ns, local)
        node = self._nodes.get(key)
        if node is None:
            with self._lock:
                node = self._nodes.get(key)
                if node is None:
                    doc, decl = self._find("elements", ns, local)
                    node = self._node(doc, decl, local, f"{{{ns}}}{local}" if ns else local, 1, 1)
                    self._nodes[key] = node
        return node

    # ------------------------------------------------------------------ building

    def _node(
        self,
        doc: _Doc,
        decl: etree._Element,
        name: str,
        qname: str,
        min_occurs: int,
        max_occurs: int,
    ) -> Node:
        type_attr = decl.get("type")
        if type_attr is not None:
            ns, local = doc.resolve(decl, type_attr)
            if ns == XS:
                return Node(self, name, qname, min_occurs, max_occurs, local, None, local, ns)
            for tdoc in self._by_ns.get(ns, ()):
                if local in tdoc.complex_types:
                    ct = tdoc.complex_types[local]
                    simple = self._simple_content(tdoc, ct)
                    content = None if simple else (tdoc, ct)
                    return Node(
                        self, name, qname, min_occurs, max_occurs, local, content, simple, ns
                    )
                if local in tdoc.simple_types:
                    st = tdoc.simple_types[local]
                    builtin = self._builtin(tdoc, st)
                    return Node(
                        self,
                        name,
                        qname,
                        min_occurs,
                        max_occurs,
                        local,
                        None,
                        builtin,
                        ns,
                        (tdoc, st),
                    )
            raise ConfigurationError(f"the bundle has no type {{{ns}}}{local}", setting="wsdl_dir")
        inline = decl.find(_XS + "complexType")
        if inline is not None:
            simple = self._simple_content(doc, inline)
            content = None if simple else (doc, inline)
            return Node(
                self, name, qname, min_occurs, max_occurs, None, content, simple, doc.target
            )
        inline_simple = decl.find(_XS + "simpleType")
        if inline_simple is not None:
            builtin = self._builtin(doc, inline_simple)
            return Node(
                self,
                name,
                qname,
                min_occurs,
                max_occurs,
                None,
                None,
                builtin,
                doc.target,
                (doc, inline_simple),
            )
        # no type at all: xs:anyType; treat as text
        return Node(self, name, qname, min_occurs, max_occurs, None, None, "anyType")

    def _builtin(self, doc: _Doc, simple_type: etree._Element) -> str:
        """The XSD builtin a simple type derives from (following restriction bases)."""
        for _ in range(32):
            restriction = simple_type.find(_XS + "restriction")
            if restriction is None:
                return "string"  # list or union: rendered as text
            base = restriction.get("base")
            if base is None:
                inner = restriction.find(_XS + "simpleType")
                if inner is None:
                    return "string"
                simple_type = inner
                continue
            ns, local = doc.resolve(restriction, base)
            if ns == XS:
                return local
            doc, simple_type = self._find("simple_types", ns, local)
        raise ConfigurationError("simple type derivation too deep", setting="wsdl_dir")

    def _steps(self, doc: _Doc, simple_type: etree._Element) -> Iterator[list[tuple[str, str]]]:
        """The facets (kind, value) of each ``xs:restriction`` along a simple type's derivation,
        the type's own first, up to the builtin it derives from."""
        for _ in range(32):
            restriction = simple_type.find(_XS + "restriction")
            if restriction is None:
                return
            yield [
                (etree.QName(f).localname, f.get("value", ""))
                for f in restriction
                if isinstance(f.tag, str)  # comments and PIs have a non-str tag
            ]
            base = restriction.get("base")
            if base is None:
                return
            ns, local = doc.resolve(restriction, base)
            if ns == XS:
                return
            doc, simple_type = self._find("simple_types", ns, local)
        raise ConfigurationError("simple type derivation too deep", setting="wsdl_dir")

    def _enumeration(self, doc: _Doc, simple_type: etree._Element) -> tuple[str, ...] | None:
        """The values of the nearest enumeration (or plain-alternatives pattern) along the
        restriction chain, less those a length facet or another pattern of the chain refuses."""
        values: tuple[str, ...] | None = None
        rules: list[tuple[str, str]] = []
        for facets in self._steps(doc, simple_type):
            listed = tuple(v for k, v in facets if k == "enumeration")
            patterns = [v for k, v in facets if k == "pattern"]
            if values is None and listed:
                values = listed
            elif values is None and len(patterns) == 1 and _WORDS.fullmatch(patterns[0]):
                values = tuple(patterns[0].split("|"))
                facets.remove(("pattern", patterns[0]))
            rules.extend(facets)
        if values is None:
            return None
        return tuple(v for v in values if all(_allows(rule, value, v) for rule, value in rules))

    def _facets(
        self,
        doc: _Doc,
        simple_type: etree._Element,
        base: str,
        enumeration: tuple[str, ...] | None,
    ) -> Facets:
        """The facets of a simple type and of every type it restricts (the nearest step's
        length bounds win, as a restriction may only narrow them)."""
        steps: list[tuple[str, ...]] = []
        low: int | None = None
        high: int | None = None
        for facets in self._steps(doc, simple_type):
            own = tuple(value for kind, value in facets if kind == "pattern")
            for kind, value in facets:
                if kind in ("length", "minLength") and low is None:
                    low = int(value)
                if kind in ("length", "maxLength") and high is None:
                    high = int(value)
            if own:
                steps.append(own)
        return Facets(
            base,
            patterns=tuple(reversed(steps)),
            min_length=low,
            max_length=high,
            enumeration=enumeration,
        )

    def _simple_content(self, doc: _Doc, complex_type: etree._Element) -> str | None:
        sc = complex_type.find(_XS + "simpleContent")
        if sc is None:
            return None
        for derivation in sc:
            base = derivation.get("base") if isinstance(derivation.tag, str) else None
            if base is None:
                continue
            ns, local = doc.resolve(derivation, base)
            if ns == XS:
                return local
            for tdoc in self._by_ns.get(ns, ()):
                if local in tdoc.simple_types:
                    return self._builtin(tdoc, tdoc.simple_types[local])
                if local in tdoc.complex_types:
                    inner = self._simple_content(tdoc, tdoc.complex_types[local])
                    if inner:
                        return inner
        return "string"

    def _particles(self, doc: _Doc, complex_type: etree._Element) -> Iterator[Node]:
        """The child elements of a complex type, in order (base type first)."""
        for child in complex_type:
            tag = child.tag
            if not isinstance(tag, str) or tag == _XS + "annotation":
                continue
            if tag in (_XS + "sequence", _XS + "choice", _XS + "all"):
                yield from self._group(doc, child)
            elif tag == _XS + "complexContent":
                for derivation in child:
                    dtag: object = derivation.tag  # comments and PIs have a non-str tag
                    if dtag == _XS + "extension":
                        ns, local = doc.resolve(derivation, derivation.get("base", ""))
                        if ns != XS:
                            bdoc, base = self._find("complex_types", ns, local)
                            yield from self._particles(bdoc, base)
                        yield from self._particles(doc, derivation)
                    elif dtag == _XS + "restriction":
                        yield from self._particles(doc, derivation)
            elif tag in (_XS + "attribute", _XS + "attributeGroup", _XS + "anyAttribute"):
                continue
            elif tag in (_XS + "group", _XS + "any"):
                raise ConfigurationError(
                    f"{doc.path.name}: xs:{tag.split('}')[1]} is outside the XSD subset "
                    "anpr-client models",
                    setting="wsdl_dir",
                )

    def _group(self, doc: _Doc, group: etree._Element) -> Iterator[Node]:
        group_repeats = _occurs(group, "maxOccurs", 1)
        is_choice = group.tag == _XS + "choice"
        members: list[Node] = []  # in schema order
        branches: list[Node] = []  # a choice's own elements
        for item in group:
            tag = item.tag
            if not isinstance(tag, str) or tag == _XS + "annotation":
                continue
            if tag == _XS + "element":
                node = self._local(doc, item)
                if group_repeats != 1:
                    node.max_occurs = _UNBOUNDED
                members.append(node)
                if is_choice:
                    branches.append(node)
            elif tag in (_XS + "sequence", _XS + "choice", _XS + "all"):
                # A group inside a choice is no single element: it is not a branch (the model
                # generator refuses such a choice; ANPR's schemas have none).
                members.extend(self._group(doc, item))
            else:
                raise ConfigurationError(
                    f"{doc.path.name}: xs:{tag.split('}')[1]} is outside the XSD subset "
                    "anpr-client models",
                    setting="wsdl_dir",
                )
        if is_choice:
            required = _occurs(group, "minOccurs", 1) > 0 and all(
                n.min_occurs > 0 for n in branches
            )
            choice = Choice(tuple(n.name for n in branches), required)
            if len(branches) != len(members):
                choice.nested = True
            for node in branches:
                node.min_occurs = 0
                # A repeating choice picks again at each repetition: its branches are simply
                # repeated elements, with no "one of" between them.
                node.choice = choice if group_repeats == 1 else None
        yield from members

    def _local(self, doc: _Doc, decl: etree._Element) -> Node:
        min_occurs = _occurs(decl, "minOccurs", 1)
        max_occurs = _occurs(decl, "maxOccurs", 1)
        ref = decl.get("ref")
        if ref is not None:
            ns, local = doc.resolve(decl, ref)
            rdoc, rdecl = self._find("elements", ns, local)
            return self._node(rdoc, rdecl, local, f"{{{ns}}}{local}", min_occurs, max_occurs)
        name = decl.get("name", "")
        form = decl.get("form")
        qualified = doc.qualified if form is None else form == "qualified"
        qname = f"{{{doc.target}}}{name}" if qualified and doc.target else name
        return self._node(doc, decl, name, qname, min_occurs, max_occurs)
