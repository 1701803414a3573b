"""Generate the typed models of ``anpr_client.models`` from our WSDL bundle.

    python tools/generate_models.py            # rewrite the generated modules
    python tools/generate_models.py --check    # exit 1 if they are out of date (used by a test)

One frozen, keyword-only dataclass per complex type reachable from the chosen operations'
request and response elements; classes are named after the XSD type (``tipoGeneralita`` →
``TipoGeneralita``) or, for anonymous types, after their element (``Risposta3002_OK`` →
``Risposta3002OK``). Fields keep the XML element names.
"""

from __future__ import annotations

import argparse
import keyword
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from anpr_client.soap.bundle import get_bundle  # noqa: E402
from anpr_client.soap.xsdmodel import Node  # noqa: E402

#: module name → (docstring title, operation codes)
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "consultazione": (
        "3000 Consultazione: the eight consultation operations",
        ("3001", "3002", "3003", "3004", "3005", "3006", "3007", "3008"),
    ),
    "connessione": ("TestConn: the connectivity test", ("TestConn",)),
}

_PY_TYPES = {
    "string": "str",
    "normalizedString": "str",
    "token": "str",
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


def _class_name(node: Node) -> str:
    base = node.type_name or node.name
    return re.sub(r"[^0-9A-Za-z]", "", base[:1].upper() + base[1:])


class _Generator:
    def __init__(self) -> None:
        self.classes: dict[str, str] = {}  # class name -> source
        self.signatures: dict[str, tuple[tuple[str, str], ...]] = {}
        self.by_node: dict[int, str] = {}

    def class_for(self, node: Node) -> str:
        if id(node) in self.by_node:
            return self.by_node[id(node)]
        name = _class_name(node)
        self.by_node[id(node)] = name  # recursion guard
        fields = []
        for child_name, child in node.children.items():
            fields.append((child_name, self.annotation(child)))
        sig = tuple(fields)
        existing = self.signatures.get(name)
        if existing is not None and existing != sig:
            i = 2
            while f"{name}{i}" in self.signatures and self.signatures[f"{name}{i}"] != sig:
                i += 1
            name = f"{name}{i}"
            self.by_node[id(node)] = name
        if name not in self.signatures:
            self.signatures[name] = sig
            self.classes[name] = self._source(name, node, fields)
        return name

    def annotation(self, node: Node) -> str:
        if node.is_simple or not node.children:
            inner = _PY_TYPES.get(node.simple_type or "string", "str")
        else:
            inner = self.class_for(node)
        return f"list[{inner}]" if node.repeated else f"{inner} | None"

    @staticmethod
    def _source(name: str, node: Node, fields: list[tuple[str, str]]) -> str:
        what = (
            f"XSD type ``{node.type_name}``"
            if node.type_name
            else f"Content of element ``{node.name}``"
        )
        lines = [
            "@dataclass(frozen=True, kw_only=True)",
            f"class {name}:",
            f'    """{what}."""',
            "",
        ]
        if not fields:
            lines.append("    pass")
        for field_name, ann in fields:
            attr = field_name + ("_" if keyword.iskeyword(field_name) else "")
            if ann.startswith("list["):
                lines.append(f"    {attr}: {ann} = field(default_factory=list)")
            else:
                lines.append(f"    {attr}: {ann} = None")
        return "\n".join(lines) + "\n"


def render(module: str, wsdl_dir: str | None = None) -> str:
    title, codes = MODULES[module]
    bundle = get_bundle(wsdl_dir)
    gen = _Generator()
    roots = []
    for code in codes:
        op = bundle.operation(code)
        for node in (bundle.request_model(op), bundle.response_model(op)):
            roots.append(gen.class_for(node))
            for child in node.children.values():
                if not child.is_simple and child.children:
                    gen.class_for(child)
    body = "\n\n".join(gen.classes[name] for name in sorted(gen.classes))
    uses = body
    imports = ["from __future__ import annotations", ""]
    if "dt." in uses:
        imports.append("import datetime as dt")
    imports.append("from dataclasses import dataclass, field")
    if "Decimal" in uses:
        imports.append("from decimal import Decimal")
    exported = ", ".join(f'"{n}"' for n in sorted(gen.classes))
    source = (
        f'"""Typed models — {title}.\n\n'
        "GENERATED by tools/generate_models.py from anpr-client's WSDL bundle; do not edit.\n"
        '"""\n\n' + "\n".join(imports) + f"\n\n__all__ = [{exported}]\n\n\n" + body
    )
    ruff = Path(sys.executable).with_name("ruff")
    formatted = subprocess.run(
        [str(ruff), "format", "--stdin-filename", f"{module}.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return formatted.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    parser.add_argument("--wsdl-dir", help="generate from another bundle (development only)")
    args = parser.parse_args()
    stale = []
    for module in MODULES:
        path = ROOT / "src" / "anpr_client" / "models" / f"{module}.py"
        text = render(module, args.wsdl_dir)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale generated models:", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
