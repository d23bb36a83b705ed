"""A throw-away PostgreSQL cluster for tests and benchmarks: Debian's binaries, a Unix socket in a private temp dir.

    cluster = start_cluster()                     # initdb + pg_ctl start (as user postgres when we are root)
    url = cluster.create_database("server_a")    # postgresql+psycopg://postgres@/server_a?host=SOCKETDIR
    cluster.stop()                                # pg_ctl stop, then SIGKILL by PID; the temp dir is removed

The binaries are found by glob (``/usr/lib/postgresql/*/bin``, newest first) or on PATH; ``scripts/bootstrap.sh``
installs the ``postgresql`` package.  initdb refuses to run as root, so as root every server command runs as the
unprivileged ``postgres`` user (runuser) in a directory that user owns.  The cluster listens on no TCP port at
all: only on a socket in its own directory.  ``durable=False`` (tests) turns fsync off: the data is thrown away.

The pytest fixture ``postgres`` (session scope) starts one cluster the first time a test asks for it and stops it
at the end of the session; with CI=true a missing PostgreSQL fails the test instead of skipping it.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PORT = 5432  # only names the socket file: the cluster listens on its private socket directory, no TCP


def find_bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0, reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_owner(command: list[str]) -> list[str]:
    """Run as ``postgres`` when we are root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--"] + command


@dataclass
class PostgresCluster:
    bin_dir: Path
    root: Path
    pid: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={PORT}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        command = [str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h",
                   str(self.socket_dir), "-p", str(PORT), "-U", "postgres", "-d", database, "-c", sql]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError("database names here are letters, digits and _")
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """pg_ctl stop -m fast; if the postmaster is still there, SIGKILL it by PID.  Removes the directory."""
        try:
            if self.alive():
                subprocess.run(_as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                                          "-t", "20", "stop"]), capture_output=True, timeout=30)
            deadline = time.monotonic() + 5
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.alive():
                os.kill(self.pid, signal.SIGKILL)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(*, durable: bool = False, max_connections: int = 200) -> PostgresCluster:
    """initdb a new cluster in a temp dir and start it; raises RuntimeError with the log if it does not come up."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed (no initdb): run scripts/bootstrap.sh "
                                "(it installs Debian's postgresql package)")
    root = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
    try:
        (root / "socket").mkdir()
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (root, root / "socket"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        os.chmod(root, 0o700)
        data, log = root / "data", root / "server.log"
        subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                  "-E", "UTF8", "--no-locale", "--no-instructions"]),
                       check=True, capture_output=True, timeout=120)
        options = [f"-k {root / 'socket'}", "-c listen_addresses=''", f"-p {PORT}",
                   f"-c max_connections={max_connections}", "-c shared_buffers=64MB"]
        if not durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        started = subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                                            "-t", "60", "-o", " ".join(options), "start"]),
                                 capture_output=True, text=True, timeout=90)
        pid_file = data / "postmaster.pid"
        if started.returncode != 0 or not pid_file.exists():
            text = log.read_text(errors="replace")[-3000:] if log.exists() else started.stderr
            raise RuntimeError(f"PostgreSQL did not start:\n{text}")
        pid = int(pid_file.read_text().splitlines()[0])
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return PostgresCluster(bin_dir, root, pid)


@pytest.fixture(scope="session")
def postgres():
    """One throw-away cluster for the session; tests make their own databases with ``create_database``."""
    try:
        cluster = start_cluster()
    except FileNotFoundError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()
