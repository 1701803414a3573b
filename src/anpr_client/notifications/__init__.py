"""Notifications from ANPR: the N000 receiver, the 4005 poller, typed events, a durable inbox.

=====================  =========================================================================
:mod:`.events`         typed, frozen events (:class:`ResidenceChanged` for N010…) and decoding
:mod:`.inbox`          :class:`Inbox`: SQLite (WAL), one row per (tipoNotifica, idNotifica)
:mod:`.message`        ``RichiestaN000``/``RispostaN000`` on the wire, and the reply codes
:mod:`.receiver`       :class:`NotificationReceiver`, the WSGI application of the N000 endpoint
:mod:`.handlers`       :class:`Handlers` (callbacks per type) and the :class:`Dispatcher`
:mod:`.poller`         :class:`Poller`: the 4005 pull, windowed, checkpointed and bounded
=====================  =========================================================================

A receiving application in a few lines (see ``docs/notifications.md``)::

    settings = load_settings("anpr.toml")
    inbox = Inbox.from_settings(settings)
    receiver = NotificationReceiver.from_settings(settings, inbox=inbox)   # the WSGI app
    handlers = Handlers()

    @handlers.on_residence_left
    def left(event: ResidenceChanged) -> None: ...

    Dispatcher(inbox, handlers).run_pending()

``build_request`` (ANPR's side of N000: sign and encrypt a push) moved to
:mod:`anpr_client.simulator.push` in 0.2.
"""

from typing import TYPE_CHECKING

from .._compat import moved_names
from .events import (
    NOTIFICATION_TYPES,
    ComuneRef,
    FileRef,
    FilesAvailable,
    Notification,
    OperationResult,
    ResidenceChanged,
    ResidenceRestored,
    ResultItem,
    SubentroCompleted,
    Subject,
    SupplyNotice,
    decode_notification,
)
from .handlers import Dispatcher, DispatchReport, Handlers
from .inbox import EntryState, Inbox, InboxEntry, InvalidNotification, PullCheckpoint
from .message import Outcome, ReplyCode, RichiestaN000, build_response, read_response
from .poller import (
    MAX_LOOKBACK,
    MAX_WINDOW,
    Poller,
    PullReport,
    ReadItems,
    read_items,
    read_notifications,
)
from .receiver import RECEIVER_POLICY, NotificationReceiver, Receipt
from .router import NotificationRouter

__all__ = [
    "MAX_LOOKBACK",
    "MAX_WINDOW",
    "NOTIFICATION_TYPES",
    "RECEIVER_POLICY",
    "ComuneRef",
    "DispatchReport",
    "Dispatcher",
    "EntryState",
    "FileRef",
    "FilesAvailable",
    "Handlers",
    "Inbox",
    "InboxEntry",
    "InvalidNotification",
    "Notification",
    "NotificationReceiver",
    "NotificationRouter",
    "OperationResult",
    "Outcome",
    "Poller",
    "PullCheckpoint",
    "PullReport",
    "ReadItems",
    "Receipt",
    "ReplyCode",
    "ResidenceChanged",
    "ResidenceRestored",
    "ResultItem",
    "RichiestaN000",
    "SubentroCompleted",
    "Subject",
    "SupplyNotice",
    "build_response",
    "decode_notification",
    "read_items",
    "read_notifications",
    "read_response",
]

if not TYPE_CHECKING:  # hidden from type checkers, which keep flagging unknown names
    __getattr__ = moved_names(
        __name__, {"build_request": "anpr_client.simulator.push.build_request"}
    )
