"""The examples of the README and the docs run as written: against the simulator (in its state
directory, where its ``anpr.toml`` is, with the residents it seeds), and the operations pages'
examples against answers shaped like ANPR's. mypy checks the same modules (``test_mypy``)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from anpr_client import AnprWarning, Client, HttpRequest, HttpResponse, MockTransport, Settings
from anpr_client.models import ok_types
from anpr_client.settings import ValidationSettings
from anpr_client.simulator import SimulatorConfig, running_simulator
from tests.echo import echo_request
from tests.services.support import BUNDLE, SOAP_BODY, sample_answer

from . import examples

DOCS = [
    p
    for p in examples.pages()
    if p.parent != examples.OPERATIONS and examples.module(p) is not None
]
OPERATIONS = [p for p in examples.pages() if p.parent == examples.OPERATIONS and examples.module(p)]


def test_every_block_either_runs_or_says_why_not() -> None:
    for page in examples.pages():
        for block in examples.blocks(page):
            assert block.skipped is None or len(block.skipped) > 10, (page, block.line)
    readme = examples.blocks(examples.ROOT / "README.md")
    assert readme
    assert all(b.skipped is None for b in readme)  # the README's examples all run


@contextlib.contextmanager
def _anpr_warnings_allowed() -> Iterator[None]:
    """ANPR's warnings (W entries) warn, as they would for a user; nothing else may."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("default", AnprWarning)
        yield


@pytest.mark.parametrize("page", DOCS, ids=[examples.name(p) for p in DOCS])
def test_a_docs_page_runs_against_the_simulator(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = examples.module(page)
    assert source is not None
    with running_simulator(SimulatorConfig(state_dir=tmp_path / "anpr-sim")) as sim:
        monkeypatch.chdir(sim.state_dir)  # its anpr.toml, as `anpr simulator serve` writes it
        namespace: dict[str, Any] = {"__name__": examples.name(page)}
        with _anpr_warnings_allowed():
            exec(compile(source, str(page), "exec"), namespace)  # noqa: S102 - our own docs
        client = namespace.get("client")
        if isinstance(client, Client):
            client.close()
        assert sim.internal_errors == ()


def _answering(request: HttpRequest) -> HttpResponse:
    """The first OK branch of the answer to whichever operation ``request`` is."""
    body = etree.fromstring(request.body).find(SOAP_BODY)
    assert body is not None
    element = etree.QName(body[0]).localname
    op = next(o for o in BUNDLE if o.request.localname == element)
    branch = next(iter(ok_types(op.code)))
    answer = echo_request(request.body, sample_answer(op.code, branch))
    return HttpResponse(200, {"content-type": "text/xml"}, answer)


@pytest.mark.parametrize("page", OPERATIONS, ids=[examples.name(p) for p in OPERATIONS])
def test_an_operations_page_runs(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each example builds a valid request (the client validates it against the XSD before
    sending) and gets the typed answer; the answers come from the sample generator."""
    made: list[Client] = []

    def from_config(*_: object, **__: object) -> Client:
        settings = Settings(codice_istat="058091", validation=ValidationSettings(before_send=False))
        made.append(Client(settings, transport=MockTransport(_answering), journal=None))
        return made[-1]

    monkeypatch.setattr(Client, "from_config", from_config)
    source = examples.module(page)
    assert source is not None
    namespace: dict[str, Any] = {"__name__": examples.name(page)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnprWarning)  # sample answers may carry W entries
        exec(compile(source, str(page), "exec"), namespace)  # noqa: S102 - our own docs
        functions: list[Callable[[], None]] = [
            f for n, f in namespace.items() if n.startswith("example_")
        ]
        assert len(functions) == sum(1 for b in examples.blocks(page) if b.skipped is None) - 1
        for example in functions:
            example()
    assert made
