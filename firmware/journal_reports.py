"""Read-only summaries of the journal for the maintenance screen: per day and over all time.

Timestamps are stored as UTC ISO text of one fixed shape (:func:`utc_text`), so a range of them is a range of
strings and a local day is two string bounds.
"""
from __future__ import annotations

import sqlite3
from datetime import date, datetime, time, timedelta, timezone


def utc_text(moment: datetime) -> str:
    """``moment`` as the journal stores it: UTC, ISO 8601, microseconds, e.g. 2024-04-01T03:00:00.000000+00:00."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _by_kind(rows) -> dict:
    return {kind: {"count": count, "amount": amount} for kind, count, amount in rows}


def day_summary(db: sqlite3.Connection, day: date, tz: timezone) -> dict:
    start = datetime.combine(day, time(0), tz)
    span = (utc_text(start), utc_text(start + timedelta(days=1)))
    rows = db.execute("SELECT kind, count(*), coalesce(sum(amount), 0) FROM events "
                      "WHERE at >= ? AND at < ? GROUP BY kind", span).fetchall()
    outcomes = db.execute("SELECT coalesce(outcome, 'open'), count(*) FROM transactions "
                          "WHERE opened_at >= ? AND opened_at < ? GROUP BY 1", span).fetchall()
    return {"kinds": _by_kind(rows), "transactions": dict(outcomes)}


def totals(db: sqlite3.Connection) -> dict:
    rows = db.execute("SELECT kind, count(*), coalesce(sum(amount), 0) FROM events GROUP BY kind").fetchall()
    still_open = db.execute("SELECT count(*) FROM transactions WHERE state != 'closed'").fetchone()[0]
    return {"kinds": _by_kind(rows), "open_transactions": still_open}


def cash_box_contents(db: sqlite3.Connection, device: str) -> tuple[int, int]:
    """Credits (and stray credits kept for reconciliation) of ``device`` after its last ``cash_box_emptied``."""
    since = db.execute("SELECT coalesce(max(seq), 0) FROM events WHERE kind = 'cash_box_emptied' AND device = ?",
                       (device,)).fetchone()[0]
    row = db.execute("SELECT coalesce(sum(amount), 0), count(*) FROM events WHERE seq > ? AND device = ? AND "
                     "(kind = 'credit' OR (kind = 'reconciliation_needed' AND "
                     "json_extract(detail, '$.reason') = 'credit_outside_visit'))", (since, device)).fetchone()
    return row[0], row[1]


def refunds_owed(db: sqlite3.Connection, limit: int) -> list[dict]:
    rows = db.execute("SELECT transaction_id, at, amount, json_extract(detail, '$.reason') FROM events "
                      "WHERE kind = 'refund_owed' AND amount > 0 ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
    return [{"txn": txn, "at": at, "amount": amount, "reason": reason} for txn, at, amount, reason in rows]
