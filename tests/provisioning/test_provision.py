"""`kiosk-provision` against the REAL server (loopback; the tunnel itself is tests/provisioning/test_tunnel_netns.py):
a whole run, re-runs, kills at every step, refused payloads, renew and unpair.  Each kiosk has its own root."""
from __future__ import annotations

import dataclasses
import json
import stat
import tomllib

import httpx
import pytest

from certs.enrolment_payload import parse_payload
from firmware.config import load_config
from firmware.server_client import tls_context
from provisioning.layout import Layout
from tests.provisioning.conftest import provision

KILL_POINTS = ("payload-saved", "ca-pinned", "device-key", "wireguard-key", "enrolled", "certificate-saved",
               "after-preflight", "after-enrol", "after-vpn", "after-config", "after-install", "after-self-test")


def run_whole(world, tmp_path, kiosk_id: str, **kwargs):
    root = tmp_path / kiosk_id
    done = provision(root, "--payload", world.payload(kiosk_id), "--answers", str(world.answers(tmp_path)), **kwargs)
    return root, done


def health(root) -> int:
    config = load_config(Layout(root).kiosk_toml)
    with httpx.Client(verify=tls_context(config.server), trust_env=False, timeout=10) as client:
        return client.get(config.server.url + "/v1/health").status_code


def test_a_whole_run_ends_ready_with_keys_private_and_no_default_route(world, tmp_path):
    root, done = run_whole(world, tmp_path, "kiosk-prov-01")
    assert done.returncode == 0, done.stdout + done.stderr
    layout = Layout(root)
    report = layout.report_file.read_text()
    assert "READY" in report and "NOT READY" not in report and "server health (mTLS)" in report
    for secret in (layout.device_key, layout.wireguard_key, layout.wireguard_conf):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    assert not layout.pending_payload.exists()
    conf = layout.wireguard_conf.read_text()
    assert "AllowedIPs = 10.77.0.1/32" in conf and "0.0.0.0/0" not in conf and "::/0" not in conf
    network = tomllib.loads(layout.network_file.read_text())
    assert network["address"].startswith("10.77.0.") and network["routes"] == ["10.77.0.1/32"]
    config = load_config(layout.kiosk_toml)  # the kiosk's own loader takes it
    assert config.kiosk_id == "kiosk-prov-01" and config.screen["hours"] == "8:30–17:15 (土日祝休み)"
    assert world.certificates("kiosk-prov-01") == 1 and health(root) == 200
    # the update trust root is the city's, pinned at enrolment (never fetched on first use by the updater)
    assert layout.update_root.read_bytes() == (world.dev_dir / "updates/repo/metadata/root.json").read_bytes()
    assert "report sent to the server" in done.stdout
    listing = world.server_cli("list-kiosks", "--config", str(world.config)).stdout
    assert "READY" in next(line for line in listing.splitlines() if "kiosk-prov-01" in line)
    again = provision(root)  # nothing to type twice, nothing done twice
    assert again.returncode == 0 and again.stdout.count("done before") >= 6, again.stdout
    assert world.certificates("kiosk-prov-01") == 1


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_run_killed_anywhere_resumes_with_exactly_one_enrolment(world, tmp_path, point):
    kiosk_id = f"kiosk-kill-{KILL_POINTS.index(point):02d}"
    root, killed = run_whole(world, tmp_path, kiosk_id, kill_at=point)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    resumed = provision(root, "--answers", str(world.answers(tmp_path)))  # the payload is not typed again
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert world.certificates(kiosk_id) == 1 and health(root) == 200


def test_a_wrong_ca_fingerprint_is_refused_before_any_key_or_csr(world, tmp_path):
    payload = parse_payload(world.payload("kiosk-prov-02"))
    forged = dataclasses.replace(payload, ca_sha256="0" * 64).text()
    root = tmp_path / "k"
    done = provision(root, "--payload", forged)
    assert done.returncode == 1 and "fingerprint" in done.stdout and "nothing was sent" in done.stdout
    assert not Layout(root).device_key.exists() and not Layout(root).ca.exists()
    assert world.token_used("kiosk-prov-02") == [False] and world.certificates("kiosk-prov-02") == 0


def test_an_expired_payload_is_refused_without_touching_the_network(world, tmp_path):
    from datetime import datetime, timedelta, timezone

    payload = parse_payload(world.payload("kiosk-prov-03"))
    stale = dataclasses.replace(payload, url="https://127.0.0.1:9", expires=datetime.now(timezone.utc)
                                - timedelta(minutes=1)).text()  # port 9: a connection would fail differently
    done = provision(tmp_path / "k", "--payload", stale)
    assert done.returncode == 1 and "expired" in done.stdout and "cannot reach" not in done.stdout
    assert world.certificates("kiosk-prov-03") == 0


