"""A PostgreSQL server of a test's own (Debian's `postgresql`), for Pulumi's `postgres://` backend."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


class Postgres:
    """A server on 127.0.0.1 with its data in a folder of its own under /tmp (the `postgres` user
    runs it, as the server refuses root, and must reach the folder); ``url(database)`` is a
    backend URL for it. ``stop()`` stops it and removes the folder."""

    def __init__(self):
        assert BIN, "PostgreSQL is missing: `bin/fleet test` installs Debian's postgresql"
        self.bin = BIN[-1]
        self.folder = folder = Path(tempfile.mkdtemp(prefix="openclaw-fleet-pg-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        shutil.chown(folder, "postgres")
        self._as_postgres("initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "fleet")
        options = f"-p {self.port} -k {folder} -c listen_addresses=127.0.0.1"
        self._as_postgres("pg_ctl", "-D", str(folder / "data"), "-o", options, "-l", str(folder / "log"), "-w", "start")

    def _as_postgres(self, tool: str, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args], check=True, capture_output=True
        )

    def url(self, database: str) -> str:
        """Create ``database`` and return its backend URL."""
        self._as_postgres("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "fleet", database)
        return f"postgres://fleet@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def keys(self, database: str, like: str) -> list[str]:
        """The keys of the backend's blobs (table ``pulumi_state``) that match ``like`` (SQL LIKE)."""
        query = f"SELECT key FROM pulumi_state WHERE key LIKE '{like}'"
        result = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "fleet", "-At", "-c", query, database],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.split()

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
