"""What the reference server's books hold for a transaction, read from its SQLite database file (read-only).

The kiosk's e2e tests compare these with the kiosk's journal: after any outage or restart the two must agree,
line by line (the result, the ledger row, one issuance-log entry per document).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Books:
    result: tuple | None  # (outcome, pages_printed, fee_collected, refund_owed)
    ledger: tuple | None  # (outcome, fee_earned, refunded)
    log_entries: int


def books(database: str | Path, txn: str) -> Books:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        result = db.execute("SELECT outcome, pages_printed, fee_collected, refund_owed FROM results "
                            "WHERE transaction_id = ?", (txn,)).fetchone()
        ledger = db.execute("SELECT outcome, fee_earned, refunded FROM ledger_entries WHERE transaction_id = ?",
                            (txn,)).fetchone()
        entries = db.execute("SELECT count(*) FROM issuance_log WHERE transaction_id = ?", (txn,)).fetchone()[0]
    finally:
        db.close()
    return Books(result, ledger, entries)