def test_a_payload_for_another_kiosk_is_refused(world, tmp_path):
    done = provision(tmp_path / "k", "--kiosk-id", "kiosk-prov-04", "--payload", world.payload("kiosk-prov-05"))
    assert done.returncode == 1 and "for kiosk-prov-05, but this kiosk is kiosk-prov-04" in done.stdout
    assert world.certificates("kiosk-prov-05") == 0 and world.token_used("kiosk-prov-05") == [False]


def test_a_replayed_token_on_another_device_enrols_nothing(world, tmp_path):
    payload = world.payload("kiosk-prov-06")
    answers = str(world.answers(tmp_path))
    assert provision(tmp_path / "first", "--payload", payload, "--answers", answers).returncode == 0
    replay = provision(tmp_path / "second", "--payload", payload, "--answers", answers)
    assert replay.returncode == 1 and "enrolment_token_used" in replay.stdout and "new one" in replay.stdout
    assert world.certificates("kiosk-prov-06") == 1
    assert not Layout(tmp_path / "second").pending_payload.exists()


def test_status_lists_the_steps_and_the_certificate_life(world, tmp_path):
    root, done = run_whole(world, tmp_path, "kiosk-prov-07")
    assert done.returncode == 0
    shown = provision(root, "status")
    assert shown.returncode == 0 and "kiosk-prov-07" in shown.stdout and "valid until" in shown.stdout


def test_renew_before_expiry_keeps_the_kiosk_working_without_a_token(world, tmp_path):
    root, done = run_whole(world, tmp_path, "kiosk-prov-08")
    assert done.returncode == 0
    before = json.loads(Layout(root).enrolment_file.read_text())["serial"]
    not_due = provision(root, "renew")
    assert not_due.returncode == 0 and "not due" in not_due.stdout
    renewed = provision(root, "renew", "--force")
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert json.loads(Layout(root).enrolment_file.read_text())["serial"] != before
    assert world.certificates("kiosk-prov-08") == 2 and health(root) == 200


def test_unpair_revokes_on_the_server_and_leaves_no_key_on_disk(world, tmp_path):
    root, done = run_whole(world, tmp_path, "kiosk-prov-09")
    assert done.returncode == 0
    layout = Layout(root)
    config = load_config(layout.kiosk_toml)
    endpoint = dataclasses.replace(config.server)
    keep = tmp_path / "kept"  # a copy of the old credentials, to show the server now refuses them
    keep.mkdir()
    for path in (layout.device_cert, layout.device_key):
        (keep / path.name).write_bytes(path.read_bytes())
    gone = provision(root, "unpair")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    leftovers = [p for p in root.rglob("*") if p.is_file() and (b"PRIVATE KEY" in p.read_bytes()
                                                               or b"PrivateKey" in p.read_bytes())]
    assert leftovers == [] and not layout.wireguard_key.exists() and not layout.network_file.exists()
    old = dataclasses.replace(endpoint, client_cert=keep / "device.pem", client_key=keep / "device-key.pem")
    with httpx.Client(verify=tls_context(old), trust_env=False, timeout=10) as client:
        refused = client.get(config.server.url + "/v1/health")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "kiosk_revoked"
    peers = tmp_path / "wg.conf"
    assert world.server_cli("vpn-config", "--config", str(world.config), "--output", str(peers)).returncode == 0
    assert "kiosk-prov-09" not in peers.read_text()


def test_a_server_that_cannot_be_reached_is_said_in_words(world, tmp_path):
    payload = parse_payload(world.payload("kiosk-prov-10"))
    unreachable = dataclasses.replace(payload, url="https://127.0.0.1:9").text()
    done = provision(tmp_path / "k", "--payload", unreachable)
    assert done.returncode == 1 and "cannot reach the server" in done.stdout and "Traceback" not in done.stderr


def test_unpair_refuses_while_the_journal_holds_money_the_books_do_not_have(world, tmp_path):
    from firmware.journal import Journal

    root, done = run_whole(world, tmp_path, "kiosk-prov-11")
    assert done.returncode == 0
    layout = Layout(root)
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(layout.data_dir / "journal.sqlite")
    journal.open("cd" * 16, kiosk_id="kiosk-prov-11")  # a visit the power cut left open
    journal.close()
    refused = provision(root, "unpair")
    assert refused.returncode == 1 and "1 open transaction" in refused.stdout
    assert layout.device_key.exists() and (layout.data_dir / "journal.sqlite").exists()  # nothing wiped or revoked
