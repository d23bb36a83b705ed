"""Run the REAL reference certificate server as a subprocess, for server tests and the kiosk's end-to-end tests.

    dev = make_dev_world(tmp_path / "dev")           # kiosk-server devinit (CA, keys, cards, server.toml)
    server = start_server(dev)                       # kiosk-server serve on 127.0.0.1, a free port
    with server.client() as http:                    # httpx with the kiosk's client certificate
        http.get("/v1/health")
    server.stop()                                    # by PID

``start_server`` waits for the server's one stdout line ``listening on https://127.0.0.1:PORT``.  The helpers
import nothing of ``server``: only the command line and files of the development world are used.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from certs.wire import signin_message

REPO = Path(__file__).resolve().parents[2]
KIOSK_ID = "kiosk-dev-01"
_READY = "listening on "


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def make_dev_world(directory: str | Path, *, force: bool = False, server_ips: tuple[str, ...] = ()) -> Path:
    """Run ``kiosk-server devinit --dir DIR`` (``server_ips``: more addresses in the server's certificate, e.g. a
    load balancer's); returns DIR."""
    directory = Path(directory)
    command = [sys.executable, "-m", "server.cli", "devinit", "--dir", str(directory)] + (["--force"] if force else [])
    command += [arg for ip in server_ips for arg in ("--server-ip", ip)]
    subprocess.run(command, check=True, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, timeout=120)
    return directory


def write_config_variant(dev_dir: str | Path, name: str, *, fault: str = "none", database: str | None = None,
                         database_url: str | None = None) -> Path:
    """A second configuration in the same world (same keys), e.g. with a development fault and its own database
    (``database``: an SQLite file in the world; ``database_url``: any URL, e.g. a PostgreSQL database)."""
    dev_dir = Path(dev_dir)
    text = (dev_dir / "server.toml").read_text(encoding="utf-8")
    text = text.replace('fault = "none"', f'fault = "{fault}"')
    url = database_url or f"sqlite:///{database or name + '.db'}"
    text = text.replace('database_url = "sqlite:///server.db"', f'database_url = "{url}"')
    path = dev_dir / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class ServerProcess:
    dev_dir: Path
    process: subprocess.Popen
    port: int
    url: str
    log_path: Path
    _drain: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ca(self) -> Path:
        return self.dev_dir / "tls" / "ca.pem"

    def client_cert(self, kiosk_id: str = KIOSK_ID) -> tuple[Path, Path]:
        return self.dev_dir / "tls" / f"{kiosk_id}.pem", self.dev_dir / "tls" / f"{kiosk_id}-key.pem"

    def ssl_context(self, kiosk_id: str | None = KIOSK_ID) -> ssl.SSLContext:
        """Trust the city CA only; present the kiosk's certificate (none if kiosk_id is None)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if kiosk_id is not None:
            cert, key = self.client_cert(kiosk_id)
            context.load_cert_chain(str(cert), str(key))
        return context

    def client(self, kiosk_id: str | None = KIOSK_ID, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ssl_context(kiosk_id), trust_env=False,
                            timeout=kwargs.pop("timeout", 20.0), **kwargs)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        if self.process.stdout:
            self.process.stdout.close()


def start_server(dev_dir: str | Path, *, config: str | Path | None = None, timeout: float = 30.0,
                 args: tuple[str, ...] = (), repo: str | Path | None = None,
                 command: tuple[str, ...] = ()) -> ServerProcess:
    """Start ``kiosk-server serve`` on 127.0.0.1 with a free port; returns when it listens.  ``args``: more
    ``serve`` options (e.g. ``("--workers", "2")``); ``repo``: another tree's code (a benchmark's baseline);
    ``command``: what to run it under (e.g. ``ip netns exec NAME``)."""
    dev_dir = Path(dev_dir)
    tree = Path(repo) if repo else REPO
    config = Path(config) if config else dev_dir / "server.toml"
    log_file = tempfile.NamedTemporaryFile(prefix="kiosk-server-", suffix=".log", delete=False)
    env = _env()
    env["PYTHONPATH"] = str(tree) + os.pathsep + env["PYTHONPATH"]
    process = subprocess.Popen(
        [*command, sys.executable, "-m", "server.cli", "serve", "--config", str(config), "--port", "0", *args],
        cwd=tree, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True, bufsize=1)
    log_file.close()
    deadline = time.monotonic() + timeout
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(max(0.0, deadline - time.monotonic()))
    line = result[0].strip() if result else ""
    if not line.startswith(_READY):
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
        raise RuntimeError(f"the server did not start (stdout {line!r}); log:\n"
                           + Path(log_file.name).read_text(errors="replace")[-4000:])
    url = line[len(_READY):]
    drain = threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True)  # never block on stdout
    drain.start()
    return ServerProcess(dev_dir, process, int(url.rsplit(":", 1)[1]), url, Path(log_file.name), drain)


def load_card(dev_dir: str | Path, name: str) -> dict:
    return json.loads((Path(dev_dir) / "cards" / f"{name}.json").read_text(encoding="utf-8"))


def jpki_signin_body(card: dict, nonce: str, kiosk_id: str = KIOSK_ID) -> dict:
    """What the kiosk sends for a JPKI sign-in: the card's certificate and its signature of the challenge."""
    key = serialization.load_pem_private_key(card["private_key"].encode("ascii"), password=None)
    signature = key.sign(signin_message(nonce, kiosk_id), padding.PKCS1v15(), hashes.SHA256())
    return {"method": "jpki", "nonce": nonce, "certificate": card["certificate"],
            "signature": base64.b64encode(signature).decode("ascii")}


def sign_in(http: httpx.Client, dev_dir: str | Path, card_name: str, kiosk_id: str = KIOSK_ID) -> dict:
    """Challenge + JPKI sign-in with a simulated card; returns the session reply (raises on a refusal)."""
    nonce = http.post("/v1/signin/challenge", json={}).raise_for_status().json()["nonce"]
    reply = http.post("/v1/signin", json=jpki_signin_body(load_card(dev_dir, card_name), nonce, kiosk_id))
    return reply.raise_for_status().json()
