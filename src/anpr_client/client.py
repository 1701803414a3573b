"""The ANPR client: the binding, the journal and the typed faces, composed for one Comune.

>>> client = Client(load_settings("anpr.toml"))          # doctest: +SKIP
>>> result = client.call("3002", {"criteriRicerca": {...}, "datiRichiesta": {...}})  # +SKIP

The message work (build a request, send it, read the answer) is the
:class:`~anpr_client.soap.binding.Binding`'s, which sits below the client as zeep's binding sits
below its ``Client``; with a journal, :meth:`Client.call` hands the binding to the reliable call
(:mod:`anpr_client.journal.reliable`), which records every attempt and retries safely. The client
adds the typed faces, one per family (:attr:`Client.registrations`, :attr:`Client.changes`,
:attr:`Client.consultazione`… see :mod:`anpr_client.services`), :meth:`Client.typed_call` for
any operation by code, :meth:`Client.test_connection`, :meth:`Client.zeep_service`, and one
constructor whose defaults are the settings'.

A client is cheap to create (the bundle is parsed once per process and shared) and safe to use
from several threads: it keeps no per-call state. The security frame and transport it holds must
be thread-safe too (ours are).
"""

from __future__ import annotations

import enum
import functools
import os
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .results import PreparedRequest, Result
from .settings import Settings, load_settings
from .soap.binding import Binding, WsseHook
from .soap.bundle import Bundle, Operation
from .transport import HttpResponse, HttpTransport, Transport

if TYPE_CHECKING:
    from .credentials.base import KeySource
    from .journal import Journal, Repository
    from .models import Request
    from .services.agencies import Agencies
    from .services.aire import Aire
    from .services.cancellations import Cancellations
    from .services.certificates import Certificates
    from .services.changes import Changes
    from .services.citizen_requests import CitizenRequests
    from .services.consulates import Consulates
    from .services.consultazione import Consultazione
    from .services.extractions import Extractions
    from .services.identity_cards import IdentityCards
    from .services.registrations import Registrations
    from .services.tables import Tables
    from .services.takeover import Takeover

__all__ = ["FROM_SETTINGS", "Client", "FromSettings", "WsseHook", "client_from_settings"]

T = TypeVar("T")


class FromSettings(enum.Enum):
    """The type of :data:`FROM_SETTINGS` (an enum, so that type checkers narrow on it)."""

    FROM_SETTINGS = "from settings"

    def __repr__(self) -> str:
        return "FROM_SETTINGS"


FROM_SETTINGS: Final = FromSettings.FROM_SETTINGS
""""Not given: as the settings say" (httpx's ``USE_CLIENT_DEFAULT``); ``None`` means "off"."""


