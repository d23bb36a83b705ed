"""What the kiosk tells the city: events and gauges, written to the telemetry outbox the moment they happen.

Events come from where the kiosk already notices things, without touching the visit:

- the audit log (:mod:`firmware.audit`): every audited fact that staff should see becomes a telemetry event of
  the same fields (ids, codes, amounts — the catalogue's rule), see :data:`AUDIT_EVENTS`;
- device events that pass the controller's sink (printer status, note validator and coin acceptor states) and,
  every ``watch_every_s``, the hoppers, the card reader, the VPN state file (:mod:`firmware.network`), the notes in
  the cash box and the device certificate's expiry: an event when a condition changes (edge, not level);
- gauges every ``gauge_every_s``: paper, coins in each hopper, notes in the cash box, uptime, temperature,
  journal size, backlog.

:class:`firmware.telemetry_sender.TelemetrySender` sends the outbox; both run inside the kiosk process.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from hal.coins import CoinAcceptorState, CoinAcceptorStateChanged, HopperState
from hal.notes import NoteValidatorState, NoteValidatorStateChanged
from hal.printer import PrinterState, PrinterStatus, PrinterStatusChanged
from firmware.telemetry_outbox import TelemetryOutbox

log = logging.getLogger("kiosk.telemetry")

AUDIT_EVENTS: dict[str, str] = {
    "kiosk.started": "kiosk_started", "kiosk.stopped": "kiosk_stopped",
    "kiosk.out_of_service": "out_of_service", "kiosk.in_service": "back_in_service",
    "staff.called": "staff_call", "maintenance.beacon_acknowledged": "staff_call_acknowledged",
    "money.refund_owed": "refund_owed", "refund.slip": "refund_slip",
    "money.reconciliation_needed": "reconciliation_needed", "recovery.settled": "recovery_settled",
    "device.fault": "device_fault", "print.fault": "print_fault", "door.opened": "door_opened",
    "door.closed": "door_closed", "document.rejected": "document_rejected", "health.changed": "health_changed",
    "server.result_refused": "result_refused", "reminder.abandoned": "item_abandoned",
    "maintenance.entered": "maintenance_entered", "maintenance.left": "maintenance_left",
    "maintenance.service": "maintenance_service", "maintenance.cash_box_emptied": "cash_box_emptied",
    "maintenance.hopper": "hopper_counted", "maintenance.cash_reconciled": "cash_reconciled",
}
"""Audit event → telemetry kind.  (Visits, sign-ins and payments are not telemetry: the server has them already.)"""

_DROP_FIELDS = {"kiosk.started": ("kiosk",)}  # the certificate names the kiosk

PRINTER_KINDS = {PrinterState.PAPER_OUT: "paper_out", PrinterState.COVER_OPEN: "cover_open",
                 PrinterState.JAMMED: "device_fault", PrinterState.OFFLINE: "device_fault"}
NOTE_KINDS = {NoteValidatorState.STACKER_OPEN: "cash_box_removed", NoteValidatorState.STACKER_FULL: "cash_box_full",
              NoteValidatorState.ACCEPTOR_JAM: "device_fault", NoteValidatorState.STACKER_JAM: "device_fault",
              NoteValidatorState.FAILURE: "device_fault", NoteValidatorState.OFFLINE: "device_fault"}
COIN_KINDS = {CoinAcceptorState.CASHBOX_FULL: "cash_box_full", CoinAcceptorState.JAMMED: "device_fault",
              CoinAcceptorState.FAILURE: "device_fault", CoinAcceptorState.OFFLINE: "device_fault"}
HOPPER_KINDS = {HopperState.LOW: "hopper_low", HopperState.EMPTY: "hopper_empty", HopperState.JAMMED: "device_fault",
                HopperState.FAILURE: "device_fault", HopperState.OFFLINE: "device_fault"}


@dataclass(frozen=True)
class TelemetrySettings:
    enabled: bool = True
    send_every_s: float = 5.0
    watch_every_s: float = 2.0
    gauge_every_s: float = 60.0
    batch_max: int = 100
    max_gauges: int = 120
    stacker_capacity: int = 0  # notes the cash box holds (0: ask the validator, else unknown)
    stacker_near_full: float = 0.9
    cert_warn_days: int = 30


_NUMBERS = {"send_every_s": (0.05, 3600.0), "watch_every_s": (0.05, 3600.0), "gauge_every_s": (0.1, 86400.0),
            "batch_max": (1, 500), "max_gauges": (1, 10000), "stacker_capacity": (0, 100000),
            "stacker_near_full": (0.1, 1.0), "cert_warn_days": (1, 365)}


def parse_telemetry(table: Mapping[str, Any], source: str = "kiosk.toml") -> TelemetrySettings:
    unknown = set(table) - set(_NUMBERS) - {"enabled"}
    if unknown:
        raise ValueError(f"{source}: [telemetry] has unknown keys: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    if "enabled" in table:
        if not isinstance(table["enabled"], bool):
            raise ValueError(f"{source}: [telemetry] enabled must be true or false")
        values["enabled"] = table["enabled"]
    for key, (low, high) in _NUMBERS.items():
        if key in table:
            value = table[key]
            whole = isinstance(getattr(TelemetrySettings, key), int)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high \
                    or (whole and value != int(value)):
                raise ValueError(f"{source}: [telemetry] {key} must be a {'whole ' if whole else ''}number from "
                                 f"{low:g} to {high:g} (got {value!r})")
            values[key] = int(value) if whole else float(value)
    return TelemetrySettings(**values)


class Telemetry:
    """Turns what the kiosk notices into outbox events; :meth:`watch` polls what does not announce itself."""

    def __init__(self, outbox: TelemetryOutbox, kiosk, settings: TelemetrySettings, *, journal_path: Path | None = None,
                 device_certificate: Path | None = None, sender=None):
        self.outbox, self.kiosk, self.settings = outbox, kiosk, settings
        self.journal_path, self.device_certificate = journal_path, device_certificate
        self.sender = sender  # woken when an event is written
        self.client = None  # the sender's own server client (closed by the assembly)
        self._conditions: dict[str, str] = {}  # device name -> its last reported condition ("ok" or a state)
        self._paper = "unknown"
        self._vpn_up: bool | None = None
        self._vpn_down_at: float | None = None
        self._cert_days_reported: int | None = None
        self.update_reports = None  # firmware.telemetry_updates.UpdateReports, set by the assembly

    # ---- writing --------------------------------------------------------------------------------------------

    def record(self, kind: str, **fields: object) -> int | None:
        """Write one event; never raises into the caller (a visit must not fail because telemetry did)."""
        try:
            seq = self.outbox.add(kind, **fields)
        except Exception:
            log.exception("telemetry event %s could not be written", kind)
            return None
        if self.sender is not None:
            self.sender.wake()
        return seq

    def on_audit(self, event_id: str, fields: dict) -> None:
        kind = AUDIT_EVENTS.get(event_id)
        if kind is None:
            return
        fields = {k: v for k, v in fields.items() if k not in _DROP_FIELDS.get(event_id, ())}
        if event_id == "health.changed" and fields.get("check") == "under_voltage":
            kind = "under_voltage"
        if event_id in ("door.opened", "door.closed"):
            fields.update(device="door", state="open" if event_id == "door.opened" else "closed")
        self.record(kind, **fields)

    def on_device_event(self, event) -> None:
        if isinstance(event, PrinterStatusChanged):
            self._printer(event.status)
        elif isinstance(event, NoteValidatorStateChanged):
            self._condition(event.device, event.state.value, NOTE_KINDS.get(event.state))
        elif isinstance(event, CoinAcceptorStateChanged):
            self._condition(event.device, event.state.value, COIN_KINDS.get(event.state))

    def _printer(self, status: PrinterStatus) -> None:
        name = self.kiosk.devices.printer.name
        kind = PRINTER_KINDS.get(status.state)
        if kind is None and status.paper_low:
            kind, state = "paper_low", "paper_low"
        else:
            state = status.state.value
        self._paper = "out" if status.state is PrinterState.PAPER_OUT else "low" if status.paper_low else "ok" \
            if status.state is PrinterState.READY else self._paper
        self._condition(name, state, kind)

    def _condition(self, device: str, state: str, kind: str | None) -> None:
        """Report ``device`` when its condition changes: ``kind`` for a trouble, device_recovered when it ends."""
        condition = state if kind is not None else "ok"
        previous = self._conditions.get(device, "ok")
        if condition == previous:
            return
        self._conditions[device] = condition
        self.record(kind or "device_recovered", device=device, state=state)

    # ---- watching -------------------------------------------------------------------------------------------

    async def watch(self) -> None:
        """Poll what does not announce itself, and sample the gauges (the controller runs this as a task)."""
        await self._first_look()
        next_gauges = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                self.look()
                if loop.time() >= next_gauges:
                    next_gauges = loop.time() + self.settings.gauge_every_s
                    self.outbox.add_gauges(self.gauges())
            except Exception:
                log.exception("telemetry watch failed")
            await asyncio.sleep(self.settings.watch_every_s)

    async def _first_look(self) -> None:
        devices = self.kiosk.devices
        try:
            self._printer(await asyncio.wait_for(devices.printer.status(), 5.0))
        except Exception:
            log.info("printer status unavailable at start")
        for device, kinds in ((devices.notes, NOTE_KINDS), (devices.coins, COIN_KINDS)):
            try:
                state = device.state()
                self._condition(device.name, state.value, kinds.get(state))
            except Exception:
                log.info("%s state unavailable at start", getattr(device, "name", "device"))

    def look(self) -> None:
        devices = self.kiosk.devices
        for hopper in devices.hoppers:
            state = hopper.state()
            self._condition(hopper.name, state.value, HOPPER_KINDS.get(state))
        reader = devices.card_reader.state()
        self._condition(devices.card_reader.name, reader.value,
                        "device_fault" if reader.value in ("no_reader", "fault") else None)
        self._look_vpn()
        self._look_stacker()
        self._look_certificate()
        if self.update_reports is not None:
            self.update_reports.look()

    def _look_vpn(self) -> None:
        check = getattr(self.kiosk, "link_check", None)
        if check is None:
            return
        up = bool(check())
        if up == self._vpn_up:
            return
        loop_now = asyncio.get_running_loop().time()
        if up:
            down_s = None if self._vpn_down_at is None else int(loop_now - self._vpn_down_at)
            self.record("vpn_up", down_s=down_s)
        else:
            self._vpn_down_at = loop_now
            self.record("vpn_down")
        self._vpn_up = up

    def notes_in_box(self) -> int:
        try:
            return int(self.kiosk.journal.cash_box_contents(self.kiosk.devices.notes.name)[1])
        except Exception:
            return -1

    def _look_stacker(self) -> None:
        capacity = self.settings.stacker_capacity or int(getattr(self.kiosk.devices.notes, "capacity", 0) or 0)
        if capacity <= 0:
            return
        notes = self.notes_in_box()
        near = notes >= self.settings.stacker_near_full * capacity
        self._condition(f"{self.kiosk.devices.notes.name}.box", "near_full" if near else "ok",
                        "stacker_near_full" if near else None)

    def _look_certificate(self) -> None:
        if self.device_certificate is None:
            return
        from cryptography import x509

        try:
            cert = x509.load_pem_x509_certificate(Path(self.device_certificate).read_bytes())
        except (OSError, ValueError):
            return
        days = (cert.not_valid_after_utc - datetime.now(timezone.utc)).days
        if days <= self.settings.cert_warn_days and days != self._cert_days_reported:
            self._cert_days_reported = days
            self.record("cert_expiry_ahead", certificate="device", days_left=days)

    def gauges(self) -> dict:
        devices = self.kiosk.devices
        values: dict[str, object] = {"paper": self._paper, "notes_in_box": self.notes_in_box(),
                                     "backlog": self.outbox.backlog()}
        for hopper in devices.hoppers:
            values[f"hopper_{hopper.coin_value}"] = hopper.coins_estimate()
        values["uptime_s"] = _uptime()
        values["temperature_c"] = _temperature(self.kiosk)
        values["journal_bytes"] = _size(self.journal_path)
        return values


def _uptime() -> int | None:
    try:
        return int(float(Path("/proc/uptime").read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return None


def _temperature(kiosk) -> float | None:
    box = getattr(kiosk, "box_health", None)
    if box is not None and box.last is not None:
        return box.last.temperature_c
    try:
        return round(int(Path("/sys/class/thermal/thermal_zone0/temp").read_text()) / 1000, 1)
    except (OSError, ValueError):
        return None


def _size(path: Path | None) -> int | None:
    if path is None:
        return None
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += Path(str(path) + suffix).stat().st_size
        except OSError:
            pass
    return total
