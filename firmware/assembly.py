"""Putting a kiosk together from its configuration: devices, server client, journal, cashier, trusted keys."""
from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime, timezone
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from certs.envelope import key_id
from hal.factory import Devices, build_devices
from firmware.audit import AuditLog
from firmware.cashier import Cashier
from firmware.clock import Clock, SystemClock
from firmware.config import ConfigError, KioskConfig
from firmware.controller import Kiosk, KioskSettings
from firmware.health import HealthConfigError, box_health
from firmware.journal import Journal
from firmware.maintenance import Maintenance, parse_maintenance
from firmware.refund_slip import load_device_key
from firmware.server_client import ServerClient
from firmware.telemetry import Telemetry, parse_telemetry
from firmware.telemetry_outbox import TelemetryOutbox
from firmware.telemetry_sender import TelemetrySender, restore_remote_hold

log = logging.getLogger("kiosk.assembly")


def load_document_keys(paths: tuple[Path, ...]) -> dict[str, Ed25519PublicKey]:
    """The document-signing keys this kiosk trusts, by key id."""
    keys = {}
    for path in paths:
        try:
            key = load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"document key {path}: cannot be read ({type(exc).__name__})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"document key {path}: must be an Ed25519 public key")
        keys[key_id(key)] = key
    return keys


@dataclass
class Assembled:
    kiosk: Kiosk
    devices: Devices
    journal: Journal
    server: ServerClient
    maintenance: Maintenance | None = None
    telemetry: Telemetry | None = None

    async def close(self) -> None:
        await self.kiosk.stop()
        await self.server.aclose()
        self.journal.close()
        if self.telemetry is not None:
            try:
                await asyncio.wait_for(self.telemetry.client.aclose(), 2.0)
            except asyncio.TimeoutError:
                log.warning("the telemetry connection did not close within 2 s")
            self.telemetry.outbox.close()


def assemble(config: KioskConfig, clock: Clock | None = None, audit: AuditLog | None = None) -> Assembled:
    source = config.source.name if config.source else "kiosk.toml"
    maintenance_settings = parse_maintenance(config.maintenance, source)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    devices = build_devices(config.devices)
    journal = Journal(config.journal_path)
    server = ServerClient(config.server)
    cashier = Cashier(journal, devices.notes, devices.coins, devices.hoppers)
    settings = KioskSettings(kiosk_id=config.kiosk_id, timeouts=config.timeouts,
                             warn_before_timeout_s=config.warn_before_timeout_s, max_copies=config.max_copies,
                             language=config.language, applications=config.applications)
    kiosk = Kiosk(settings, devices, server, journal, cashier, load_document_keys(config.document_keys),
                  clock or SystemClock(), audit)
    kiosk.slip_key = _slip_key(config)
    _say_if_certificate_expired(config)
    vpn_state = config.network.get("vpn_state")
    if vpn_state is not None:  # [network] vpn_state: the tunnel monitor's state file (firmware/network.py)
        from firmware.network import VpnState

        kiosk.link_check = VpnState(vpn_state).is_up
    hold_dir = config.updates.get("hold_dir", "/run/kiosk-update" if Path("/run/kiosk-update").is_dir() else None)
    if isinstance(hold_dir, str):  # [updates] hold_dir: an update waits for this kiosk to be idle (update_hold.py)
        from firmware.update_hold import UpdateHold

        kiosk.update_hold = UpdateHold(config.source.parent / hold_dir if config.source else Path(hold_dir))
    try:  # the box's own power, disk, clock and temperature, read by the readiness check
        kiosk.box_health = box_health(config.health, config.data_dir, kiosk.audit, source)
    except HealthConfigError as exc:
        raise ConfigError(str(exc)) from None
    return Assembled(kiosk, devices, journal, server, Maintenance(kiosk, maintenance_settings),
                     _telemetry(config, kiosk, source))


def _telemetry(config: KioskConfig, kiosk: Kiosk, source: str) -> Telemetry | None:
    """The telemetry outbox, its watcher and its sender, inside the kiosk process (no unit of their own)."""
    try:
        settings = parse_telemetry(config.telemetry, source)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not settings.enabled:
        return None
    outbox = TelemetryOutbox(config.telemetry_path, max_gauges=settings.max_gauges)
    client = ServerClient(config.server)  # its own connection: telemetry never queues behind, or stalls, a visit's
    sender = TelemetrySender(outbox, client, kiosk, every_s=settings.send_every_s, batch_max=settings.batch_max)
    telemetry = Telemetry(outbox, kiosk, settings, journal_path=config.journal_path,
                          device_certificate=config.server.client_cert, sender=sender)
    telemetry.client = client
    base = config.updates.get("base", "/opt/kiosk")
    if isinstance(base, str):  # the updater's outcomes, reported (firmware/telemetry_updates.py)
        from firmware.telemetry_updates import UpdateReports

        root = config.source.parent if config.source else Path(".")
        telemetry.update_reports = UpdateReports(root / base / "update-history.jsonl", outbox, telemetry.record)
    restore_remote_hold(outbox, kiosk)
    kiosk.audit.listeners.append(telemetry.on_audit)
    kiosk.event_taps.append(telemetry.on_device_event)
    kiosk.background += [("telemetry-watch", telemetry.watch), ("telemetry-sender", sender.run)]
    return telemetry


def certificate_expiry_words(path, now: datetime | None = None) -> str | None:
    """Plain words when the device certificate has expired (None while it is valid or unreadable)."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError):
        return None
    if (now or datetime.now(timezone.utc)) < cert.not_valid_after_utc:
        return None
    return (f"the kiosk's device certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}: the server will refuse "
            "it. Ask staff for a new enrolment payload (kiosk-server enrol-token) and run "
            "`kiosk-provision --redo enrol --payload …`")


def _say_if_certificate_expired(config: KioskConfig) -> None:
    words = certificate_expiry_words(config.server.client_cert)
    if words is not None:
        log.error("%s", words)
        print(f"kiosk: {words}", file=sys.stderr, flush=True)


def _slip_key(config: KioskConfig):
    """The device key that signs refund slips; None (the reference is then shown and read aloud) if unusable."""
    try:
        return load_device_key(config.server.client_key)
    except (OSError, ValueError, TypeError) as exc:
        log.warning("refund slips cannot be signed: device key unusable (%s)", type(exc).__name__)
        return None
