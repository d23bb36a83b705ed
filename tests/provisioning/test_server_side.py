"""The server's side of provisioning: enrol-token's payload (text, terminal QR, PNG), the WireGuard peers and their
addresses, vpn-config without revoked kiosks, list-kiosks."""
from __future__ import annotations

import ipaddress

import zxingcpp
from PIL import Image

from certs.enrolment_payload import parse_payload
from provisioning.layout import Layout
from tests.provisioning.conftest import provision


def test_enrol_token_prints_the_payload_as_text_and_qr_and_png(world, tmp_path):
    png = tmp_path / "payload.png"
    done = world.server_cli("enrol-token", "--config", str(world.config), "--kiosk-id", "kiosk-qr-01", "--staff",
                            "staff-0042", "--url", world.server.url, "--png", str(png))
    assert done.returncode == 0, done.stderr
    payload = parse_payload(done.stdout.strip())
    assert payload.kiosk_id == "kiosk-qr-01" and payload.url == world.server.url
    assert "█" in done.stderr or "▀" in done.stderr  # the terminal QR code
    decoded = zxingcpp.read_barcodes(Image.open(png))
    assert [d.text for d in decoded] == [done.stdout.strip()]


def test_each_kiosk_gets_its_own_tunnel_address_and_vpn_config_lists_active_peers(world, tmp_path):
    answers = str(world.answers(tmp_path))
    addresses = []
    for kiosk_id in ("kiosk-peer-01", "kiosk-peer-02"):
        done = provision(tmp_path / kiosk_id, "--payload", world.payload(kiosk_id), "--answers", answers)
        assert done.returncode == 0, done.stdout
        text = Layout(tmp_path / kiosk_id).network_file.read_text()
        addresses.append(text.split('address = "')[1].split('"')[0])
    assert len(set(addresses)) == 2
    assert all(ipaddress.ip_interface(a).ip in ipaddress.ip_network("10.77.0.0/24") for a in addresses)
    assert "10.77.0.1/32" not in addresses  # the server's own address is never given out
    assert world.server_cli("revoke-kiosk", "--config", str(world.config), "--kiosk-id", "kiosk-peer-02",
                            "--staff", "staff-0042", "--reason", "test").returncode == 0
    conf = tmp_path / "server-wg.conf"
    done = world.server_cli("vpn-config", "--config", str(world.config), "--output", str(conf))
    assert done.returncode == 0, done.stderr
    text = conf.read_text()
    assert "ListenPort = 51820" in text and f"AllowedIPs = {addresses[0]}" in text
    assert f"AllowedIPs = {addresses[1]}" not in text and "kiosk-peer-02" not in text
    assert oct(conf.stat().st_mode & 0o777) == "0o600"
    listing = world.server_cli("list-kiosks", "--config", str(world.config))
    assert listing.returncode == 0
    row1 = next(line for line in listing.stdout.splitlines() if "kiosk-peer-01" in line)
    row2 = next(line for line in listing.stdout.splitlines() if "kiosk-peer-02" in line)
    assert addresses[0] in row1 and "active" in row1 and "revoked" in row2
