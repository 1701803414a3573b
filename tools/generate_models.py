"""Generate the typed models of ``anpr_client.models`` from our WSDL bundle.

    python tools/generate_models.py            # rewrite the generated modules
    python tools/generate_models.py --check    # exit 1 if they are out of date (used by a test)

One module per folder of the bundle (``wsdl/3000-consultazione/`` → ``models.consultazione``),
holding one frozen, keyword-only dataclass per complex type reachable from its operations'
request and response elements, plus ``models.common`` for the types several families share and
``models._index`` for the table of operations. The rules, for users, are in
``anpr_client/models/__init__.py`` and ``docs/models.md``; how they are applied:

- **Names.** A class is named after its XSD type (``tipoGeneralita`` → ``TipoGeneralita``) or,
  for an anonymous type, after its element (``Risposta3002_OK`` → ``Risposta3002OK``); fields
  keep the XML element names. A Literal alias is named after its simple type.
- **One class per type.** A type derived by an extension that adds nothing (ANPR's families
  declare ``tipoTestataRichiesta`` and others that way over ``tipoDato``) *is* its base: the
  family's name becomes an alias of the base class. An extension that adds elements is a
  subclass. Types of the same name and the same content in several families (``rispostaKO``,
  ``tipoListaErrori``) are one class.
- **Placement.** A class goes to ``common`` when its namespace is reached from several modules
  (``tipoDato``, ``rispostaComune``…) or the class itself is; otherwise to its family module,
  which re-exports the common names it uses.
- **Fields.** ``minOccurs >= 1``: required, no default; otherwise ``X | None = None``;
  repeated: ``Sequence[X]`` (required when ``minOccurs >= 1``, else ``()``); the branches of an
  ``xs:choice``: ``X | None = None`` each, with ``@overload``-ed constructors (one per way of
  choosing) for mypy and a ``__post_init__`` check at run time. A request's
  ``testataRichiesta`` is optional: the client fills it.
"""

from __future__ import annotations

import argparse
import itertools
import keyword
import re
import subprocess
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from anpr_client.soap.bundle import Bundle, Operation, get_bundle  # noqa: E402
from anpr_client.soap.xsdmodel import Choice, Node  # noqa: E402

COMMON = "common"
INDEX = "_index"
MODELS = ROOT / "src" / "anpr_client" / "models"
#: The most constructor overloads a class with choices may get (the product of its choices'
#: ways); ANPR's largest has 6.
MAX_OVERLOADS = 64

_PY_TYPES = {
    "string": "str",
    "normalizedString": "str",
    "token": "str",
    "anyType": "str",
    "date": "dt.date",
    "dateTime": "dt.datetime",
    "integer": "int",
    "int": "int",
    "long": "int",
    "short": "int",
    "byte": "int",
    "positiveInteger": "int",
    "nonNegativeInteger": "int",
    "negativeInteger": "int",
    "nonPositiveInteger": "int",
    "unsignedInt": "int",
    "unsignedLong": "int",
    "unsignedShort": "int",
    "decimal": "Decimal",
    "boolean": "bool",
    "base64Binary": "bytes",
}


