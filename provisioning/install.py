"""The *install* step: the kiosk user and its groups (a sysusers.d file), udev rules for stable device names
(``/dev/kiosk-*``), and the units once the systemd issue has landed (until then: none, and the report says so).
Everything is written under the layout's root, so ``--root DIR`` builds an image tree."""
from __future__ import annotations

import os
import shutil
import subprocess

from provisioning.files import atomic_write
from provisioning.layout import Layout

SYSUSERS = """# kiosk-provision: the kiosk runs as this user (no login, no sudo)
u kiosk - "certificate kiosk" /var/lib/kiosk /usr/sbin/nologin
m kiosk dialout
m kiosk lp
m kiosk audio
m kiosk video
m kiosk input
m kiosk gpio
"""

UDEV = """# kiosk-provision: stable names for the kiosk's serial devices (by USB vendor/product; adjust per model)
SUBSYSTEM=="tty", ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6001", SYMLINK+="kiosk-notes", GROUP="dialout", MODE="0660"
SUBSYSTEM=="tty", ATTRS{idVendor}=="067b", ATTRS{idProduct}=="2303", SYMLINK+="kiosk-coins", GROUP="dialout", MODE="0660"
SUBSYSTEM=="usb", ATTRS{idVendor}=="0dd4", SYMLINK+="kiosk-printer", GROUP="lp", MODE="0660"
"""


def install(layout: Layout) -> dict:
    root = layout.root
    sysusers = atomic_write(root / "usr" / "lib" / "sysusers.d" / "kiosk.conf", SYSUSERS)
    udev = atomic_write(root / "etc" / "udev" / "rules.d" / "90-kiosk.rules", UDEV)
    applied = []
    if os.path.realpath(root) == "/" and os.geteuid() == 0:
        for tool, args in (("systemd-sysusers", [str(sysusers)]), ("udevadm", ["control", "--reload"])):
            if shutil.which(tool):
                subprocess.run([tool, *args], check=False, timeout=60)
                applied.append(tool)
    return {"sysusers": str(sysusers), "udev": str(udev), "applied": applied,
            "units": "none yet: the systemd units come with their own issue"}
