"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temp dir on a free loopback port.

initdb refuses to run as root, so as root the server runs as the `postgres`
system user (Debian's package creates it) on a directory chowned to it.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

PG_BIN_CANDIDATES = [Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
SUPERUSER = "postgres"


def find_pg_bin() -> Path | None:
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    return next((p for p in PG_BIN_CANDIDATES if (p / "pg_ctl").exists()), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="todo-pg-"))
        self.data_dir = self.root / "data"
        self.port = free_port()
        self._run_as = self._system_user_if_root()

    def _system_user_if_root(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        owner = pwd.getpwnam("postgres")
        os.chown(self.root, owner.pw_uid, owner.pw_gid)
        return ["runuser", "-u", "postgres", "--"]

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run([*self._run_as, str(self.bin_dir / tool), *args], check=True, capture_output=True, cwd=self.root)

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        # Durability is irrelevant for throwaway data; these make the tests much faster.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True) as conn:
            conn.execute(sql)

    def remove(self) -> None:
        try:
            # Immediate: the data is thrown away, so skip the shutdown checkpoint.
            self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
