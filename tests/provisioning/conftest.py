"""Fixtures: a development world whose server has a [vpn] network, the REAL server on loopback, and helpers that run
`kiosk-server enrol-token` and `kiosk-provision` as the technician does (subprocesses)."""
from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server_process import REPO, make_dev_world, start_server, write_config_variant

VPN_TABLE = """
[vpn]
network = "10.77.0.0/24"
server_address = "10.77.0.1"
listen_port = 51820
endpoint = "10.99.0.1:51820"
private_key = "vpn/server.key"
api_url = "https://127.0.0.1:{port}"   # loopback stands in for the tunnel here (the netns test uses the tunnel)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def env(**extra) -> dict:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO) + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    out.update(extra)
    return out


class World:
    def __init__(self, dev_dir: Path, config: Path, server):
        self.dev_dir, self.config, self.server = dev_dir, config, server
        self.database = dev_dir / "prov.db"

    def server_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=REPO, env=env(), capture_output=True,
                              text=True, timeout=60)

    def payload(self, kiosk_id: str, minutes: int = 60) -> str:
        done = self.server_cli("enrol-token", "--config", str(self.config), "--kiosk-id", kiosk_id, "--staff",
                               "staff-0042", "--valid-minutes", str(minutes), "--url", self.server.url, "--no-qr")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def certificates(self, kiosk_id: str) -> int:
        with sqlite3.connect(self.database) as db:
            return db.execute("SELECT count(*) FROM kiosk_certificates WHERE kiosk_id = ?", (kiosk_id,)).fetchone()[0]

    def token_used(self, kiosk_id: str) -> list:
        with sqlite3.connect(self.database) as db:
            return [r[0] is not None for r in db.execute(
                "SELECT used_at FROM enrolment_tokens WHERE kiosk_id = ?", (kiosk_id,))]

    def answers(self, directory: Path) -> Path:
        path = directory / "answers.toml"
        path.write_text(f"""
[kiosk]
language = "ja"

[devices.card_reader]
driver = "sim"
cards_dir = "{self.dev_dir / 'cards'}"

[screen]
hours = "8:30–17:15 (土日祝休み)"
""", encoding="utf-8")
        return path


def provision(root: Path, *args: str, kill_at: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    extra = {"KIOSK_PROVISION_KILL_AT": kill_at} if kill_at else {}
    if not args or args[0] not in ("status", "renew", "unpair"):
        args = (*args, "--no-tunnel-self-test")  # loopback stands in for the tunnel: no interface in this namespace
    return subprocess.run([sys.executable, "-m", "provisioning.cli", "--root", str(root), *args], cwd=REPO,
                          env=env(COLUMNS="160", **extra), capture_output=True, text=True, timeout=timeout)


def make_update_repository(directory: Path) -> Path:
    keys = {role: directory / "keys" / f"{role}.key" for role in ("root", "targets", "snapshot", "timestamp")}
    for key in keys.values():
        subprocess.run([sys.executable, "-m", "server.cli", "updates", "keygen", "--out", str(key)], cwd=REPO,
                       env=env(), check=True, capture_output=True, timeout=60)
    subprocess.run([sys.executable, "-m", "server.cli", "updates", "init", "--repo", str(directory / "repo"),
                    *[x for role, key in keys.items() for x in (f"--{role}-key", str(key))]], cwd=REPO, env=env(),
                   check=True, capture_output=True, timeout=60)
    return directory / "repo"


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    dev_dir = make_dev_world(tmp_path_factory.mktemp("provision") / "dev")
    config = write_config_variant(dev_dir, "prov", database="prov.db")
    port = free_port()
    repo = make_update_repository(dev_dir / "updates")  # the city's TUF repository, its root pinned at enrolment
    config.write_text(config.read_text(encoding="utf-8") + VPN_TABLE.format(port=port)
                      + f'\n[updates]\nrepository = "{repo}"\n', encoding="utf-8")
    server = start_server(dev_dir, config=config, args=("--port", str(port)))
    yield World(dev_dir, config, server)
    server.stop()
