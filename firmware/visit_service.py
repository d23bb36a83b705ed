"""Whether the kiosk can sell, and what happens when it cannot: out of service, faults, staff calls.

A mixin of :class:`firmware.controller.Kiosk` (ARCHITECTURE invariant 7: the kiosk sells only what it can
deliver — the printer, the cash devices, the reader and the door are checked before a visit and before money
is taken).
"""
from __future__ import annotations

import logging

from certs import wire
from hal.card import ReaderState
from firmware.server_client import ServerUnavailable
from firmware.visit import VisitState as S
from firmware.opening_hours import OUT_OF_HOURS
from firmware.visit_attention import CARD_LEFT

log = logging.getLogger("kiosk.controller")


class ServiceSteps:
    # ---- service -------------------------------------------------------------------------------------------

    async def _readiness(self) -> str | None:
        """Why the kiosk cannot sell now (None: it can).  Checked before a visit and before taking money."""
        d = self.devices
        if self.held_by_staff:
            return self.held_by_staff
        if self._unstarted:  # a device that failed to start (at boot): nothing is sold until it runs
            first = self._unstarted[0]
            return ("printer_offline" if first is d.printer else "card_reader" if first is d.card_reader
                    else "cash_device" if first in (d.notes, d.coins, *d.hoppers) else "device_unavailable")
        if self.opening_hours.closed(self.clock.now()):
            return OUT_OF_HOURS  # the city's hours (server): no card is read, so no PIN try can be spent
        if self.link_check is not None and not self.link_check():
            return "vpn"  # the tunnel to the server is down (firmware/network.py): no money without a server
        if not d.signals.door_closed():
            return "door_open"
        if d.card_reader.state() in (ReaderState.NO_READER, ReaderState.FAULT):
            return "card_reader"
        if self.state is S.OUT_OF_SERVICE and d.card_reader.card_kind() is not None:
            return CARD_LEFT  # nobody's visit holds it: it stays out of service, reminding, until it is lifted
        try:
            status = await d.printer.status()
        except Exception:
            return "printer_offline"
        if not status.can_print:
            return f"printer_{status.state.value}"
        if status.document_waiting and self.state in (S.IDLE, S.OUT_OF_SERVICE):
            return "document_left_in_outlet"
        if d.notes.state().out_of_service or d.coins.state().out_of_service or self.cashier.unknown_state:
            return "cash_device"  # (unknown_state: a cash device could not tell what it took or paid; count first)
        box = getattr(self, "box_health", None)  # firmware.health: power, disk, clock, temperature (if enabled)
        if box is not None and (reason := await box.reason()):
            return reason
        return None

    async def _go_out_of_service(self, reason: str) -> None:
        if self.out_of_service_reason != reason:
            self.audit.emit("kiosk.out_of_service", reason=reason)
        self.out_of_service_reason = reason
        self.state = S.OUT_OF_SERVICE
        self._deadline = None
        self._next_readiness = self.clock.now() + self.settings.readiness_every_s
        if reason == CARD_LEFT:
            self._remind_card_left()

    def _back_in_service(self) -> None:
        was = self.out_of_service_reason
        self.out_of_service_reason = None
        self.audit.emit("kiosk.in_service")
        if was == CARD_LEFT and self._fault_after_visit is None:
            self.devices.signals.set_beacon(False)  # the card is home: its alarm ends (others stay)
        self._enter(S.IDLE)

    async def _fault(self, reason: str) -> None:
        """Something went wrong that a resident cannot fix: settle the money, end the visit (dropping what it
        held), call staff and stop selling."""
        self._abandon_operations()
        self._cancel_print()
        await self._close_money(reason)
        self.devices.signals.set_beacon(True)
        if self.state in (S.IDLE, S.OUT_OF_SERVICE):
            await self._go_out_of_service(reason)
        else:
            self._fault_after_visit = reason
            await self._end_visit("fault")

    def hold_service(self, reason: str | None) -> None:
        """Staff take the kiosk out of service (``reason``) or release it (None); applied at the next tick."""
        self.held_by_staff = reason
        self._next_readiness = 0.0

    def _call_staff(self) -> None:
        self.audit.emit("staff.called", visit=self.visit.number)
        self.devices.signals.set_beacon(True)

    def _server_trouble(self, op: str, error: BaseException) -> None:
        if isinstance(error, wire.ServerRefused):
            self.audit.emit("server.refused", op=op, code=error.code)
        elif isinstance(error, ServerUnavailable):
            self.audit.emit("server.unavailable", op=op)
        else:
            log.warning("%s failed: %s", op, type(error).__name__)

