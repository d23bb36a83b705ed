"""The kiosk's WireGuard files: its X25519 key pair (made on the kiosk, private key 0600), a plain ``wg setconf``
file (no wg-quick, no PostUp scripts) and the network file beside it (interface, address, routes, endpoint, the
health URL) that :mod:`firmware.network` brings the tunnel up from.  Only the certificate server's networks go
into the tunnel: a default route is refused here as well as on the wire."""
from __future__ import annotations

import ipaddress
from pathlib import Path

from certs.enrolment import Tunnel
from certs.wireguard_keys import new_private_key, public_key
from provisioning.files import SECRET, atomic_write
from provisioning.toml_text import dumps

INTERFACE = "kiosk-vpn"
KEEPALIVE_S = 25


def key_pair(path: Path) -> tuple[str, str]:
    """(private, public) base64; the private key is made once and kept in ``path`` (0600)."""
    if not path.exists():
        atomic_write(path, new_private_key() + "\n", SECRET)
    private = path.read_text(encoding="ascii").strip()
    return private, public_key(private)


def setconf_text(private_key: str, tunnel: Tunnel) -> str:
    for route in tunnel.routes:
        if ipaddress.ip_network(route).prefixlen == 0:
            raise ValueError("a default route never goes into the kiosk's tunnel")
    return "\n".join([
        "# written by kiosk-provision (wg setconf format)", "[Interface]", f"PrivateKey = {private_key}", "",
        "[Peer]", f"PublicKey = {tunnel.server_public_key}", f"Endpoint = {tunnel.endpoint}",
        f"AllowedIPs = {', '.join(tunnel.routes)}", f"PersistentKeepalive = {KEEPALIVE_S}", ""])


def network_text(tunnel: Tunnel, interface: str = INTERFACE) -> str:
    return dumps({"interface": interface, "address": tunnel.address, "routes": list(tunnel.routes),
                  "endpoint": tunnel.endpoint, "server_public_key": tunnel.server_public_key,
                  "health_url": tunnel.api_url.rstrip("/") + "/v1/health"})


def write_files(key_path: Path, conf_path: Path, network_path: Path, tunnel: Tunnel) -> None:
    private, _ = key_pair(key_path)
    atomic_write(conf_path, setconf_text(private, tunnel), SECRET)
    atomic_write(network_path, network_text(tunnel))
