"""A PostgreSQL server of a test's own, on a free port, that the test may stop and start.

The cluster is made with `initdb` in a temporary folder (trust authentication, loopback
only) and runs as the `postgres` system user, as PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.store.migrations import apply_migrations, ensure_database
from tests.e2e.harness import wait_for
from tests.sim.serve import free_port

BIN = Path(os.environ.get("AGENTOPS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PrivatePostgres:
    def __init__(self) -> None:
        # its own folder: the `postgres` user cannot enter pytest's (mode 0700, root's)
        self.folder = Path(tempfile.mkdtemp(prefix="agentops-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
            ),
            check=True,
            capture_output=True,
        )

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            _as_postgres(
                [
                    str(BIN / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.folder}",
                    "-c",
                    "fsync=off",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._ready, 30, what="the private PostgreSQL to accept connections")

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, as on a restart or a failover."""
        if self.process is not None:
            subprocess.run(
                _as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "stop", "-m", "fast"]),
                check=False,
                capture_output=True,
            )
            self.process.wait(30)
            self.process = None

    def crash(self) -> None:
        """An immediate shutdown: every process quits at once, without a checkpoint, as
        when the server is killed; the next start recovers from the write-ahead log."""
        if self.process is not None:
            subprocess.run(
                _as_postgres(
                    [str(BIN / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate"]
                ),
                check=False,
                capture_output=True,
            )
            self.process.wait(30)
            self.process = None

    def pause(self) -> None:
        """SIGSTOP the server and its sessions: connections hang, as on a stalled host."""
        for pid in self._server_pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._server_pids():
            os.kill(pid, signal.SIGCONT)
        if self.process is not None:  # runuser stops itself when its child stops
            os.kill(self.process.pid, signal.SIGCONT)

    def _server_pids(self) -> list[int]:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(postmaster)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _ready(self) -> bool:
        done = subprocess.run(
            [str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            check=False,
        )
        return done.returncode == 0


@contextmanager
def migrated_server() -> Iterator[PrivatePostgres]:
    """A private server with the `agentops` database migrated; removed afterwards (after
    a test that stopped it with `pause`, too)."""
    server = PrivatePostgres()
    server.start()
    url = server.url("agentops")
    asyncio.run(ensure_database(url))
    asyncio.run(apply_migrations(url))
    try:
        yield server
    finally:
        if server.process is not None:
            server.resume()
        server.remove()
