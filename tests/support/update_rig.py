"""The update tests' world: the city's signing keys and TUF repository made with the real ``kiosk-server updates``
commands, the reference server serving it over HTTPS with mTLS, and a kiosk folder (``/opt/kiosk`` in small) with
its trusted root, kiosk.toml and release 1.0.0 running under the restart stand-in (tests/support/restart_app.py).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from provisioning.toml_text import dumps
from tests.support.kiosk_session import kiosk_config_data
from tests.support.server_process import REPO, _env, start_server, write_config_variant

APP = Path(__file__).with_name("release_app.py")
RESTART = Path(__file__).with_name("restart_app.py")
SELF_VISIT = Path(__file__).with_name("release_self_visit.py")
ROLES = ("root", "targets", "snapshot", "timestamp")


def kiosk_server(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", "updates", *map(str, args)], cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=120)


def release_source(work: Path, version: str, behaviour: str = "good", padding_mb: int = 0) -> Path:
    source = work / f"src-{version}-{behaviour}"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    shutil.copy(APP, source / "app.py")
    shutil.copy(SELF_VISIT, source / "self_visit.py")
    (source / "behaviour").write_text(behaviour)
    (source / "release.json").write_text(json.dumps({"start": [sys.executable, "app.py"]}))
    if behaviour == "bad_wheels":  # a release whose wheels pip refuses (a broken archive)
        (source / "wheels").mkdir()
        (source / "wheels" / "kiosk-0-py3-none-any.whl").write_bytes(b"not a zip")
    if padding_mb:
        (source / "data.bin").write_bytes(os.urandom(padding_mb * 1_000_000))
    return source


@dataclass
class Rig:
    work: Path
    dev: Path
    server: object
    keys: Path
    repo: Path
    kiosk_toml: Path
    base: Path
    run: Path

    def key(self, role: str) -> Path:
        return self.keys / f"{role}.key"

    def build(self, version: str, behaviour: str = "good", padding_mb: int = 0) -> Path:
        out = self.work / "bundles" / f"kiosk-{version}-{behaviour}.tar.gz"
        done = kiosk_server("build", "--source", release_source(self.work, version, behaviour, padding_mb),
                            "--version", version, "--out", out)
        assert done.returncode == 0, done.stderr
        return out

    def publish(self, version: str, behaviour: str = "good", padding_mb: int = 0) -> Path:
        bundle = self.build(version, behaviour, padding_mb)
        done = kiosk_server("add-release", "--repo", self.repo, "--bundle", bundle, "--version", version,
                            "--targets-key", self.key("targets"), "--snapshot-key", self.key("snapshot"),
                            "--timestamp-key", self.key("timestamp"))
        assert done.returncode == 0, done.stderr
        return bundle

    def update(self, command: str = "check", *extra: str, env: dict | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "firmware.update_cli", "--config", str(self.kiosk_toml),
                               command, *extra], cwd=REPO, env={**_env(), **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)

    def restart_app(self) -> None:
        done = subprocess.run([sys.executable, str(RESTART), str(self.base), str(self.run), "10"],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr

    def current(self) -> str:
        return Path(os.readlink(self.base / "current")).name

    def running(self) -> dict:
        """The health the running app reported, and whether its process is alive."""
        health = json.loads((self.run / "health.json").read_text())
        pid = int((self.run / "app.pid").read_text())
        try:
            os.killpg(pid, 0)
            health["alive"] = True
        except ProcessLookupError:
            health["alive"] = False
        return health

    def history(self) -> list[dict]:
        path = self.base / "state" / "history.jsonl"
        return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []

    def stop(self) -> None:
        pid_file = self.run / "app.pid"
        if pid_file.exists():
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.server.stop()


def make_rig(work: Path, dev: Path, *, settle_s: float = 1.0, gate_timeout_s: float = 8.0,
             updates: dict | None = None) -> Rig:
    keys, repo = work / "keys", work / "repo"
    for role in ROLES:
        done = kiosk_server("keygen", "--out", keys / f"{role}.key")
        assert done.returncode == 0, done.stderr
    done = kiosk_server("init", "--repo", repo, *[x for r in ROLES for x in (f"--{r}-key", keys / f"{r}.key")])
    assert done.returncode == 0, done.stderr
    config = write_config_variant(dev, f"updates-{work.name}", database=f"updates-{work.name}.db")
    config.write_text(config.read_text() + f'\n[updates]\nrepository = "{repo}"\n')
    server = start_server(dev, config=config)
    base, run = work / "kiosk", work / "run"
    (base / "releases").mkdir(parents=True)
    (base / "update").mkdir()
    shutil.copy(repo / "metadata" / "1.root.json", base / "update" / "root.json")  # what enrolment pins
    (work / "timesync").mkdir()
    (work / "timesync" / "synchronized").touch()
    data = kiosk_config_data(dev, work, server.url)
    data["updates"] = {
        "base": str(base), "state_dir": str(base / "state"), "trusted_root": str(base / "update" / "root.json"),
        "hold_dir": str(run / "hold"), "health_file": str(run / "health.json"),
        "restart_command": [sys.executable, str(RESTART), str(base), str(run), "6"],
        "log_command": ["tail", "-n", "20", str(run / "app.log")],
        "start_timeout_s": 15, "gate_timeout_s": gate_timeout_s, "settle_s": settle_s, "hold_wait_s": 30,
        "time_sync_flag": str(work / "timesync" / "synchronized"), "use_kernel_clock": False, **(updates or {})}
    kiosk_toml = work / "kiosk.toml"
    kiosk_toml.write_text(dumps(data))
    rig = Rig(work, dev, server, keys, repo, kiosk_toml, base, run)
    run.mkdir()
    (run / "app-answers-hold").touch()
    bundle = rig.build("1.0.0")  # the release the kiosk was imaged with
    subprocess.run(["tar", "-xzf", str(bundle), "-C", str(base / "releases")], check=True)
    (base / "releases" / "1.0.0").mkdir()
    for item in list((base / "releases").iterdir()):
        if item.name != "1.0.0":
            shutil.move(str(item), base / "releases" / "1.0.0" / item.name)
    os.symlink("releases/1.0.0", base / "current")
    rig.restart_app()
    return rig
