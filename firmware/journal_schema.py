"""What the journal may hold: its SQLite schema, its event kinds, and the gate every stored value passes.

The journal is the kiosk's money memory.  It holds ids, codes, counts, amounts in yen and timestamps, and
nothing else: no name, address, birth date, PIN or My Number.  The write API has no parameter that could carry
one, and every free-form value (an id, a code, the small ``detail`` map) goes through :func:`check_id` or
:func:`check_detail` here, which refuse anything that does not look like an id or a code.  Their error messages
name the key, never the refused value.
"""
from __future__ import annotations

import json
import re

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE transactions (
    id          TEXT PRIMARY KEY CHECK (length(id) = 32),
    opened_at   TEXT NOT NULL,
    kiosk_id    TEXT NOT NULL,
    certificate TEXT,
    copies      INTEGER CHECK (copies IS NULL OR copies > 0),
    fee         INTEGER NOT NULL DEFAULT 0 CHECK (fee >= 0),
    state       TEXT NOT NULL,
    closed_at   TEXT,
    outcome     TEXT
);
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,
    transaction_id TEXT REFERENCES transactions(id),
    at             TEXT NOT NULL,
    kind           TEXT NOT NULL,
    amount         INTEGER NOT NULL DEFAULT 0 CHECK (amount >= 0),
    device         TEXT,
    ref            TEXT,
    detail         TEXT
);
CREATE UNIQUE INDEX events_kind_ref ON events(kind, ref) WHERE ref IS NOT NULL;
CREATE INDEX events_transaction ON events(transaction_id);
CREATE INDEX events_at ON events(at);
"""

MIGRATIONS = {
    2: """
CREATE TABLE results (
    transaction_id TEXT PRIMARY KEY REFERENCES transactions(id),
    outcome        TEXT NOT NULL,
    pages_printed  INTEGER NOT NULL CHECK (pages_printed >= 0),
    fee_collected  INTEGER NOT NULL CHECK (fee_collected >= 0),
    refund_owed    INTEGER NOT NULL CHECK (refund_owed >= 0),
    reason         TEXT,
    queued_at      TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    delivered_at   TEXT,
    delivery       TEXT
);
CREATE INDEX results_pending ON results(delivered_at) WHERE delivered_at IS NULL;
""",
}
"""Schema steps after version 1, by the version they lead to.  Version 2: the result outbox (one row per
settled transaction the server knows of; see :mod:`firmware.journal_results`)."""

# Money moves: their amounts make up a transaction's balance.
CREDIT = "credit"
CHANGE_PAID = "change_paid"
REFUND_PAID = "refund_paid"
REFUND_OWED = "refund_owed"
FEE_EARNED = "fee_earned"  # the fee of a fully printed document set
REPRINT_OWED = "reprint_owed"  # the fee held while the counter owes the resident a reprint

# Records of what happened, for recovery and for people; their amounts are informational.
LIFECYCLE_KINDS = frozenset({
    "opened", "quoted", "note_escrowed", "note_returned", "payment_complete", "issue_requested",
    "documents_received", "page_intent", "page_printed", "document_rejected", "print_failed", "change_intent", "refund_intent",
    "change_unpaid", "reconciliation_needed", "cancelled", "timed_out", "settled", "closed",
    "cash_box_emptied", "acceptor_reset",  # staff cash service (in no transaction)
})
MONEY_KINDS = frozenset({CREDIT, CHANGE_PAID, REFUND_PAID, REFUND_OWED, FEE_EARNED, REPRINT_OWED})
KINDS = LIFECYCLE_KINDS | MONEY_KINDS

# Staff cash service (:meth:`Journal.record_cash_service`, from maintenance): in no transaction, no money moved.
CASH_SERVICE_KINDS = frozenset({"cash_box_emptied", "acceptor_reset"})  # (a refill: hopper_stock, journal_devices)

# Kinds the caller may record through :meth:`Journal.note`: facts that move no money and need no bookkeeping.
NOTE_KINDS = frozenset({
    "payment_complete", "issue_requested", "document_rejected", "print_failed", "cancelled", "timed_out",
})

# The transaction's ``state`` column follows its last lifecycle step.
STATE_AFTER = {
    "opened": "open", "quoted": "quoted", CREDIT: "paying", "payment_complete": "paid",
    "issue_requested": "issuing", "documents_received": "printing", "page_intent": "printing",
    "page_printed": "printing",
    "print_failed": "print_failed", "document_rejected": "rejected", "cancelled": "cancelling",
    "timed_out": "cancelling", "change_intent": "paying_out", "refund_intent": "paying_out",
    "settled": "settled", "closed": "closed",
}

DETAIL_KEYS = frozenset({
    "certificate", "copies", "pages", "page", "reason", "code", "medium", "coin_value", "count", "requested",
    "paid", "unpaid", "payout", "settlement", "value", "state", "error",
})
DETAIL_KEYS |= {"unknown"}  # coins a hopper could not say it paid (hopper payouts)

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,79}")
_LONG_DIGIT_RUN = re.compile(r"\d{10,}")
_LETTER = re.compile(r"[A-Za-z]")
_TXN_ID = re.compile(r"[0-9a-f]{32}")
_TXN_PREFIX = re.compile(r"^[0-9a-f]{32}(?=$|[.:])")
_MAX_INT = 10**9  # amounts and counts are far below this; a My Number or a phone number is not
_MAX_DETAIL_INT = 10**6  # counts, pages, coin and note values; a birth date written as 19800401 is not


def check_transaction_id(txn: str) -> str:
    """A transaction id is 32 lowercase hex digits (the server's idempotency key)."""
    if not isinstance(txn, str) or not _TXN_ID.fullmatch(txn):
        raise ValueError("transaction id must be 32 lowercase hex digits")
    return txn


def check_id(value: str, what: str) -> str:
    """An id or code: ASCII letters, digits and ``_ . : -``, at most 80, with at least one letter (so no date,
    PIN or number alone) and no run of ten or more digits (a My Number's or a phone number's shape) outside a
    leading transaction id."""
    check_ref(value, what)
    if not _LETTER.search(value) or _LONG_DIGIT_RUN.search(_TXN_PREFIX.sub("", value, count=1)):
        raise ValueError(f"{what} is not an id or code")
    return value


def check_ref(value: str, what: str) -> str:
    """An id a device or the journal made (a credit id, a reference): the id pattern, any digits."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{what} is not an id or code")
    return value


def check_amount(value: int, what: str = "amount") -> int:
    """An amount of yen or a count: a non-negative int below a billion."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_INT:
        raise ValueError(f"{what} must be a non-negative integer below {_MAX_INT}")
    return value


def check_detail(detail: dict | None) -> str | None:
    """Validate ``detail`` (allowed keys; int or id/code values) and return it as compact JSON."""
    if not detail:
        return None
    clean = {}
    for key, value in detail.items():
        if key not in DETAIL_KEYS:
            raise ValueError("detail key is not on the journal's allow-list")
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= _MAX_DETAIL_INT:
                raise ValueError(f"detail value for {key!r} is out of range")
        else:
            check_id(value, f"detail value for {key!r}")
        clean[key] = value
    return json.dumps(clean, separators=(",", ":"), sort_keys=True)


# Cash devices' own counts (firmware.journal_devices): rows in no transaction that move no money.
DEVICE_KINDS = frozenset({"acceptor_counter", "hopper_stock"})
KINDS = KINDS | DEVICE_KINDS
