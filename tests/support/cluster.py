"""A PostgreSQL cluster of a test's own, in a temporary folder, that the test may stop and
start: the machine's shared server at 127.0.0.1:5432, which other tests use, is never stopped.

Its binaries are this machine's PostgreSQL (``/usr/lib/postgresql/<version>/bin``), else the
ones pgserver ships inside the venv (a machine with no PostgreSQL installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pgserver
from pgserver.utils import ensure_user_exists

from benchsync.demo.processes import free_port

SYSTEM_BINARIES = Path("/usr/lib/postgresql")
PGSERVER_BINARIES = Path(pgserver.__file__).parent / "pginstall" / "bin"
# PostgreSQL refuses to run as root; as root the cluster runs as the user pgserver uses.
SERVER_SYSTEM_USER = "pgserver"


def postgres_binaries() -> Path:
    """The newest installed PostgreSQL's bin folder, else pgserver's."""
    installed = sorted(
        (path for path in SYSTEM_BINARIES.glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    return installed[-1] if installed else PGSERVER_BINARIES


@dataclass(frozen=True)
class Cluster:
    """A cluster listening on 127.0.0.1:``port`` (and a socket in its folder), trust auth."""

    folder: Path
    binaries: Path
    port: int
    system_user: str | None
    # A cluster that only tests use may skip flushing to disk: nothing survives the session.
    durable: bool = True

    @property
    def url(self) -> str:
        """Its ``postgres`` database, as superuser ``postgres``: tests create theirs from it."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data_directory(self) -> Path:
        return self.folder / "data"

    def initialize(self) -> None:
        self._checked("initdb", "-D", str(self.data_directory), "-U", "postgres", "--auth=trust")

    def start(self) -> None:
        """Start the server, once it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._pg_ctl("-l", str(self.folder / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        """Stop it as an operator would for maintenance: ``fast`` ends every session at once."""
        self._pg_ctl("-m", "fast", "stop")

    @property
    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data_directory), "status").returncode == 0

    def _pg_ctl(self, *arguments: str) -> None:
        self._checked("pg_ctl", "-D", str(self.data_directory), "-w", *arguments)

    def _checked(self, program: str, *arguments: str) -> None:
        done = self._run(program, *arguments)
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(arguments)} exited {done.returncode}:\n{done.stdout}"
                f"{done.stderr}(server log: {self.folder / 'server.log'})"
            )

    def _run(self, program: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binaries / program), *arguments],
            user=self.system_user,
            capture_output=True,
            text=True,
            timeout=120,
        )


@contextmanager
def throwaway_cluster(*, durable: bool = True) -> Iterator[Cluster]:
    """A new cluster, running; stopped and deleted afterwards."""
    system_user = SERVER_SYSTEM_USER if os.geteuid() == 0 else None
    # Under /tmp, not pytest's tmp_path: the server's user must be able to reach the folder.
    with tempfile.TemporaryDirectory(prefix="benchsync-cluster-") as folder:
        if system_user is not None:
            ensure_user_exists(system_user)
            shutil.chown(folder, user=system_user)
        cluster = Cluster(Path(folder), postgres_binaries(), free_port(), system_user, durable)
        cluster.initialize()
        cluster.start()
        try:
            yield cluster
        finally:
            if cluster.running:
                cluster.stop()
