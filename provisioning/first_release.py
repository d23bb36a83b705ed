"""The kiosk's first release, laid out the way ``kiosk-update`` keeps every later one (firmware/update_slots.py):

    /opt/kiosk/releases/<version>/        the bundle unpacked, with its own venv/ made offline from its wheels/
    /opt/kiosk/current -> releases/<version>   what kiosk.service starts (/opt/kiosk/current/venv/bin/kiosk)
    /opt/kiosk/venv                       the base the updater, its boot-time recovery and the VPN monitor run from;
                                          installed with the image, never switched by an update (an update that
                                          broke its own updater could not roll itself back)

The technician gives ``kiosk-provision --release kiosk-<version>.tar.gz``: the same signed bundle the city
published (``kiosk-server updates build``).  A kiosk that already has a ``current`` release keeps it: from then on
only signed updates change it.
"""
from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

from firmware.update_slots import SlotError, Slots

BASE = Path("opt/kiosk")


class ReleaseError(RuntimeError):
    pass


def bundle_version(bundle: Path) -> str:
    """The version ``release.json`` at the bundle's top names (the same file the updater checks)."""
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            member = tar.extractfile("release.json")
            manifest = json.loads(member.read().decode("utf-8")) if member else {}
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise ReleaseError(f"{bundle}: not a kiosk release bundle ({type(exc).__name__}: {exc})") from None
    version = manifest.get("version")
    if not isinstance(version, str) or not version:
        raise ReleaseError(f"{bundle}: release.json names no version")
    return version


def place(root: Path, bundle: Path | None) -> dict:
    """Unpack ``bundle`` as the first release under ``root``/opt/kiosk and point ``current`` at it."""
    slots = Slots(root / BASE, root / "var/lib/kiosk-update")
    running = slots.current()
    if running is not None:
        return {"release": running, "placed": "kept (already installed; signed updates change it)"}
    if bundle is None:
        return {"release": None, "placed": "missing: give kiosk-provision --release kiosk-<version>.tar.gz "
                "(kiosk-server updates build), then run kiosk-provision --redo install"}
    version = bundle_version(Path(bundle))
    try:
        slots.unpack(Path(bundle), version)
    except (SlotError, OSError, tarfile.TarError) as exc:
        raise ReleaseError(f"{bundle}: {exc}") from None
    slots.point(slots.current_link, version)
    os.sync()
    return {"release": version, "placed": f"releases/{version}, current -> it"}
