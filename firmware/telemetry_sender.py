"""Sending the telemetry outbox to the server, and carrying out the remote commands its replies bring.

A task in the kiosk process (beside the result outbox, :mod:`firmware.result_outbox`).  Every ``send_every_s``,
or at once when an event is written, it POSTs the oldest unacknowledged events (up to ``batch_max``) with the
latest gauge sample over the kiosk's mTLS client.  The server stores each (kiosk, seq) once and acknowledges the
highest sequence it holds; only then do the rows leave the outbox, so a lost reply means a harmless resend.

- server down, timing out, 5xx: nothing leaves the outbox; the next try waits ``first_retry_s`` doubling up to
  ``max_retry_s``; an exchange that works resets it.
- 413: the batch was too big — half as many events next time.
- 409 ``sequence_gap`` / ``sequence_conflict``: the server's count and this outbox's differ (an outbox reset or
  restored from an old copy): the pending events are numbered after the server's ``acked_seq`` and sent again.
- any other refusal: kept and retried with the backoff (events are never dropped), audited once.

Remote commands (``out_of_service``, ``back_in_service``, ``ack_staff_call``) come in every reply until the kiosk
reports one done; each is carried out once (``applied_commands``) and reported with a ``command_done`` event in
the same outbox write, then audited (``remote.command``).
"""
from __future__ import annotations

import asyncio
import logging

from certs import wire
from firmware.server_client import ServerUnavailable
from firmware.telemetry_outbox import TelemetryOutbox

log = logging.getLogger("kiosk.telemetry")
REMOTE_HOLD = "remote_hold"
"""The out-of-service reason while the city holds the kiosk (released only by back_in_service)."""


class TelemetrySender:
    def __init__(self, outbox: TelemetryOutbox, server, kiosk, *, every_s: float = 5.0, batch_max: int = 100,
                 first_retry_s: float = 2.0, max_retry_s: float = 300.0):
        self.outbox, self.server, self.kiosk = outbox, server, kiosk
        self.every_s, self.batch_max = every_s, batch_max
        self.first_retry_s, self.max_retry_s = first_retry_s, max_retry_s
        self._wake = asyncio.Event()
        self._delay = 0.0
        self._refusal_audited = False
        self.exchanges = 0  # replies received (for tests and the log)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                more = await self.exchange()
            except _Retry:
                self._delay = min(max(self._delay * 2, self.first_retry_s), self.max_retry_s)
                await self._wait(self._delay)
                continue
            except Exception:
                log.exception("telemetry exchange failed")
                self._delay = min(max(self._delay * 2, self.first_retry_s), self.max_retry_s)
                await self._wait(self._delay)
                continue
            self._delay = 0.0
            if not more:
                await self._wait(self.every_s)
            await asyncio.sleep(0.05)  # a burst of events goes in one batch

    async def exchange(self) -> bool:
        """One POST.  Returns True if events are still waiting (send again at once); raises _Retry to back off."""
        events = self.outbox.pending(self.batch_max)
        gauges = self.outbox.latest_gauges()
        body = {"boot_id": self.outbox.boot_id, "sent_monotonic_ms": self.outbox.monotonic_ms(),
                "backlog": max(0, self.outbox.backlog() - len(events)), "events": [e.wire() for e in events],
                "gauges": {"sampled_at": gauges[1], "values": gauges[2]} if gauges else None}
        try:
            reply = await self.server.send_telemetry(body)
        except (ServerUnavailable, wire.ProtocolError) as exc:
            log.info("telemetry not sent (%s): %d event(s) wait", type(exc).__name__, self.outbox.backlog())
            raise _Retry() from None
        except wire.ServerRefused as exc:
            return self._refused(exc, len(events))
        self.exchanges += 1
        self._refusal_audited = False
        acked = reply["acked_seq"]
        if acked > self.outbox.last_seq():  # the server counts further than this outbox ever did: it was reset
            self._renumber(acked)
            return True
        self.outbox.acknowledge(acked)
        if gauges:
            self.outbox.gauges_sent(gauges[0])
        for command in reply["commands"]:
            self.apply(command["command_id"], command["kind"])
        return len(events) == self.batch_max and self.outbox.backlog() > 0

    def _refused(self, exc: wire.ServerRefused, sent: int) -> bool:
        acked = exc.detail.get("acked_seq")
        if exc.status == 413 and sent > 1:
            self.batch_max = max(1, sent // 2)
            log.warning("telemetry batch too large: %d events per batch from now on", self.batch_max)
            return True
        if exc.code == "sequence_gap" and isinstance(acked, int):
            self.outbox.acknowledge(min(acked, self.outbox.last_seq()))
            self._renumber(acked)
            return True
        if exc.code == "sequence_conflict" and isinstance(acked, int):
            self._renumber(acked)
            return True
        log.error("telemetry refused by the server: %s (events kept)", exc.code)
        if not self._refusal_audited:
            self._refusal_audited = True
            self.kiosk.audit.emit("telemetry.refused", code=exc.code)
        raise _Retry()

    def _renumber(self, acked: int) -> None:
        offset = self.outbox.renumber_after(acked)
        if offset:
            log.warning("telemetry outbox renumbered after the server's seq %d (offset %d)", acked, offset)
            self.kiosk.audit.emit("telemetry.renumbered", acked_seq=acked, offset=offset)

    # ---- remote commands ------------------------------------------------------------------------------------

    def apply(self, command_id: int, kind: str) -> str:
        """Carry out a remote command once; returns its outcome (``done``, ``held:<reason>``, …)."""
        done = self.outbox.applied(command_id)
        if done is not None:
            return done
        kiosk = self.kiosk
        if kind == "out_of_service":
            self.outbox.put(REMOTE_HOLD, "1")
            if kiosk.held_by_staff in (None, REMOTE_HOLD):
                kiosk.hold_service(REMOTE_HOLD)  # applied at the next tick: a visit under way finishes first
                outcome = "done"
            else:
                outcome = f"held:{kiosk.held_by_staff}"
        elif kind == "back_in_service":
            self.outbox.put(REMOTE_HOLD, None)
            if kiosk.held_by_staff == REMOTE_HOLD:
                kiosk.hold_service(None)
                outcome = "done"
            else:  # a hold of its own (a cash count, maintenance) is released at the kiosk only
                outcome = f"held:{kiosk.held_by_staff}" if kiosk.held_by_staff else "done"
        elif kind == "ack_staff_call":
            signals = kiosk.devices.signals
            was_on = bool(signals.beacon())
            kiosk.acknowledge_refund_alarm()
            signals.set_beacon(False)
            outcome = "done" if was_on else "beacon_was_off"
        else:
            outcome = "unknown_command"
        self.outbox.command_done(command_id, kind, outcome)
        kiosk.audit.emit("remote.command", command_id=command_id, kind=kind, outcome=outcome)
        if self._wake is not None:
            self.wake()
        return outcome

    async def _wait(self, seconds: float) -> None:
        """Until woken or ``seconds`` pass.  (Not ``asyncio.wait_for``: on Python 3.11 a wake that lands with the
        task's cancellation returns normally and the cancellation is lost, so the sender never stops.)"""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([waiter], timeout=seconds)
        finally:
            waiter.cancel()


class _Retry(Exception):
    """The exchange failed in a way that waiting may cure."""


def restore_remote_hold(outbox: TelemetryOutbox, kiosk) -> None:
    """At start: a kiosk the city took out of service stays out after a restart until the city releases it."""
    if outbox.get(REMOTE_HOLD) and kiosk.held_by_staff is None:
        kiosk.held_by_staff = REMOTE_HOLD
