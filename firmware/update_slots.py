"""The kiosk's releases side by side (app-level A/B): ``<base>/releases/<version>/``, a ``current`` link that
kiosk.service starts through (``/opt/kiosk/venv`` is a fixed link to ``current/venv``), a ``previous`` link to the last good one, and the updater's record of what it is
trying (``<state>/state.json``) and what happened (``<state>/history.jsonl``, one JSON line per outcome).

Every change is one atomic rename (a new link or file beside the old one, then ``os.replace``) followed by an
fsync of the folder, so a power cut leaves either the old or the new, never half.  While ``state.json`` names a
release as *trying*, nothing is committed: whoever starts next (the updater, or ``kiosk-update recover`` before
kiosk.service at boot) puts the previous release back and writes down why.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


class SlotError(Exception):
    pass


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Slots:
    base: Path  # /opt/kiosk
    state_dir: Path  # /var/lib/kiosk-update

    @property
    def releases(self) -> Path:
        return self.base / "releases"

    @property
    def current_link(self) -> Path:
        return self.base / "current"

    @property
    def previous_link(self) -> Path:
        return self.base / "previous"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def history_file(self) -> Path:
        return self.state_dir / "history.jsonl"

    @property
    def report_file(self) -> Path:
        """The same outcomes, readable by the kiosk (its telemetry reports them: firmware/telemetry_updates.py);
        the state folder is the updater's alone (0700)."""
        return self.base / "update-history.jsonl"

    # ---- reading -------------------------------------------------------------------------------------------
    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"committed": self.current(), "trying": None, "failed": {}}

    def current(self) -> str | None:
        try:
            return Path(os.readlink(self.current_link)).name
        except OSError:
            return None

    def manifest(self, version: str) -> dict:
        return json.loads((self.releases / version / "release.json").read_text(encoding="utf-8"))

    def history(self) -> list[dict]:
        if not self.history_file.exists():
            return []
        return [json.loads(line) for line in self.history_file.read_text(encoding="utf-8").splitlines() if line]

    # ---- writing -------------------------------------------------------------------------------------------
    def save_state(self, state: dict) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        atomic_json(self.state_file, state)

    def record(self, **entry) -> dict:
        entry = {"at": now_iso(), **entry}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        for path in (self.history_file, self.report_file):
            try:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(line)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError:
                if path == self.history_file:
                    raise  # the updater's own record must be written; the kiosk's copy is a courtesy
        return entry

    def point(self, link: Path, version: str) -> None:
        """``link`` -> ``releases/<version>``, atomically (a new link renamed over the old)."""
        tmp = link.with_name(f".{link.name}.new")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(Path("releases") / version, tmp)
        os.replace(tmp, link)
        _fsync_dir(link.parent)

    def unpack(self, bundle: Path, version: str, python: str = sys.executable) -> Path:
        """The bundle into ``releases/<version>/``; with a ``wheels/`` folder, the release's own virtual
        environment, installed offline from them, at its final path (a venv cannot be moved).  ``.complete`` is
        written last: a folder without it is the leftover of a cut and is made again."""
        target = self.releases / version
        if (target / ".complete").exists():
            return target  # unpacked by an earlier, interrupted run
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with tarfile.open(bundle, "r:gz") as tar:
            tar.extractall(target, filter="data")  # no absolute paths, no links out, no devices
        manifest = json.loads((target / "release.json").read_text(encoding="utf-8"))
        if manifest.get("version") != version:
            shutil.rmtree(target)
            raise SlotError(f"the bundle says it is {manifest.get('version')!r}, the signed name says {version}")
        if manifest.get("wheels"):
            subprocess.run([python, "-m", "venv", str(target / "venv")], check=True, timeout=600)
            wheels = sorted(str(p) for p in (target / "wheels").glob("*.whl"))
            subprocess.run([str(target / "venv/bin/python"), "-m", "pip", "install", "--no-index", "--no-deps",
                            "--find-links", str(target / "wheels"), *wheels], check=True, timeout=1800,
                           stdout=subprocess.DEVNULL)
        os.sync()
        (target / ".complete").touch()
        _fsync_dir(target)
        return target

    def prune(self, keep: int = 3) -> list[str]:
        """Remove old releases, never the current or the previous one."""
        state = self.state()
        protected = {self.current(), state.get("committed"), _link_name(self.previous_link)}
        versions = sorted((p.name for p in self.releases.iterdir() if p.is_dir() and not p.name.startswith(".")),
                          key=lambda v: tuple(int(x) for x in v.split(".")))
        removable = [v for v in versions if v not in protected][:-keep or None] if len(versions) > keep else []
        for version in removable:
            shutil.rmtree(self.releases / version)
        return removable


def _link_name(link: Path) -> str | None:
    try:
        return Path(os.readlink(link)).name
    except OSError:
        return None