class Client:
    """An ANPR client for one Comune (see :class:`~anpr_client.settings.Settings`).

    ``Client(settings)`` is ready as the settings say: ``wsse`` and ``journal`` left out (or
    given as :data:`FROM_SETTINGS`) are built from the settings, and ``None`` switches them
    off; ``transport`` and ``bundle`` left out (or ``None``) are the settings' defaults.

    :param transport: where requests go; default: HTTPS with the settings' TLS context (server
        trust from ``ca_bundle``, mutual TLS when ``[tls_client]`` is set), made on first use.
    :param wsse: the WS-Security frame (see :mod:`anpr_client.security`); default: built from
        ``[comune_key]``, ``[workstation]``, ``[operator]`` and ``[security]`` when a Comune key
        is configured (else requests go unsigned); ``None``: unsigned.
    :param journal: the operation journal (:class:`anpr_client.journal.Journal`, or another
        :class:`~anpr_client.journal.Repository`); default:
        **on**, in the file the settings name (``journal``, ``$ANPR_JOURNAL``; else
        ``<user data dir>/anpr-client/journal.sqlite``) unless they switch it off
        (``journal = false``, ``ANPR_JOURNAL=off``); ``None``: no journal. With a journal,
        :meth:`call` records every operation and retries safely (same ``idOperazioneComune``
        on an unknown outcome, see :mod:`anpr_client.journal.reliable`); ``prepare``,
        ``transmit``, ``read`` and ``send`` never journal.
    :param bundle: the WSDL/XSD bundle; default: the one ``settings.wsdl_dir`` names (ours
        when unset).
    :param secret: called with a label to get a PIN or password that the settings' environment
        variables do not provide (keys of the frame and of mutual TLS, the journal key).

    :meth:`from_config` is the same constructor from a settings file.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport | None = None,
        wsse: WsseHook | FromSettings | None = FROM_SETTINGS,
        journal: Repository | FromSettings | None = FROM_SETTINGS,
        bundle: Bundle | None = None,
        secret: Callable[[str], str] | None = None,
    ):
        if wsse is FROM_SETTINGS:
            wsse = None
            if settings.comune_key is not None:
                from .security.frame import WsSecurity

                wsse = WsSecurity.from_settings(settings, secret=secret)
        self._owns_journal = journal is FROM_SETTINGS
        if journal is FROM_SETTINGS:
            journal = None
            if settings.journal_enabled:
                from .journal import SqlJournal as _Journal

                journal = _Journal.from_settings(settings, secret=secret)
        self.binding = Binding(
            settings, bundle=bundle, transport=transport, wsse=wsse, secret=secret
        )
        """The message work: build, send, read (:class:`~anpr_client.soap.binding.Binding`)."""
        self.journal: Repository | None = journal
        self._borrowed = False

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Client:
        """``Client(load_settings(path), **kwargs)``: a client from a settings file (or
        ``$ANPR_CONFIG``) and the environment, with the constructor's defaults."""
        return cls(load_settings(path), **kwargs)

    @property
    def settings(self) -> Settings:
        return self.binding.settings

    @property
    def bundle(self) -> Bundle:
        return self.binding.bundle

    @property
    def wsse(self) -> WsseHook | None:
        """The security frame requests are signed with (``None``: unsigned)."""
        return self.binding.wsse

    @property
    def transport(self) -> Transport:
        """The transport; by default HTTPS with the settings' TLS context, made on first use
        (so a dry run never opens key files)."""
        return self.binding.transport

    # ------------------------------------------------------------------ the faces

    @property
    def registrations(self) -> Registrations:
        """1000 Iscrizione: births, arrivals… (:class:`~.services.registrations.Registrations`)."""
        from .services.registrations import Registrations

        return Registrations(self)

    @property
    def cancellations(self) -> Cancellations:
        """2000 Cancellazione: deaths, other cancellations
        (:class:`~.services.cancellations.Cancellations`)."""
        from .services.cancellations import Cancellations

        return Cancellations(self)

    @property
    def consultazione(self) -> Consultazione:
        """Typed methods of the 3000 family (:class:`~.services.consultazione.Consultazione`)."""
        from .services.consultazione import Consultazione

        return Consultazione(self)

    @property
    def extractions(self) -> Extractions:
        """4000 Estrazione, 4005 included (:class:`~.services.extractions.Extractions`)."""
        from .services.extractions import Extractions

        return Extractions(self)

    @property
    def changes(self) -> Changes:
        """5000 Mutazione: moves, household changes, corrections
        (:class:`~.services.changes.Changes`)."""
        from .services.changes import Changes

        return Changes(self)

    @property
    def certificates(self) -> Certificates:
        """6001 Certificazione (:class:`~.services.certificates.Certificates`)."""
        from .services.certificates import Certificates

        return Certificates(self)

    @property
    def tables(self) -> Tables:
        """7001 Scarico tabelle: reference tables (:class:`~.services.tables.Tables`)."""
        from .services.tables import Tables

        return Tables(self)

    @property
    def aire(self) -> Aire:
        """A000 AIRE: Italians resident abroad (:class:`~.services.aire.Aire`)."""
        from .services.aire import Aire

        return Aire(self)

    @property
    def identity_cards(self) -> IdentityCards:
        """CIE: electronic identity cards (:class:`~.services.identity_cards.IdentityCards`)."""
        from .services.identity_cards import IdentityCards

        return IdentityCards(self)

    @property
    def consulates(self) -> Consulates:
        """CONSOLATI: for consular offices (:class:`~.services.consulates.Consulates`)."""
        from .services.consulates import Consulates

        return Consulates(self)

    @property
    def agencies(self) -> Agencies:
        """E000 Enti: E001…E004, for other public bodies (:class:`~.services.agencies.Agencies`)."""
        from .services.agencies import Agencies

        return Agencies(self)

    @property
    def citizen_requests(self) -> CitizenRequests:
        """P000: requests citizens file online
        (:class:`~.services.citizen_requests.CitizenRequests`)."""
        from .services.citizen_requests import CitizenRequests

        return CitizenRequests(self)

    @property
    def takeover(self) -> Takeover:
        """S001 Subentro: the takeover files (:class:`~.services.takeover.Takeover`)."""
        from .services.takeover import Takeover

        return Takeover(self)

    def test_connection(self, *, header: Mapping[str, Any] | None = None) -> Result[Any]:
        """TestConn: checks connectivity, the security frame and the operator's profile."""
        from .models.connessione import RispostaConnessione
        from .services._typed import typed_call

        return typed_call(self, "TestConn", {}, RispostaConnessione, header)

    def zeep_service(self, family: str) -> Any:
        """A stock zeep service proxy for one family (needs ``anpr-client[zeep]``).

        For callers who prefer zeep's object API: it uses this client's bundle, the endpoint of
        the configured environment, the same TLS session and the same security frame (zeep's
        ``wsse=`` hook). zeep's own strict parsing applies to its answers, and nothing is
        journaled or pre-checked: the typed methods and :meth:`call` are the supported path.
        """
        try:
            import zeep
            from zeep.transports import Transport as ZeepTransport
        except ModuleNotFoundError:
            from .errors.exceptions import ConfigurationError

            raise ConfigurationError(
                "zeep_service() needs zeep: pip install 'anpr-client[zeep]'", setting="zeep"
            ) from None
        transport = self.transport
        if not isinstance(transport, HttpTransport):
            from .errors.exceptions import ConfigurationError

            raise ConfigurationError(
                "zeep_service() needs the HTTPS transport", setting="transport"
            )
        document = self.bundle.document(family)
        zeep_client = zeep.Client(  # type: ignore[no-untyped-call]  # zeep is untyped
            document,
            transport=ZeepTransport(  # type: ignore[no-untyped-call]
                session=transport.session,
                timeout=self.settings.timeouts.connect,
                operation_timeout=self.settings.timeouts.read,
            ),
            wsse=self.wsse,
        )
        (wsdl_binding,) = document.bindings
        url = self.settings.url_for(family)
        return zeep_client.create_service(wsdl_binding, url)  # type: ignore[no-untyped-call]

    def for_desk(
        self,
        *,
        operator: str | None = None,
        workstation_id: str | None = None,
        workstation_key: KeySource | None = None,
    ) -> Client:
        """This client for another desk: requests signed for ``operator`` (the SAML NameID)
        and, optionally, another workstation, over the same transport, journal and Comune key.

        For a service where several operators work for one Comune: the operator is chosen per
        call (``client.for_desk(operator=cf).call(...)``) and a desk costs one small frame
        (:meth:`WsSecurity.for_desk <anpr_client.security.frame.WsSecurity.for_desk>`).
        Closing the returned client does nothing: what it uses belongs to this one.

        :param operator: the operator's codice fiscale (ANPR's generic test users only in the
            test environment, as in ``[operator]``); default: this client's.
        :param workstation_id: ``IdPostazione``; default: this client's workstation.
        :param workstation_key: the key of ``workstation_id`` (``IdPostazioneFirmato``).
        """
        from .errors.exceptions import ConfigurationError
        from .security.frame import WsSecurity
        from .settings import OperatorSettings

        if not isinstance(self.wsse, WsSecurity):
            raise ConfigurationError(
                "for_desk() needs a client that signs with this library's frame "
                "([comune_key], [workstation], [operator])",
                setting="comune_key",
                rule="a WsSecurity frame",
            )
        if operator is not None:  # checked for the environment, as [operator] is
            operator = self.settings.replace(
                operator=OperatorSettings(codice_fiscale=operator)
            ).operator_id
        frame = self.wsse.for_desk(
            operator=operator,
            workstation_id=workstation_id,
            workstation_key=workstation_key,
            validate_operator=False,
        )
        view = Client(
            self.settings,
            transport=self.transport,
            wsse=frame,
            journal=self.journal,
            bundle=self.bundle,
        )
        view._borrowed = True
        return view

    def close(self) -> None:
        """Close the transport, and the journal when the client opened it from the settings
        (a journal given to it stays open). A client made by :meth:`for_desk` closes nothing."""
        if self._borrowed:
            return
        self.binding.close()
        if self._owns_journal and self.journal is not None:
            self.journal.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the exchange

    def operation(self, code: str | Operation) -> Operation:
        return self.binding.operation(code)

    def prepare(
        self,
        operation: str | Operation,
        payload: Mapping[str, Any] | Any = None,
        *,
        header: Mapping[str, Any] | None = None,
        sign: bool = True,
        check: bool | None = None,
    ) -> PreparedRequest:
        """Build (and sign) the request; nothing is sent (:meth:`Binding.prepare
        <anpr_client.soap.binding.Binding.prepare>`)."""
        return self.binding.prepare(operation, payload, header=header, sign=sign, check=check)

    def transmit(self, prepared: PreparedRequest) -> HttpResponse:
        """Send prepared bytes and return the raw HTTP answer (no parsing, no journal)."""
        return self.binding.transmit(prepared)

    def send(self, prepared: PreparedRequest) -> Result[dict[str, Any]]:
        """Send a prepared request and read the answer (no journal; see :meth:`read`)."""
        return self.binding.send(prepared)

    def read(
        self,
        operation: str | Operation,
        response: HttpResponse,
        *,
        request: PreparedRequest | Mapping[str, Any] | None = None,
    ) -> Result[dict[str, Any]]:
        """Read an HTTP answer to ``operation`` (:meth:`Binding.read
        <anpr_client.soap.binding.Binding.read>`): the OK branch as a :class:`Result`, or the
        KO, fault or protocol error raised. With ``request``, an answer that does not echo it
        raises :class:`~anpr_client.errors.EchoMismatch`, and a prepared request sharpens the
        diagnosis of an ``Internal Error (from client)``."""
        return self.binding.read(operation, response, request=request)

    def call(
        self,
        operation: str | Operation,
        payload: Mapping[str, Any] | Any = None,
        *,
        header: Mapping[str, Any] | None = None,
    ) -> Result[dict[str, Any]]:
        """Build, sign, send and read: the generic entry point for every operation.

        With a journal, the operation is recorded and retried safely (see ``journal=``).
        """
        if self.journal is not None:
            from .journal.reliable import journaled_call

            return journaled_call(self.binding, self.journal, operation, payload, header=header)
        return self.binding.send(self.binding.prepare(operation, payload, header=header))

    def typed_call(
        self,
        operation: str,
        request: Request[T],
        *,
        header: Mapping[str, Any] | None = None,
    ) -> Result[T]:
        """:meth:`call` with a request model (:func:`anpr_client.models.request_type`); the
        answer's OK branch comes back as its model, typed for mypy (``Result[Risposta3002OK]``
        for a ``Richiesta3002``). See :func:`anpr_client.services._typed.call`."""
        result: Result[T] = _typed_call()(self, operation, request, header=header)
        return result


