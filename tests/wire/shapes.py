"""The shape of a message: the set of its element paths, namespaces in, prefixes and order
out, repetitions folded (``{ns}Risposta3002/{ns}rispostaKO/testataRisposta/...``)."""

from __future__ import annotations

from lxml import etree

__all__ = ["element_paths"]


def _step(el: etree._Element) -> str:
    qname = etree.QName(el)
    return f"{{{qname.namespace}}}{qname.localname}" if qname.namespace else qname.localname


def element_paths(root: etree._Element, *, below: str | None = None) -> set[str]:
    """Every element path of ``root`` (or of its descendants with the Clark tag ``below``,
    paths starting there)."""
    if below is not None:
        starts = list(root.iter(below))
        return set().union(*(element_paths(el) for el in starts)) if starts else set()
    out: set[str] = set()

    def walk(el: etree._Element, prefix: str) -> None:
        path = f"{prefix}/{_step(el)}" if prefix else _step(el)
        out.add(path)
        for child in el:
            if isinstance(child.tag, str):
                walk(child, path)

    walk(root, "")
    return out
