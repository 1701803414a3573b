"""A real PostgreSQL server for the tests and the bench: an ephemeral cluster in a temp folder.

``initdb`` and ``pg_ctl`` of Debian's ``postgresql`` package (``/usr/lib/postgresql/<n>/bin``,
or ``$ANPR_PG_BIN``) create and start a cluster listening only on a unix socket in a private
temp folder (no TCP port, nothing reachable from outside), with ``trust`` authentication for
that socket. PostgreSQL refuses to run as root: when the tests run as root (CI containers), the
cluster is created and run as the ``postgres`` system user (``runuser -u postgres --``), which
the package creates, and its folder is given to that user. Any other user runs it directly.

Each test gets a schema of its own (:meth:`Cluster.fresh_url`: a URL whose ``search_path`` is
that schema), so tests never see each other's tables and need no new database.

Missing PostgreSQL skips the tests that need it, with the reason; with
``ANPR_REQUIRE_COMPONENTS=1`` (``.ci/run``) it fails them instead.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

__all__ = ["Cluster", "find_bin", "start_cluster"]

SUPERUSER = "anpr"


def find_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (``$ANPR_PG_BIN``, else the newest Debian one,
    else ``PATH``)."""
    given = os.environ.get("ANPR_PG_BIN")
    if given:
        return Path(given)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Cluster:
    """A running ephemeral cluster (see the module docstring)."""

    def __init__(self, root: Path, bin_dir: Path, prefix: list[str]):
        self.root = root
        self.socket_dir = root / "run"
        self.data = root / "data"
        self._bin = bin_dir
        self._prefix = prefix
        self._schemas = itertools.count(1)

    @property
    def url(self) -> str:
        """The cluster's ``postgres`` database, as its superuser, over the unix socket."""
        query = urllib.parse.urlencode({"host": str(self.socket_dir), "user": SUPERUSER})
        return f"postgresql:///postgres?{query}"

    def fresh_url(self, name: str = "t") -> str:
        """A URL whose ``search_path`` is a new, empty schema of this cluster."""
        import psycopg

        schema = f"{name}_{os.getpid()}_{next(self._schemas)}"
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f'CREATE SCHEMA "{schema}"')
        return self.url + "&" + urllib.parse.urlencode({"options": f"-csearch_path={schema}"})

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._prefix, *args], check=True, capture_output=True, text=True, timeout=120
        )

    def start(self) -> None:
        self._run(
            str(self._bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--no-instructions",
            "-E",
            "UTF8",
        )
        options = f"-c listen_addresses='' -k {self.socket_dir} -c max_connections=200"
        self._run(
            str(self._bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster | str:
    """A started cluster, or why there is none (for the skip or failure message)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg is not installed (pip install -e ".[postgresql]")'
    bin_dir = find_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        return "PostgreSQL is not installed (apt-get install postgresql)"
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="anpr-pg-"))  # short: a socket path has ~100 bytes
    (root / "run").mkdir()
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            return "running as root and there is no 'postgres' user to run PostgreSQL as"
        if runuser is None:
            shutil.rmtree(root, ignore_errors=True)
            return "running as root and runuser is missing (PostgreSQL refuses root)"
        prefix = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(root / "run", "postgres")
    cluster = Cluster(root, bin_dir, prefix)
    try:
        cluster.start()
    except (OSError, subprocess.SubprocessError) as exc:
        log = root / "server.log"
        detail = getattr(exc, "stderr", "") or (log.read_text() if log.exists() else "")
        shutil.rmtree(root, ignore_errors=True)
        return f"the PostgreSQL test cluster did not start: {exc} {detail}".strip()
    return cluster
