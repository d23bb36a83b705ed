"""Audit events: one catalogue, structured log lines, no personal data.

Every event the kiosk audits is declared in :data:`CATALOGUE` with its meaning and its fields.  Each field says
whether it is personal data; none of the kiosk's audit fields is, and :meth:`AuditLog.emit` refuses an event
that is not in the catalogue, a field that is not declared, a field marked personal, and any value that is not
an integer, a boolean or a short id/code (so a name or an address cannot slip in as a "reason").  Lines are JSON,
one per event, on the ``kiosk.audit`` logger.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable


@dataclass(frozen=True)
class AuditField:
    name: str
    meaning: str
    personal: bool = False


@dataclass(frozen=True)
class AuditEventSpec:
    id: str
    meaning: str
    fields: tuple[AuditField, ...]


def _f(name: str, meaning: str) -> AuditField:
    return AuditField(name, meaning)


_VISIT = _f("visit", "kiosk-local visit number")
_TXN = _f("txn", "transaction id (32 hex; the server's idempotency key)")
_STATE = _f("state", "visit state when it happened")
_AMOUNT = _f("amount", "yen")

CATALOGUE: dict[str, AuditEventSpec] = {e.id: e for e in (
    AuditEventSpec("kiosk.started", "the kiosk process started and recovered its journal",
                   (_f("kiosk", "kiosk id"), _f("recovered", "transactions settled by recovery"))),
    AuditEventSpec("kiosk.stopped", "the kiosk process stopped cleanly", ()),
    AuditEventSpec("kiosk.out_of_service", "the kiosk stopped selling", (_f("reason", "reason code"),)),
    AuditEventSpec("kiosk.in_service", "the kiosk sells again", ()),
    AuditEventSpec("visit.started", "a card was placed on an idle kiosk", (_VISIT, _f("card", "card kind"))),
    AuditEventSpec("visit.ended", "the visit returned to idle", (_VISIT, _f("outcome", "outcome code"))),
    AuditEventSpec("visit.cancelled", "the resident cancelled", (_VISIT, _STATE)),
    AuditEventSpec("visit.timed_out", "no input before the state's deadline: the whole visit aborts",
                   (_VISIT, _STATE)),
    AuditEventSpec("visit.card_lifted", "the card left the reader before the visit allowed it", (_VISIT, _STATE)),
    AuditEventSpec("card.refused", "the card cannot be used here", (_VISIT, _f("reason", "reason code"))),
    AuditEventSpec("card.pin_wrong", "the card refused a PIN", (_VISIT, _f("tries_left", "tries left"))),
    AuditEventSpec("card.pin_locked", "the PIN is blocked; the resident is sent to the counter", (_VISIT,)),
    AuditEventSpec("signin.succeeded", "the server accepted the card", (_VISIT, _f("method", "jpki/citizen"))),
    AuditEventSpec("signin.failed", "the server refused the card", (_VISIT, _f("code", "server error code"))),
    AuditEventSpec("signin.nonce_replaced", "the server refused the prefetched sign-in nonce; a fresh one was signed "
                   "with the PIN already verified (no second try)", (_VISIT, _f("code", "server error code"))),
    AuditEventSpec("payment.started", "the kiosk began taking money", (_VISIT, _TXN, _f("fee", "yen due"))),
    AuditEventSpec("application.chosen", "the resident opened an e-application's form",
                   (_VISIT, _f("service", "the application's code"))),
    AuditEventSpec("application.quoted", "the server accepted an e-application's answers and named its fee",
                   (_VISIT, _f("service", "the application's code"), _f("fee", "yen the kiosk takes"),
                    _f("payment", "none/cash/stickers"))),
    AuditEventSpec("payment.completed", "the fee was paid in full", (_VISIT, _TXN, _AMOUNT)),
    AuditEventSpec("money.refund_owed", "money the kiosk could not pay back; the counter owes it",
                   (_TXN, _AMOUNT)),
    AuditEventSpec("refund.slip", "a refund slip was printed for money owed (or could not be: read aloud)",
                   (_TXN, _AMOUNT, _f("printed", "whether the slip printed"))),
    AuditEventSpec("money.reconciliation_needed", "the cash box or hopper needs a count", (_f("reason", "code"),)),
    AuditEventSpec("document.rejected", "SECURITY: a document failed verification and was not printed",
                   (_VISIT, _TXN, _f("reason", "rejection reason code"))),
    AuditEventSpec("print.completed", "every page printed and cut", (_TXN, _f("pages", "pages printed"))),
    AuditEventSpec("print.fault", "printing stopped", (_TXN, _f("printer", "printer state"),
                                                     _f("pages", "pages printed before the fault"))),
    AuditEventSpec("server.unavailable", "the server did not answer", (_f("op", "operation"),)),
    AuditEventSpec("server.refused", "the server answered with an error code", (_f("op", "operation"),
                                                                               _f("code", "error code"))),
    AuditEventSpec("server.result_unreported", "a result report did not reach the server; it stays queued and "
                   "is sent again until acknowledged", (_TXN,)),
    AuditEventSpec("server.result_delivered", "the server acknowledged a result report",
                   (_TXN, _f("attempts", "sends it took"))),
    AuditEventSpec("server.result_refused", "STAFF: the server refused a result report for good",
                   (_TXN, _f("code", "server error code"))),
    AuditEventSpec("recovery.settled", "start-up recovery settled an unfinished transaction",
                   (_TXN, _f("settlement", "settlement kind"), _f("refund_owed", "yen"),
                    _f("reprint_owed", "whether a reprint is owed"))),
    AuditEventSpec("health.changed", "a reading of the box's own health crossed its line (firmware.health)",
                   (_f("check", "under_voltage/throttled/disk_low/clock_synchronised/overheated"),
                    _f("value", "yes/no/unknown"))),
    AuditEventSpec("device.fault", "a device reported a fault", (_f("device", "device name"), _STATE)),
    AuditEventSpec("door.opened", "the service door or tamper switch opened", ()),
    AuditEventSpec("door.closed", "the service door closed", ()),
    AuditEventSpec("reminder.escalated", "a forgotten card/certificate/change reminder escalated",
                   (_VISIT, _f("item", "card/document/change"), _f("level", "voice/buzzer/beacon"))),
    AuditEventSpec("reminder.abandoned", "an item was left behind at the end of a visit",
                   (_VISIT, _f("item", "card/document/change"))),
    AuditEventSpec("reminder.unconfirmed", "a visit ended with no sensor to tell whether an item was taken "
                   "(a printer without an outlet sensor)", (_VISIT, _f("item", "document"))),
    AuditEventSpec("staff.called", "the resident pressed the staff-call button", (_VISIT,)),
    AuditEventSpec("maintenance.entered", "staff opened maintenance mode (limited: one factor)",
                   (_f("method", "pin/card"),)),
    AuditEventSpec("maintenance.refused", "a staff PIN was refused, or a cash function asked for with one factor",
                   (_f("method", "pin/card"), _f("reason", "wrong_pin/locked_out/second_factor_needed"))),
    AuditEventSpec("maintenance.cash_unlocked", "the staff PIN after the staff card: the cash functions open", ()),
    AuditEventSpec("maintenance.status_viewed", "staff looked at the device status", ()),
    AuditEventSpec("maintenance.cash_viewed", "staff looked at cash figures",
                   (_f("what", "counts/today/refunds_owed"),)),
    AuditEventSpec("maintenance.cash_box_emptied", "staff emptied an acceptor's cash box (journalled)",
                   (_f("device", "acceptor name"), _f("amount", "yen the journal says it held"))),
    AuditEventSpec("maintenance.acceptor_reset", "staff reset the coin acceptor after a count (journalled)",
                   (_f("device", "acceptor name"), _f("state", "acceptor state afterwards"))),
    AuditEventSpec("maintenance.beacon_acknowledged", "staff turned the staff beacon off",
                   (_f("was_on", "whether it was on"),)),
    AuditEventSpec("maintenance.left", "staff closed maintenance mode", (_f("in_service", "selling again"),)),
    AuditEventSpec("maintenance.test_print", "staff printed a test page", (_f("printed", "whether it printed"),
                                                                           _f("printer", "printer state"))),
    AuditEventSpec("maintenance.hopper", "staff refilled or counted a hopper (journalled as its count)",
                   (_f("coin_value", "yen"), _f("coins", "coins in it now"), _f("reason", "refill/counted"))),
    AuditEventSpec("maintenance.cash_reconciled", "staff counted the cash after a device could not say what it "
                   "took or paid; the kiosk may take money again", ()),
    AuditEventSpec("maintenance.service", "staff took the kiosk out of service or put it back",
                   (_f("in_service", "selling after maintenance"),)),
    AuditEventSpec("remote.command", "the kiosk carried out a remote command from the city (firmware/telemetry_sender)",
                   (_f("command_id", "the server's command id"), _f("kind", "out_of_service/back_in_service/"
                    "ack_staff_call"), _f("outcome", "done, held:<reason>, beacon_was_off"))),
    AuditEventSpec("telemetry.refused", "STAFF: the server refused a telemetry batch; the events stay queued",
                   (_f("code", "server error code"),)),
    AuditEventSpec("telemetry.renumbered", "the server held more events than the outbox knew (an outbox reset): "
                   "the pending events were numbered after the server's", (_f("acked_seq", "the server's high-water "
                   "sequence"), _f("offset", "added to each pending event's number"))),
)}

_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_.:/-]{0,64}$")


class AuditLog:
    def __init__(self, logger: logging.Logger | None = None, keep: int = 200):
        self._logger = logger or logging.getLogger("kiosk.audit")
        self._keep = keep
        self.recent: list[dict] = []
        self.listeners: list[Callable[[str, dict], None]] = []
        """Called with (event id, fields) after each event is logged (the telemetry outbox listens here); a
        listener that fails is logged and never fails the caller."""

    def emit(self, event_id: str, **fields: object) -> dict:
        spec = CATALOGUE.get(event_id)
        if spec is None:
            raise ValueError(f"audit event {event_id!r} is not in the catalogue")
        declared = {f.name: f for f in spec.fields}
        for name, value in fields.items():
            field = declared.get(name)
            if field is None:
                raise ValueError(f"audit event {event_id} has no field {name!r}")
            if field.personal:
                raise ValueError(f"audit field {event_id}.{name} is personal data and is never written")
            if not (isinstance(value, (bool, int)) or value is None
                    or (isinstance(value, str) and _SAFE_TEXT.match(value))):
                raise ValueError(f"audit field {event_id}.{name} must be a number, a flag or a short code")
        record = {"audit": event_id, "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
        self._logger.info(json.dumps(record, ensure_ascii=True, sort_keys=True))
        self.recent.append(record)
        del self.recent[:-self._keep]
        for listener in self.listeners:
            try:
                listener(event_id, dict(fields))
            except Exception:
                logging.getLogger("kiosk.audit").exception("an audit listener failed on %s", event_id)
        return record

    def ids(self) -> list[str]:
        return [r["audit"] for r in self.recent]
