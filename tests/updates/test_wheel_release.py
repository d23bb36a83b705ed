"""A real release carries wheels, not a venv: the kiosk makes the release's own virtual environment and installs
the wheels into it offline (``pip --no-index``), at its final path (firmware/update_slots.py).  Tested with a
wheel built here (a zip with the wheel format's metadata), since the kiosk has no package index to reach."""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from firmware.update_slots import SlotError, Slots
from server.updates_bundle import build_bundle


def _wheel(folder: Path, version: str) -> Path:
    name = f"kiosk_probe-{version}-py3-none-any.whl"
    files = {"kiosk_probe/__init__.py": f'VERSION = "{version}"\n'.encode(),
             f"kiosk_probe-{version}.dist-info/METADATA":
                 f"Metadata-Version: 2.1\nName: kiosk-probe\nVersion: {version}\n".encode(),
             f"kiosk_probe-{version}.dist-info/WHEEL":
                 b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
              f"{len(data)}" for path, data in files.items()]
    files[f"kiosk_probe-{version}.dist-info/RECORD"] = ("\n".join(record + [
        f"kiosk_probe-{version}.dist-info/RECORD,,"]) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / name, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return folder / name


def _bundle(tmp_path: Path, version: str, wheel_version: str | None = None) -> Path:
    source = tmp_path / f"src-{version}"
    _wheel(source / "wheels", wheel_version or version)
    (source / "release.json").write_text(json.dumps({"start": ["venv/bin/python", "-m", "kiosk_probe"]}))
    return build_bundle(source, version, tmp_path / f"kiosk-{version}.tar.gz")


def test_a_release_with_wheels_gets_its_own_venv_installed_offline(tmp_path):
    slots = Slots(tmp_path / "opt-kiosk", tmp_path / "state")
    target = slots.unpack(_bundle(tmp_path, "2.0.0"), "2.0.0")
    python = target / "venv" / "bin" / "python"
    done = subprocess.run([str(python), "-c", "import kiosk_probe, sys; print(kiosk_probe.VERSION, sys.prefix)"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    version, prefix = done.stdout.split()
    assert version == "2.0.0" and Path(prefix) == target / "venv"  # its own environment, at its final path
    assert (target / ".complete").exists()


def test_a_bundle_whose_wheels_do_not_install_leaves_no_complete_release(tmp_path):
    """A wheel that pip refuses (a broken archive) fails the unpack: the folder is never marked complete, so the
    updater never switches to it, and the next try makes it again from the start."""
    source = tmp_path / "src"
    (source / "wheels").mkdir(parents=True)
    (source / "wheels" / "kiosk_probe-1.0.0-py3-none-any.whl").write_bytes(b"not a zip")
    (source / "release.json").write_text(json.dumps({"start": ["venv/bin/python"]}))
    bundle = build_bundle(source, "1.0.0", tmp_path / "kiosk-1.0.0.tar.gz")
    slots = Slots(tmp_path / "opt-kiosk", tmp_path / "state")
    with pytest.raises((subprocess.CalledProcessError, SlotError)):
        slots.unpack(bundle, "1.0.0")
    assert not (slots.releases / "1.0.0" / ".complete").exists()


def test_the_updater_refuses_a_release_that_does_not_install_and_keeps_the_running_one(rig):
    rig.publish("1.1.0", "bad_wheels")
    done = rig.update("check")
    result = json.loads(done.stdout)
    assert done.returncode == 1 and result["outcome"] == "refused" and result["reason"] == "unpack_failed", result
    assert rig.current() == "1.0.0" and rig.running()["release"] == "1.0.0" and rig.running()["alive"]
    assert not (rig.run / "hold" / "request.json").exists()  # the kiosk was never asked to go out of service
    assert rig.history()[-1]["reason"] == "unpack_failed"
