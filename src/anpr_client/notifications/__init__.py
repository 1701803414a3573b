"""Notifications from ANPR: the N000 receiver, the 4005 poller, typed events, a durable inbox.

=====================  =========================================================================
:mod:`.events`         typed, frozen events (:class:`ResidenceChanged` for N010…) and decoding
:mod:`.inbox`          :class:`Inbox`: SQLite (WAL), one row per (tipoNotifica, idNotifica)
:mod:`.message`        ``RichiestaN000``/``RispostaN000`` on the wire, and the outcome codes
:mod:`.receiver`       :class:`NotificationReceiver`, the WSGI application of the N000 endpoint
:mod:`.handlers`       :class:`Handlers` (callbacks per type) and the :class:`Dispatcher`
:mod:`.poller`         :class:`Poller`: the 4005 pull, windowed and checkpointed
=====================  =========================================================================

A receiving application in a few lines (see ``docs/notifications.md``)::

    settings = load_settings("anpr.toml")
    inbox = Inbox.from_settings(settings)
    receiver = NotificationReceiver.from_settings(settings, inbox=inbox)   # the WSGI app
    handlers = Handlers()

    @handlers.on_residence_left
    def left(event: ResidenceChanged) -> None: ...

    Dispatcher(inbox, handlers).run_pending()
"""

from .events import (
    NOTIFICATION_TYPES,
    ComuneRef,
    FileRef,
    FilesAvailable,
    Notification,
    OperationResult,
    ResidenceChanged,
    ResidenceRestored,
    SubentroCompleted,
    Subject,
    SupplyNotice,
    decode_notification,
)
from .handlers import Dispatcher, DispatchReport, Handlers
from .inbox import EntryState, Inbox, InboxEntry, InvalidNotification, PullCheckpoint
from .message import Outcome, RichiestaN000, build_request, build_response, read_response
from .poller import MAX_LOOKBACK, MAX_WINDOW, Poller, PullReport, read_notifications
from .receiver import RECEIVER_POLICY, NotificationReceiver, Receipt

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
    "OperationResult",
    "Outcome",
    "Poller",
    "PullCheckpoint",
    "PullReport",
    "Receipt",
    "ResidenceChanged",
    "ResidenceRestored",
    "RichiestaN000",
    "SubentroCompleted",
    "Subject",
    "SupplyNotice",
    "build_request",
    "build_response",
    "decode_notification",
    "read_notifications",
    "read_response",
]
