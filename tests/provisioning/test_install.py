"""The install step puts the appliance's own files (systemd/) into the kiosk's tree and enables them there, so a
Pi (or an image built with --root) boots straight into the kiosk: units, udev names, folders, log and watchdog
drop-ins, the kiosk user with the group the device nodes belong to."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from provisioning.install import InstallError, install
from provisioning.layout import Layout

REPO = Path(__file__).resolve().parents[2]


def test_install_writes_the_repositorys_appliance_files_into_the_tree(tmp_path):
    result = install(Layout(tmp_path))
    for source, target in (("kiosk.service", "etc/systemd/system/kiosk.service"),
                           ("kiosk-vpn.service", "etc/systemd/system/kiosk-vpn.service"),
                           ("kiosk.target", "etc/systemd/system/kiosk.target"),
                           ("kiosk-update.service", "etc/systemd/system/kiosk-update.service"),
                           ("kiosk-update.timer", "etc/systemd/system/kiosk-update.timer"),
                           ("kiosk-update-recover.service", "etc/systemd/system/kiosk-update-recover.service"),
                           ("udev/60-kiosk.rules", "etc/udev/rules.d/60-kiosk.rules"),
                           ("tmpfiles.d/kiosk.conf", "etc/tmpfiles.d/kiosk.conf"),
                           ("journald.conf.d/kiosk.conf", "etc/systemd/journald.conf.d/kiosk.conf"),
                           ("system.conf.d/kiosk-watchdog.conf", "etc/systemd/system.conf.d/kiosk-watchdog.conf")):
        assert (tmp_path / target).read_bytes() == (REPO / "systemd" / source).read_bytes(), target
        assert (tmp_path / target).stat().st_mode & 0o777 == 0o644
    # the reference server is a city's test rig, never a kiosk
    assert not (tmp_path / "etc/systemd/system/kiosk-server.service").exists()
    assert result["files"] == 11 and "kiosk.target" in result["units"]


def test_the_tree_boots_into_the_kiosk_with_no_login_prompt(tmp_path):
    install(Layout(tmp_path))
    units = tmp_path / "etc/systemd/system"
    assert os.readlink(units / "default.target") == "/etc/systemd/system/kiosk.target"
    wants = {p.name for p in (units / "kiosk.target.wants").iterdir()}
    assert wants == {"kiosk.service", "kiosk-vpn.service", "kiosk-update-recover.service"}
    assert (units / "timers.target.wants" / "kiosk-update.timer").is_symlink()  # the nightly update check
    assert os.readlink(units / "getty@tty1.service") == "/dev/null"  # masked: tty1 is the kiosk's


def test_the_kiosk_user_belongs_to_the_group_that_owns_its_device_nodes(tmp_path):
    install(Layout(tmp_path))
    sysusers = (tmp_path / "usr/lib/sysusers.d/kiosk.conf").read_text()
    rules = (tmp_path / "etc/udev/rules.d/60-kiosk.rules").read_text()
    unit = (tmp_path / "etc/systemd/system/kiosk.service").read_text()
    device_groups = set(re.findall(r'GROUP="([^"]+)"', rules)) - {"root"}
    assert device_groups == {"kiosk-devices"}
    assert re.search(r"^g kiosk-devices\b", sysusers, re.M) and re.search(r"^m kiosk kiosk-devices$", sysusers, re.M)
    supplementary = re.search(r"^SupplementaryGroups=(.*)$", unit, re.M).group(1).split()
    for group in supplementary:  # every group the unit asks for is one the kiosk user is made a member of
        assert re.search(rf"^(m kiosk {group}|g {group})\b", sysusers, re.M), group


def test_the_vpn_state_the_unit_writes_is_the_one_the_kiosk_reads(tmp_path):
    from provisioning.kiosk_toml import VPN_STATE

    layout = Layout(tmp_path)
    install(layout)
    unit = (tmp_path / "etc/systemd/system/kiosk-vpn.service").read_text()
    state = re.search(r"--state (\S+)", unit).group(1)
    assert (layout.etc / VPN_STATE).resolve() == (tmp_path / state.lstrip("/")).resolve() == layout.vpn_state
    for flag, path in (("--network-file", layout.network_file), ("--conf", layout.wireguard_conf),
                       ("--ca", layout.ca), ("--cert", layout.device_cert), ("--key", layout.device_key)):
        assert tmp_path / re.search(rf"{flag} (\S+)", unit).group(1).lstrip("/") == path, flag


def test_a_second_install_changes_nothing_and_fails_nothing(tmp_path):
    install(Layout(tmp_path))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()}
    install(Layout(tmp_path))
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()}
    assert before == after


def test_missing_appliance_files_are_said_in_words(tmp_path):
    with pytest.raises(InstallError, match="run kiosk-provision from a clone"):
        install(Layout(tmp_path / "root"), source=tmp_path / "nowhere")


def _bundle(tmp_path, version: str) -> Path:
    """A release bundle made by the city's own command (``kiosk-server updates build``)."""
    from server.updates_bundle import build_bundle

    source = tmp_path / f"src-{version}"
    source.mkdir()
    (source / "release.json").write_text('{"start": ["venv/bin/kiosk"]}')
    (source / "README").write_text(f"kiosk {version}\n")
    return build_bundle(source, version, tmp_path / f"kiosk-{version}.tar.gz")


def test_the_first_release_is_laid_out_as_the_updater_keeps_every_later_one(tmp_path):
    """kiosk.service starts /opt/kiosk/current/venv/bin/kiosk: provisioning puts the first release where an update
    will switch it (releases/<version>/, current -> it), and the unit starts exactly that path."""
    root = tmp_path / "root"
    result = install(Layout(root), release=_bundle(tmp_path, "1.0.0"))
    base = root / "opt/kiosk"
    assert os.readlink(base / "current") == "releases/1.0.0"
    assert (base / "releases/1.0.0/.complete").exists()
    assert (base / "releases/1.0.0/README").read_text() == "kiosk 1.0.0\n"
    assert result["release"] == "releases/1.0.0, current -> it"
    unit = (root / "etc/systemd/system/kiosk.service").read_text()
    assert re.search(r"^ExecStart=.* /opt/kiosk/current/venv/bin/kiosk ", unit, re.M)
    # the release has no wheels here, so no venv: the report names what is missing instead of claiming it is there
    assert result["software"].startswith("missing: /opt/kiosk/current/venv/bin/kiosk")


def test_a_second_install_keeps_the_release_that_runs(tmp_path):
    """--redo install on a kiosk that has been updated since must not put the image's old release back."""
    root = tmp_path / "root"
    install(Layout(root), release=_bundle(tmp_path, "1.0.0"))
    again = install(Layout(root), release=_bundle(tmp_path, "0.9.0"))
    assert os.readlink(root / "opt/kiosk/current") == "releases/1.0.0"
    assert again["release"].startswith("kept")
    assert not (root / "opt/kiosk/releases/0.9.0").exists()


def test_a_bundle_that_is_not_a_release_is_refused_and_nothing_is_placed(tmp_path):
    bad = tmp_path / "not-a-bundle.tar.gz"
    bad.write_bytes(b"this is not gzip")
    with pytest.raises(InstallError, match="not a kiosk release bundle"):
        install(Layout(tmp_path / "root"), release=bad)
    assert not (tmp_path / "root/opt/kiosk/current").exists()