def _pascal(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", name[:1].upper() + name[1:])


def module_of(op: Operation, bundle: Bundle) -> str:
    """The models module of an operation: its bundle folder's name (``3000-consultazione``)."""
    folder = op.wsdl.parent.name
    return folder.split("-", 1)[1].replace("-", "_") if "-" in folder else folder.lower()


# ----------------------------------------------------------------------------- the model


@dataclass(eq=False)
class Literal_:
    """An enumerated simple type: a ``Literal`` alias."""

    key: tuple[str, str]
    xsd_name: str
    values: tuple[str, ...]
    modules: set[str] = field(default_factory=set)
    module: str = ""
    name: str = ""

    @property
    def namespace(self) -> str:
        return self.key[0]


@dataclass(eq=False)
class Field:
    name: str
    target: Class | Literal_ | str
    required: bool
    repeated: bool
    choice: Choice | None


@dataclass(eq=False)
class Class:
    key: tuple[str, str]
    xsd_name: str
    anonymous: bool
    fields: list[Field] = field(default_factory=list)
    base: Class | None = None
    modules: set[str] = field(default_factory=set)
    module: str = ""
    name: str = ""
    aliases: set[tuple[str, str, str]] = field(default_factory=set)
    """(module, namespace, name) of the types that are this class (empty extensions)."""
    request_of: list[Operation] = field(default_factory=list)
    response_of: list[Operation] = field(default_factory=list)
    ok: tuple[tuple[str, Class], ...] = ()
    """For a request class: the OK outcomes of its answer (outcome name, class)."""
    built: bool = False

    @property
    def namespace(self) -> str:
        return self.key[0]

    def own_fields(self) -> list[Field]:
        if self.base is None:
            return self.fields
        inherited = {f.name for f in self.base.fields}
        return [f for f in self.fields if f.name not in inherited]

    def choices(self) -> list[Choice]:
        seen: list[Choice] = []
        for f in self.fields:
            if f.choice is not None and all(f.choice is not c for c in seen):
                seen.append(f.choice)
        return seen


class Reader:
    """Walks every operation's messages into :class:`Class` and :class:`Literal_` objects."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        self.classes: dict[tuple[str, str], Class] = {}
        self.literals: dict[tuple[str, str], Literal_] = {}
        self.namespaces: dict[str, set[str]] = defaultdict(set)
        self.operations: list[tuple[Operation, str, Class, Class]] = []

    def read(self) -> None:
        for op in sorted(self.bundle, key=lambda o: o.code):
            module = module_of(op, self.bundle)
            request = self.class_for(self.bundle.request_model(op), module)
            response = self.class_for(self.bundle.response_model(op), module)
            request.request_of.append(op)
            response.response_of.append(op)
            self.operations.append((op, module, request, response))
        for op, _, request, response in self.operations:
            request.ok = self.ok_outcomes(op, response)

    def ok_outcomes(self, op: Operation, response: Class) -> tuple[tuple[str, Class], ...]:
        """The answer branches :meth:`anpr_client.Client.read` returns for a successful call.

        ``read`` unwraps an answer made of exactly one child message with its own
        ``testataRisposta`` (``Risposta3002_OK``, ``Risposta_Comune``…) and raises for the KO
        ones; any other answer comes back whole, as the answer element. So: the non-KO
        branches, plus the answer element when it may hold anything else (only it, when that
        is required, as ``tipoMutazione`` in 5021's answer)."""
        branches, others = [], []
        for f in response.fields:
            target = f.target
            if (
                isinstance(target, Class)
                and not f.repeated
                and any(g.name == "testataRisposta" for g in target.fields)
            ):
                branches.append((f.name, target))
            else:
                others.append(f)
        whole = ((op.response.localname, response),)
        if any(f.required for f in others):
            return whole
        ok = tuple((n, c) for n, c in branches if n != "rispostaKO" and not n.endswith("KO"))
        return ok + whole if others or not ok else ok

    def class_for(self, node: Node, module: str) -> Class:
        derived = node.extends
        if derived is not None and not derived[1]:
            # An extension that adds nothing is its base: record the family's name as an alias.
            base = self.class_for(derived[0], module)
            if node.type_name:
                base.aliases.add((module, node.type_namespace, _pascal(node.type_name)))
                self.namespaces[node.type_namespace].add(module)
            return base
        anonymous = node.type_name is None
        key = (node.type_namespace, f"element {node.name}" if anonymous else str(node.type_name))
        cls = self.classes.get(key)
        if cls is None:
            cls = Class(key, node.name if anonymous else str(node.type_name), anonymous)
            self.classes[key] = cls
        self.namespaces[node.type_namespace].add(module)
        if module in cls.modules and cls.built:
            return cls
        cls.modules.add(module)
        if cls.built:
            self._mark(cls, module)
            return cls
        cls.built = True  # recursion guard
        if derived is not None:
            cls.base = self.class_for(derived[0], module)
        for name, child in node.children.items():
            if keyword.iskeyword(name) or not name.isidentifier() or name.startswith("_"):
                raise SystemExit(f"{cls.xsd_name}/{name}: not a Python identifier")
            if child.choice is not None and child.choice.nested:
                raise SystemExit(f"{cls.xsd_name}: a choice of groups is not modelled")
            cls.fields.append(
                Field(
                    name,
                    self.target_for(child, module),
                    child.min_occurs > 0,
                    child.repeated,
                    child.choice,
                )
            )
        return cls

    def _mark(self, cls: Class, module: str) -> None:
        """Record that ``module`` reaches ``cls`` and everything ``cls`` reaches."""
        todo = [cls]
        while todo:
            current = todo.pop()
            for f in current.fields:
                target = f.target
                if isinstance(target, Class | Literal_) and module not in target.modules:
                    target.modules.add(module)
                    self.namespaces[target.namespace].add(module)
                    if isinstance(target, Class):
                        todo.append(target)
            if current.base is not None and module not in current.base.modules:
                current.base.modules.add(module)
                todo.append(current.base)

    def target_for(self, node: Node, module: str) -> Class | Literal_ | str:
        if not node.is_simple and node.children:
            return self.class_for(node, module)
        values = node.enumeration if node.is_simple else None
        if values:
            name = node.type_name or f"element {node.name}"
            key = (node.type_namespace, name)
            lit = self.literals.get(key)
            if lit is None:
                lit = self.literals[key] = Literal_(key, node.type_name or node.name, values)
            lit.modules.add(module)
            self.namespaces[node.type_namespace].add(module)
            return lit
        return _PY_TYPES.get(node.simple_type or "string", "str")


# ----------------------------------------------------------------------------- one class per fact


def _signature(cls: Class, ids: dict[int, int]) -> tuple[object, ...]:
    def target_id(t: Class | Literal_ | str) -> object:
        if isinstance(t, Class):
            return ("class", ids[id(t)])
        if isinstance(t, Literal_):
            return ("literal", t.xsd_name, t.values)
        return t

    fields = tuple(
        (
            f.name,
            target_id(f.target),
            f.required,
            f.repeated,
            None if f.choice is None else (f.choice.branches, f.choice.required),
        )
        for f in cls.fields
    )
    base = None if cls.base is None else ids[id(cls.base)]
    return (_pascal(cls.xsd_name), base, fields)


def unify(reader: Reader) -> list[Class]:
    """Merge the classes of the same name and the same content (to a fixed point)."""
    classes = list(reader.classes.values())
    ids = {id(c): i for i, c in enumerate(classes)}
    while True:
        groups: dict[tuple[object, ...], list[Class]] = defaultdict(list)
        for c in classes:
            groups[_signature(c, ids)].append(c)
        new_ids = {}
        for i, members in enumerate(groups.values()):
            for c in members:
                new_ids[id(c)] = i
        if len(set(new_ids.values())) == len(set(ids.values())):
            break
        ids = new_ids
    merged: dict[int, Class] = {}
    for c in sorted(classes, key=lambda c: c.key):
        keep = merged.setdefault(ids[id(c)], c)
        if keep is not c:
            keep.modules |= c.modules
            keep.aliases |= c.aliases
            keep.request_of += c.request_of
            keep.response_of += c.response_of
    # Point every reference at the class kept for its group.
    for c in merged.values():
        c.fields = [
            Field(
                f.name,
                merged[ids[id(f.target)]] if isinstance(f.target, Class) else f.target,
                f.required,
                f.repeated,
                f.choice,
            )
            for f in c.fields
        ]
        if c.base is not None:
            c.base = merged[ids[id(c.base)]]
        c.ok = tuple((n, merged[ids[id(k)]]) for n, k in c.ok)
    return list(merged.values())


def place(reader: Reader, classes: list[Class]) -> set[str]:
    """Put each class and literal in its module and give it a name there; returns the
    namespaces several modules share."""
    shared = {ns for ns, modules in reader.namespaces.items() if len(modules) > 1}
    items: list[Class | Literal_] = [*classes, *reader.literals.values()]
    for item in items:
        if item.namespace in shared or len(item.modules) > 1:
            item.module = COMMON
        else:
            (item.module,) = item.modules
    todo = [c for c in classes if c.module == COMMON]
    while todo:  # what a common class uses is common too
        c = todo.pop()
        for t in [*(f.target for f in c.fields), c.base]:
            if isinstance(t, Class | Literal_) and t.module != COMMON:
                t.module = COMMON
                if isinstance(t, Class):
                    todo.append(t)
    names: dict[tuple[str, str], object] = {}
    for item in sorted(items, key=lambda i: (i.module != COMMON, i.module, i.key)):
        base = _pascal(item.xsd_name)
        name, n = base, 2
        while (item.module, name) in names:
            name, n = f"{base}{n}", n + 1
        names[(item.module, name)] = item
        item.name = name
    return shared


# ----------------------------------------------------------------------------- writing


class Module:
    """One generated module being written: its classes, literals and aliases, and the common
    names it uses (imported by name, or as ``_common.X`` where the family has its own ``X``)."""

    def __init__(self, name: str):
        self.name = name
        self.classes: list[Class] = []
        self.literals: list[Literal_] = []
        self.imported: set[str] = set()
        self.qualified = False
        self.aliases: dict[str, Class] = {}
        self.shadowed: set[str] = set()
        """Names a class body hides behind a field of the same name (``RispostaMultipla1001``):
        referred to there through a module-level alias ``_Name``."""

    @property
    def own(self) -> set[str]:
        return {c.name for c in self.classes} | {lit.name for lit in self.literals}

    def ref(self, target: Class | Literal_ | str, hidden: frozenset[str] = frozenset()) -> str:
        if isinstance(target, str):
            return target
        if target.module != self.name and target.name in self.own:
            self.qualified = True
            return f"_common.{target.name}"
        if target.module != self.name:
            self.imported.add(target.name)
        if target.name in hidden:
            self.shadowed.add(target.name)
            return f"_{target.name}"
        return target.name


def _annotation(
    module: Module, cls: Class, f: Field, *, request_root: bool, chosen: bool = False
) -> str:
    inner = module.ref(f.target, frozenset(g.name for g in cls.fields))
    if f.repeated:
        return f"Sequence[{inner}]"
    if chosen:
        return inner
    if f.choice is not None or not f.required or (request_root and f.name == "testataRichiesta"):
        return f"{inner} | None"
    return inner


def _has_default(f: Field, *, request_root: bool) -> bool:
    if f.choice is not None:
        return True
    if request_root and f.name == "testataRichiesta":
        return True
    return not f.required


def _default(f: Field, *, request_root: bool) -> str:
    if not _has_default(f, request_root=request_root):
        return ""
    return " = ()" if f.repeated else " = None"


def _ways(choice: Choice) -> list[str | None]:
    return [*choice.branches, *([] if choice.required else [None])]


def _class_source(module: Module, cls: Class) -> str:
    request_root = bool(cls.request_of)
    bases = []
    if cls.base is not None:
        bases.append(module.ref(cls.base))
    if request_root:
        ok = " | ".join(module.ref(c) for _, c in cls.ok)
        bases.append(f'Request["{ok}"]')
    if not bases:
        bases.append("Model")
    doc = [_class_doc(cls)]
    choices = cls.choices()
    for choice in choices:
        rule = "exactly one" if choice.required else "at most one"
        doc.append(f"Choice of {rule}: {', '.join(f'``{b}``' for b in choice.branches)}.")
    if request_root:
        (op,) = cls.request_of
        doc.append(
            "``testataRichiesta`` may be left out: the client fills it (fields given override "
            "the generated ones)."
            if any(f.name == "testataRichiesta" for f in cls.fields)
            else ""
        )
    lines = [
        "@dataclass(frozen=True, kw_only=True, eq=False, repr=False)",
        f"class {cls.name}({', '.join(bases)}):",
        _docstring([d for d in doc if d], "    "),
        "",
    ]
    if request_root:
        (op,) = cls.request_of
        lines.append(f'    OPERATION: ClassVar[str] = "{op.code}"')
    if choices:
        specs = ", ".join(
            f"(({', '.join(_quote(b) for b in c.branches)}), {c.required})" for c in choices
        )
        kind = "ClassVar[tuple[tuple[tuple[str, ...], bool], ...]]"
        lines.append(f"    CHOICES: {kind} = ({specs},)")
    if request_root or choices:
        lines.append("")
    for f in cls.own_fields():
        ann = _annotation(module, cls, f, request_root=request_root)
        lines.append(f"    {f.name}: {ann}{_default(f, request_root=request_root)}")
    if choices:
        lines.append("")
        lines.extend(_overloads(module, cls, choices, request_root=request_root))
        lines.extend(["", "    def __post_init__(self) -> None:", "        check_choices(self)"])
    return "\n".join(lines) + "\n"


def _overloads(
    module: Module, cls: Class, choices: list[Choice], *, request_root: bool
) -> list[str]:
    """One constructor signature per way of choosing (a branch of each choice, or none of an
    optional one): mypy then refuses two branches, or none of a required choice."""
    combos = list(itertools.product(*(_ways(c) for c in choices)))
    if len(combos) > MAX_OVERLOADS:
        raise SystemExit(f"{cls.name}: {len(combos)} ways to choose; raise MAX_OVERLOADS?")
    out = ["    if TYPE_CHECKING:"]
    for combo in combos:
        chosen = {b for b in combo if b is not None}
        params = []
        for f in cls.fields:
            if f.choice is not None:
                if f.name in chosen:
                    ann = _annotation(module, cls, f, request_root=request_root, chosen=True)
                    params.append(f"{f.name}: {ann}")
                continue
            ann = _annotation(module, cls, f, request_root=request_root)
            default = " = ..." if _has_default(f, request_root=request_root) else ""
            params.append(f"{f.name}: {ann}{default}")
        out.append("        @overload")
        signature = ", ".join(["self", *(["*", *params] if params else [])])
        out.append(f"        def __init__({signature}) -> None: ...")
    out.append("        def __init__(self, **fields: Any) -> None: ...")
    return out


def _class_doc(cls: Class) -> str:
    if cls.request_of:
        (op,) = cls.request_of
        ok = ", ".join(f":class:`{c.name}`" for _, c in cls.ok)
        return (
            f"The request of operation ``{op.code}`` (``{op.name}``); a successful call "
            f"returns {ok}."
        )
    if cls.response_of:
        codes = ", ".join(f"``{op.code}``" for op in cls.response_of)
        return f"The answer to operation {codes} (element ``{cls.xsd_name}``)."
    if cls.anonymous:
        return f"Content of element ``{cls.xsd_name}`` (``{cls.namespace}``)."
    return f"XSD type ``{cls.xsd_name}`` (``{cls.namespace}``)."


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _docstring(paragraphs: list[str], indent: str) -> str:
    """A docstring of wrapped paragraphs that fits ruff's line length."""
    width = 100 - len(indent)
    parts = [textwrap.fill(p, width - 3, break_on_hyphens=False) for p in paragraphs]
    text = "\n\n".join(parts)
    lines = text.split("\n")
    if len(lines) == 1 and len(lines[0]) + len(indent) + 6 <= 100:
        return f'{indent}"""{lines[0]}"""'
    return (
        f'{indent}"""'
        + ("\n" + indent).join(lines).replace(indent + "\n", "\n")
        + f"\n{indent}"
        + '"""'
    )


def _literal_source(module: Module, lit: Literal_) -> str:
    values = ", ".join(_quote(v) for v in lit.values)
    shown = ", ".join(f"``{v}``" for v in lit.values)
    doc = f"XSD simple type ``{lit.xsd_name}`` (``{lit.namespace}``); its wire values: {shown}."
    return f"{lit.name}: TypeAlias = Literal[{values}]\n{_docstring([doc], '')}\n"


def _module_doc(name: str, operations: list[tuple[Operation, str, Class, Class]]) -> str:
    if name == COMMON:
        return (
            "Typed models — the types several families share.\n\n"
            "The types of ``wsdl/common/`` (``tipoDato``, ``Risposta_Comune``…) and those that "
            "several\nfamilies define alike (``rispostaKO``, ``tipoListaErrori``): one class each, "
            "so ``isinstance``\nworks across families. Every family module re-exports the ones it "
            "uses."
        )
    ops = [op for op, module, _, _ in operations if module == name]
    folder = ops[0].wsdl.parent.name
    codes = ", ".join(op.code for op in ops)
    return f"Typed models of ``wsdl/{folder}/``.\n\nOperations: {codes}."


def render(wsdl_dir: str | None = None) -> dict[str, str]:
    """The source of every generated module, by module name."""
    bundle = get_bundle(wsdl_dir)
    reader = Reader(bundle)
    reader.read()
    classes = unify(reader)
    shared = place(reader, classes)
    modules: dict[str, Module] = {}
    for c in sorted(classes, key=lambda c: c.name):
        modules.setdefault(c.module, Module(c.module)).classes.append(c)
    for c in classes:
        for family, namespace, alias in sorted(c.aliases):
            target = COMMON if namespace in shared else family
            modules.setdefault(target, Module(target)).aliases[alias] = c
    for lit in sorted(reader.literals.values(), key=lambda x: x.name):
        modules.setdefault(lit.module, Module(lit.module)).literals.append(lit)
    # A family module re-exports every common name its operations reach, so that everything
    # a family's messages hold can be imported from the family's module.
    items: list[Class | Literal_] = [*classes, *reader.literals.values()]
    for item in items:
        if item.module == COMMON:
            for family in item.modules:
                written = modules.get(family)
                if written is not None and family != COMMON and item.name not in written.own:
                    written.imported.add(item.name)
    out = {}
    for name, written in sorted(modules.items()):
        out[name] = _format(_module_source(written, reader.operations), name)
    out[INDEX] = _format(_index_source(reader.operations), INDEX)
    return out


def _module_source(module: Module, operations: list[tuple[Operation, str, Class, Class]]) -> str:
    bodies = [_literal_source(module, lit) for lit in module.literals]
    bodies += [_class_source(module, c) for c in _ordered(module.classes)]
    own = module.own
    aliases = []
    for alias, target in sorted(module.aliases.items()):
        if alias in own or alias == target.name:
            continue
        ref = module.ref(target)
        aliases.append(f"{alias} = {ref}\n")
        own.add(alias)
    body = "\n\n".join(bodies)
    if module.shadowed:
        body += "\n\n# Names a field of the same name hides inside a class body.\n" + "".join(
            f"_{name} = {name}\n" for name in sorted(module.shadowed)
        )
    if aliases:
        body += (
            "\n\n# The family's own names of types that are extensions adding nothing to a "
            "shared one.\n" + "".join(aliases)
        )
    exported = sorted(own | module.imported)
    imports = ["from __future__ import annotations", ""]
    if "dt." in body:
        imports.append("import datetime as dt")
    if "Sequence[" in body:
        imports.append("from collections.abc import Sequence")
    imports.append("from dataclasses import dataclass")
    if "Decimal" in body:
        imports.append("from decimal import Decimal")
    typing_names = ["ClassVar"] if "ClassVar" in body else []
    if "TYPE_CHECKING" in body:
        typing_names += ["TYPE_CHECKING", "Any"]
    if "Literal[" in body:
        typing_names += ["Literal", "TypeAlias"]
    if "@overload" in body:
        typing_names.append("overload")
    if typing_names:
        imports.append(f"from typing import {', '.join(sorted(typing_names))}")
    imports.append("")
    base_names = [n for n in ("Model", "Request", "check_choices") if re.search(rf"\b{n}\b", body)]
    if base_names:
        imports.append(f"from ._base import {', '.join(base_names)}")
    if module.qualified:
        imports.append("from . import common as _common")
    if module.imported:
        imports.append(f"from .common import {', '.join(sorted(module.imported))}")
    doc = _module_doc(module.name, operations)
    all_list = ", ".join(f'"{n}"' for n in exported)
    return (
        f'"""{doc}\n\nGENERATED by tools/generate_models.py from anpr-client\'s WSDL bundle; '
        'do not edit.\n"""\n\n' + "\n".join(imports) + f"\n\n__all__ = [{all_list}]\n\n\n" + body
    )


def _ordered(classes: list[Class]) -> list[Class]:
    """By name, a subclass after its base (a base class is evaluated when the class is made)."""
    done: set[int] = set()
    out: list[Class] = []
    names = {id(c) for c in classes}

    def visit(c: Class) -> None:
        if id(c) in done:
            return
        done.add(id(c))
        if c.base is not None and id(c.base) in names:
            visit(c.base)
        out.append(c)

    for c in classes:
        visit(c)
    return out


def _index_source(operations: list[tuple[Operation, str, Class, Class]]) -> str:
    rows = []
    for op, module, request, response in operations:
        ok = ", ".join(f'("{n}", "{c.name}")' for n, c in request.ok)
        rows.append(f'    "{op.code}": ("{module}", "{request.name}", "{response.name}", ({ok},)),')
    loaders = []
    for module in sorted({module for _, module, _, _ in operations} | {COMMON}):
        loaders.append(
            f'    if name == "{module}":\n        from . import {module}\n\n'
            f"        return {module}\n"
        )
    return (
        '"""Which module holds the models of each operation, and the answer branches a '
        "successful call\nreturns (``Client.read``'s outcome → class name).\n\n"
        "GENERATED by tools/generate_models.py from anpr-client's WSDL bundle; do not edit.\n"
        '"""\n\nfrom __future__ import annotations\n\nfrom types import ModuleType\n'
        "from typing import Final\n\n"
        '__all__ = ["OPERATIONS", "load"]\n\n'
        "#: code → (module, request class, response class, ((outcome, OK class), …))\n"
        "OPERATIONS: Final[dict[str, tuple[str, str, str, tuple[tuple[str, str], ...]]]] = {\n"
        + "\n".join(rows)
        + "\n}\n\n\n"
        "def load(name: str) -> ModuleType:\n"
        '    """The models module ``name``, imported on first use: importing '
        "``anpr_client.models``\n    imports no family's models (the imports are spelled out "
        'so that tools see them)."""\n'
        + "".join(loaders)
        + '    raise LookupError(f"no models module {name!r}")\n'
    )


def _format(source: str, module: str) -> str:
    """``source`` with its imports sorted and formatted by ruff (as the tree's checks want)."""
    ruff = str(Path(sys.executable).with_name("ruff"))
    name = f"src/anpr_client/models/{module}.py"
    for args in (
        ["check", "--fix", "--select", "I", "--quiet", "--stdin-filename", name, "-"],
        ["format", "--stdin-filename", name, "-"],
    ):
        done = subprocess.run(
            [ruff, *args], input=source, capture_output=True, text=True, check=False, cwd=ROOT
        )
        if done.returncode:
            raise SystemExit(f"ruff {args[0]} failed on {name}:\n{done.stderr}{done.stdout}")
        source = done.stdout
    return source


GENERATED_MARK = "GENERATED by tools/generate_models.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    parser.add_argument("--wsdl-dir", help="generate from another bundle (development only)")
    args = parser.parse_args()
    sources = render(args.wsdl_dir)
    stale = []
    for module, text in sources.items():
        path = MODELS / f"{module}.py"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
    for path in sorted(MODELS.glob("*.py")):  # generated modules no operation needs any more
        if path.stem not in sources and GENERATED_MARK in path.read_text(encoding="utf-8"):
            if args.check:
                stale.append(f"{path} (no longer generated)")
            else:
                path.unlink()
    if stale:
        print("stale generated models:", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
