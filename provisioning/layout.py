"""Where provisioning puts things on a kiosk, all under one root (``/`` on a Pi; ``--root DIR`` for tests and for
building an image).  Paths inside kiosk.toml are relative to its directory, so the same file works in both."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def etc(self) -> Path:
        return self.root / "etc" / "kiosk"

    @property
    def state_dir(self) -> Path:
        return self.root / "var" / "lib" / "kiosk"

    @property
    def provision_dir(self) -> Path:
        return self.state_dir / "provision"

    @property
    def state_file(self) -> Path:
        return self.provision_dir / "state.json"

    @property
    def pending_payload(self) -> Path:  # the payload (with its token) until enrolment is done; 0600
        return self.provision_dir / "payload.pending"

    @property
    def enrolment_file(self) -> Path:  # what the server answered, minus the certificate (stored beside)
        return self.provision_dir / "enrolment.json"

    @property
    def report_file(self) -> Path:
        return self.provision_dir / "readiness-report.txt"

    @property
    def tls(self) -> Path:
        return self.etc / "tls"

    @property
    def ca(self) -> Path:
        return self.tls / "ca.pem"

    @property
    def device_key(self) -> Path:
        return self.tls / "device-key.pem"

    @property
    def device_cert(self) -> Path:
        return self.tls / "device.pem"

    @property
    def document_key(self) -> Path:
        return self.etc / "signing" / "document-pub.pem"

    @property
    def update_root(self) -> Path:  # the city's TUF root from the enrolment reply: what kiosk-update trusts
        return self.etc / "update" / "root.json"

    @property
    def wireguard(self) -> Path:
        return self.etc / "wireguard"

    @property
    def wireguard_key(self) -> Path:
        return self.wireguard / "kiosk.key"

    @property
    def wireguard_conf(self) -> Path:  # `wg setconf` format (holds the private key: 0600)
        return self.wireguard / "kiosk-vpn.conf"

    @property
    def vpn_state(self) -> Path:  # the tunnel's health, written by kiosk-vpn.service (RuntimeDirectory=kiosk-vpn)
        return self.root / "run" / "kiosk-vpn" / "state.json"

    @property
    def network_file(self) -> Path:  # interface, address, routes, endpoint, health URL for firmware/network.py
        return self.wireguard / "kiosk-vpn.toml"

    @property
    def kiosk_toml(self) -> Path:
        return self.etc / "kiosk.toml"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    def secrets(self) -> list[Path]:
        """Every file that holds a private key or a credential."""
        return [self.device_key, self.wireguard_key, self.wireguard_conf, self.pending_payload]
