"""``[vpn]`` of server.toml: the WireGuard network kiosks enrol into (WireGuard standing in for LGWAN).

    [vpn]
    network = "10.77.0.0/24"          # kiosks get addresses from here (one /32 each)
    server_address = "10.77.0.1"      # the server's own tunnel address (the API can be bound to it alone)
    listen_port = 51820
    endpoint = "203.0.113.10:51820"   # where kiosks reach the server's WireGuard socket
    private_key = "vpn/server.key"    # made by `kiosk-server vpn-config` when missing (mode 0600)
    routes = ["10.77.0.1/32"]         # what kiosks route into the tunnel (default: the server address); never 0/0
    api_url = "https://10.77.0.1:8443"  # the kiosk API through the tunnel (default: server_address and [server].port)
    interface = "wg-kiosks"           # optional: the live interface the server adds/removes peers on (`wg syncconf`)
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from server.config_city import ConfigError


@dataclass(frozen=True)
class VpnSettings:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    server_address: ipaddress.IPv4Address | ipaddress.IPv6Address
    listen_port: int
    endpoint: str
    private_key: Path
    routes: tuple[str, ...]
    api_url: str | None
    interface: str | None = None


def parse_vpn(base: Path, table: object) -> VpnSettings:
    if not isinstance(table, dict):
        raise ConfigError("[vpn] must be a table")
    try:
        network = ipaddress.ip_network(str(table.get("network", "")))
        server_address = ipaddress.ip_address(str(table.get("server_address", "")))
    except ValueError:
        raise ConfigError("[vpn].network must be a network (10.77.0.0/24) and server_address an address in it") \
            from None
    if server_address not in network:
        raise ConfigError("[vpn].server_address must lie in [vpn].network")
    port = table.get("listen_port", 51820)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError("[vpn].listen_port must be a port number")
    endpoint = table.get("endpoint")
    if not isinstance(endpoint, str) or ":" not in endpoint:
        raise ConfigError("[vpn].endpoint must be host:port, where kiosks reach the server's WireGuard socket")
    key = table.get("private_key", "vpn/server.key")
    if not isinstance(key, str) or not key:
        raise ConfigError("[vpn].private_key must be a path")
    routes = table.get("routes", [f"{server_address}/{server_address.max_prefixlen}"])
    try:
        networks = [ipaddress.ip_network(r) for r in routes] if isinstance(routes, list) else None
    except (ValueError, TypeError):
        networks = None
    if not networks:
        raise ConfigError("[vpn].routes must be a list of networks")
    if any(n.prefixlen == 0 for n in networks):
        raise ConfigError("[vpn].routes must not hold a default route: only the server's network goes in the tunnel")
    api_url = table.get("api_url")
    if api_url is not None and (not isinstance(api_url, str) or not api_url.startswith("https://")):
        raise ConfigError("[vpn].api_url must be an https:// URL")
    interface = table.get("interface")
    if interface is not None and (not isinstance(interface, str) or not 1 <= len(interface) <= 15):
        raise ConfigError("[vpn].interface must be an interface name (1-15 characters)")
    return VpnSettings(network, server_address, port, endpoint, base / key, tuple(str(n) for n in networks), api_url,
                       interface)
