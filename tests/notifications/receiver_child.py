"""A receiver process for the crash test: ``python receiver_child.py CONFIG PORT [BARRIER]``.

With ``BARRIER`` (a file path), the process writes that file right after an event is committed
and then blocks before answering, so the parent can kill it between persisting and replying.
Prints ``ready`` once listening.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from anpr_client.notifications import NotificationReceiver
from anpr_client.notifications.events import Notification
from anpr_client.notifications.server import make_server
from anpr_client.settings import load_settings


def main() -> None:
    config, port = Path(sys.argv[1]), int(sys.argv[2])
    barrier = Path(sys.argv[3]) if len(sys.argv) > 3 else None

    def persisted(event: Notification, new: bool) -> None:
        if barrier is not None:
            barrier.write_text(f"{event.kind} {event.id_notifica} {new}")
            threading.Event().wait()  # never answers: the parent kills us here

    receiver = NotificationReceiver.from_settings(load_settings(config), on_persisted=persisted)
    server = make_server(receiver, "127.0.0.1", port, threads=2)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
