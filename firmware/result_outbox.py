"""Sending the journal's queued results to the server until each one is acknowledged.

The server writes its ledger row and its hash-chained issuance-log entry only when a result arrives, so a result
that is lost is a certificate missing from the city's books.  Every settlement queues its result in the journal
in the same write (:mod:`firmware.journal_results`); this sender delivers them, oldest first, and keeps trying:

- the server down, timing out, busy (5xx) or answering garbage: the row stays pending and the next round waits
  ``first_retry_s``, doubling up to ``max_retry_s`` (a busy issuance log answers 503, so it is retried too); a new settlement (:meth:`ResultOutbox.wake`) or a restart
  sends at once;
- ``transaction_unknown``: the issue request never reached the server: nothing to settle there, the row is closed
  ``not_issued``;
- any other refusal (``result_conflict``, ``result_inconsistent``) will not change by retrying: the row is closed
  ``refused:<code>`` and audited for staff.

The server answers an identical result again with "settled", so a result sent twice (a reply lost after the
server committed) is harmless.
"""
from __future__ import annotations

import asyncio
import logging

from certs import wire
from firmware.audit import AuditLog
from firmware.clock import Clock
from firmware.server_client import ServerUnavailable

log = logging.getLogger("kiosk.results")


class ResultOutbox:
    def __init__(self, journal, server, clock: Clock, audit: AuditLog, *, first_retry_s: float = 2.0,
                 max_retry_s: float = 300.0):
        if not 0 < first_retry_s <= max_retry_s:
            raise ValueError("result retry delays must satisfy 0 < first_retry_s <= max_retry_s")
        self.journal, self.server, self.clock, self.audit = journal, server, clock, audit
        self.first_retry_s, self.max_retry_s = first_retry_s, max_retry_s
        self._wake = asyncio.Event()
        self._delay = 0.0  # the wait before the next round; 0 after a round with nothing left unsent

    def wake(self) -> None:
        """A result was queued: send it now rather than at the next retry."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver for ever (the controller runs this as a task)."""
        while True:
            self._wake.clear()
            failed = await self.send_pending()
            if failed:
                self._delay = min(max(self._delay * 2, self.first_retry_s), self.max_retry_s)
                await self._wait(self._delay)
            else:
                self._delay = 0.0
                await self._wait(None)

    async def send_pending(self) -> bool:
        """One round over the pending results; True if one could not be delivered (the round stops there: the
        server is down for all of them alike)."""
        for result in self.journal.pending_results():
            try:
                await self.server.report_result(result.transaction_id, result.outcome, result.pages_printed,
                                                result.fee_collected, result.refund_owed, result.reason)
            except (ServerUnavailable, wire.ProtocolError) as exc:
                error = "server_unavailable" if isinstance(exc, ServerUnavailable) else "protocol_error"
                self.journal.result_attempt_failed(result.transaction_id, error)
                if result.attempts == 0:
                    self.audit.emit("server.result_unreported", txn=result.transaction_id)
                return True
            except wire.ServerRefused as exc:  # a 4xx: retrying cannot change it (a busy server answers 503)
                delivery = "not_issued" if exc.code == "transaction_unknown" else f"refused:{exc.code}"
                self.journal.result_delivered(result.transaction_id, delivery)
                if delivery != "not_issued":
                    log.warning("server refused the result of txn=%s: %s", result.transaction_id, exc.code)
                    self.audit.emit("server.result_refused", txn=result.transaction_id, code=exc.code)
                continue
            self.journal.result_delivered(result.transaction_id)
            self.audit.emit("server.result_delivered", txn=result.transaction_id, attempts=result.attempts + 1)
        return False

    async def _wait(self, seconds: float | None) -> None:
        waiter = asyncio.ensure_future(self._wake.wait())
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds)) if seconds is not None else None
        try:
            await asyncio.wait([t for t in (waiter, sleeper) if t], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, sleeper):
                if task is not None and not task.done():
                    task.cancel()