@functools.cache
def _typed_call() -> Callable[..., Result[Any]]:
    """:func:`anpr_client.services._typed.call`, imported on the first typed call (importing
    the client imports no models) and once: an import statement in :meth:`Client.typed_call`
    would resolve the module again on every call."""
    from .services._typed import call

    return call


def client_from_settings(
    settings: Settings,
    *,
    sign: bool = True,
    secret: Callable[[str], str] | None = None,
    transport: Transport | None = None,
    journal: Journal | bool | None = None,
) -> Client:
    """Deprecated: ``Client(settings, ...)`` is the one constructor, with the same defaults.

    ``sign=False`` is ``wsse=None``; ``journal=False`` is ``journal=None``; ``journal=None``
    (as the settings say) is leaving ``journal`` out; ``journal=True`` opens the settings'
    journal even when they switch it off.
    """
    warnings.warn(
        "client_from_settings() is deprecated: use Client(settings, ...), which builds the "
        "same client (wsse=None for sign=False, journal=None for journal=False)",
        DeprecationWarning,
        stacklevel=2,
    )
    chosen: Repository | FromSettings | None = FROM_SETTINGS
    if journal is True:
        from .journal import Journal as _Journal

        chosen = _Journal.from_settings(settings.replace(journal_enabled=True), secret=secret)
    elif journal is False:
        chosen = None
    elif journal is not None:
        chosen = journal
    return Client(
        settings,
        transport=transport,
        wsse=FROM_SETTINGS if sign else None,
        journal=chosen,
        secret=secret,
    )
