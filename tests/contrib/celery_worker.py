"""A Celery app and worker for the tests: ``python -m tests.contrib.celery_worker BROKER FOLDER
NAME`` runs one worker named NAME (one process: killing it kills the task it runs) over the
registry of the Comuni in FOLDER."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from celery import Celery

from anpr_client import ComuneRegistry
from anpr_client.contrib.celery import register_call_task

VISIBILITY_TIMEOUT = 3
"""Seconds after which Redis gives a task whose worker died to another worker."""


def make_app(broker: str, folder: Path) -> tuple[Celery, Any, ComuneRegistry]:
    app = Celery("anpr-tests", broker=broker, backend=broker)
    app.conf.update(
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        worker_prefetch_multiplier=1,
        task_serializer="json",
        broker_connection_retry_on_startup=True,
    )
    registry = ComuneRegistry.from_path(folder)
    return app, register_call_task(app, registry, retry_delay=0.5), registry


if __name__ == "__main__":
    app, _, _ = make_app(sys.argv[1], Path(sys.argv[2]))
    app.worker_main(
        [
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            f"--hostname={sys.argv[3]}@%h",
        ]
    )
