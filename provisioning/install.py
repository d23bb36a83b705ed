"""The *install* step: the kiosk user and its groups (a sysusers.d file), and the appliance's files from the
repository's ``systemd/`` folder — the units, the udev rules for stable device names (``/dev/kiosk/notes``,
``coins``, ``printer``), tmpfiles.d, the journald and hardware-watchdog drop-ins — enabled so the Pi boots into
the kiosk.  Everything is written under the layout's root, so ``--root DIR`` builds an image tree; enabling uses
``systemctl --root``, which works on a tree offline, so the tree boots the same way the Pi does.

The reference server's unit is for a city's test rig, never a kiosk: it is not installed here."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from provisioning import first_release
from provisioning.files import atomic_write
from provisioning.layout import Layout

SYSTEMD_SOURCE = Path(__file__).resolve().parents[1] / "systemd"

SYSUSERS = """# kiosk-provision: the kiosk runs as this user (no login, no sudo).  kiosk-devices owns the kiosk's device
# nodes (systemd/udev/60-kiosk.rules); the other groups are the display, touch and sound devices'.
g kiosk-devices -
u kiosk - "certificate kiosk" /var/lib/kiosk /usr/sbin/nologin
m kiosk kiosk-devices
m kiosk video
m kiosk render
m kiosk input
m kiosk audio
"""

# (file in systemd/, where it goes under the root)
FILES = (
    ("kiosk.service", "etc/systemd/system/kiosk.service"),
    ("kiosk-vpn.service", "etc/systemd/system/kiosk-vpn.service"),
    ("kiosk.target", "etc/systemd/system/kiosk.target"),
    ("kiosk-update.service", "etc/systemd/system/kiosk-update.service"),
    ("kiosk-update.timer", "etc/systemd/system/kiosk-update.timer"),
    ("kiosk-update-recover.service", "etc/systemd/system/kiosk-update-recover.service"),
    ("udev/60-kiosk.rules", "etc/udev/rules.d/60-kiosk.rules"),
    ("tmpfiles.d/kiosk.conf", "etc/tmpfiles.d/kiosk.conf"),
    ("journald.conf.d/kiosk.conf", "etc/systemd/journald.conf.d/kiosk.conf"),
    ("system.conf.d/kiosk-watchdog.conf", "etc/systemd/system.conf.d/kiosk-watchdog.conf"),
)
ENABLE = ("kiosk.service", "kiosk-vpn.service", "kiosk.target", "kiosk-update.timer", "kiosk-update-recover.service")
# the kiosk takes tty1 (kiosk.service Conflicts=getty@tty1.service): no login prompt is ever shown
MASK = ("getty@tty1.service",)
SOFTWARE = (Path("opt/kiosk/current/venv/bin/kiosk"),  # kiosk.service ExecStart= (the release `current` names)
            Path("opt/kiosk/venv/bin/kiosk-update"))  # the base: updater, recovery, VPN monitor


class InstallError(RuntimeError):
    pass


def install(layout: Layout, source: Path = SYSTEMD_SOURCE, release: Path | None = None) -> dict:
    root = layout.root
    if not (source / "kiosk.service").is_file():
        raise InstallError(f"the appliance's files are not at {source}: run kiosk-provision from a clone of the "
                           "kiosk's repository (its systemd/ folder is installed from there)")
    sysusers = atomic_write(root / "usr" / "lib" / "sysusers.d" / "kiosk.conf", SYSUSERS)
    installed = [str(sysusers.relative_to(root))]
    for name, target in FILES:
        atomic_write(root / target, (source / name).read_text(encoding="utf-8"), mode=0o644)
        installed.append(target)
    live = os.path.realpath(root) == "/" and os.geteuid() == 0
    enabled = _enable(root, live)
    applied = _apply_live() if live else []
    try:
        first = first_release.place(root, release)
    except first_release.ReleaseError as exc:
        raise InstallError(str(exc)) from None
    missing = [f"/{p}" for p in SOFTWARE if not (root / p).exists()]
    return {"units": ", ".join(ENABLE), "files": len(installed), "installed": installed,
            "enabled": enabled, "applied": applied, "release": first["placed"],
            "software": "present" if not missing else
            f"missing: {', '.join(missing)} (the base: python3 -m venv /opt/kiosk/venv && /opt/kiosk/venv/bin/pip "
            "install '.[devices,ui]' from this clone; the release: kiosk-provision --release BUNDLE)"}


def _enable(root: Path, live: bool) -> str:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return "not enabled: systemctl is missing (Debian package systemd)"
    where = [] if live else [f"--root={root}"]
    steps = ([systemctl, *where, "enable", *ENABLE], [systemctl, *where, "mask", *MASK],
             [systemctl, *where, "set-default", "kiosk.target"])
    if live and not Path("/run/systemd/system").is_dir():
        where = [f"--root={root}"]  # a chroot or container building the image: no manager to tell, work offline
        steps = tuple([s[0], *where, *s[1:]] for s in steps)
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise InstallError(f"{' '.join(step[1:])} failed: {result.stderr.strip()[-500:]}")
    return "all of them; kiosk.target the default, getty@tty1 masked"


def _apply_live() -> list[str]:
    """On the Pi itself: make the user, reload udev and systemd, create the folders.  (Not in an image tree.)"""
    applied = []
    for command in (["systemd-sysusers"], ["systemd-tmpfiles", "--create", "/etc/tmpfiles.d/kiosk.conf"],
                    ["udevadm", "control", "--reload"], ["systemctl", "daemon-reload"]):
        if shutil.which(command[0]) and (command[0] != "systemctl" or Path("/run/systemd/system").is_dir()):
            subprocess.run(command, check=False, timeout=60)
            applied.append(command[0])
    return applied
