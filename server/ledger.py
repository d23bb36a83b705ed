"""The per-kiosk ledger: each settled transaction's fee earned and refund owed, on the day in Japan it settled.

One row per transaction (the transaction id is the key, so a fee can never be counted twice), written in the
same database transaction as the result report and the issuance log entries (:mod:`server.settlement`).
``kiosk-server ledger`` prints the daily summary per kiosk, with the issuances still waiting for a result.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Issuance, ResultReport
from server.models_admin import LedgerEntry

JST = timedelta(hours=9)


def business_day(moment_utc: datetime) -> date:
    """The calendar day in Japan (UTC+9, no daylight saving) of a naive UTC time."""
    return (moment_utc + JST).date()


def record(db: Session, *, transaction_id: str, kiosk_id: str, outcome: str, certificate: str, documents: int,
           total_fee: int, fee_earned: int, refunded: int, recorded_at: datetime) -> None:
    """Add the transaction's ledger row in the caller's transaction (no commit)."""
    db.add(LedgerEntry(transaction_id=transaction_id, kiosk_id=kiosk_id, business_day=business_day(recorded_at),
                       outcome=outcome, certificate=certificate, documents=documents, total_fee=total_fee,
                       fee_earned=fee_earned, refunded=refunded, recorded_at=recorded_at))


@dataclass(frozen=True)
class DayTotal:
    kiosk_id: str
    day: date
    transactions: int
    fees_earned: int
    refunded: int
    documents: int = 0  # certificates issued in those transactions


def daily(db: Session, *, kiosk_id: str | None = None, start: date | None = None,
          end: date | None = None) -> list[DayTotal]:
    """Totals per kiosk and day (``start``..``end`` inclusive), ordered by kiosk then day."""
    query = (select(LedgerEntry.kiosk_id, LedgerEntry.business_day, func.count(),
                    func.sum(LedgerEntry.fee_earned), func.sum(LedgerEntry.refunded), func.sum(LedgerEntry.documents))
             .group_by(LedgerEntry.kiosk_id, LedgerEntry.business_day)
             .order_by(LedgerEntry.kiosk_id, LedgerEntry.business_day))
    if kiosk_id is not None:
        query = query.where(LedgerEntry.kiosk_id == kiosk_id)
    if start is not None:
        query = query.where(LedgerEntry.business_day >= start)
    if end is not None:
        query = query.where(LedgerEntry.business_day <= end)
    return [DayTotal(k, d, int(n), int(f or 0), int(r or 0), int(c or 0)) for k, d, n, f, r, c in db.execute(query)]


def unsettled(db: Session, kiosk_id: str | None = None) -> dict[str, int]:
    """Issuances without a result report yet, per kiosk (a kiosk that lost power mid-visit reports later)."""
    query = (select(Issuance.kiosk_id, func.count()).outerjoin(
        ResultReport, ResultReport.transaction_id == Issuance.transaction_id)
        .where(ResultReport.transaction_id.is_(None)).group_by(Issuance.kiosk_id))
    if kiosk_id is not None:
        query = query.where(Issuance.kiosk_id == kiosk_id)
    return {k: int(n) for k, n in db.execute(query)}


def render(rows: list[DayTotal], waiting: dict[str, int], fmt: str) -> str:
    header = ["kiosk_id", "day", "transactions", "fees_earned", "refunded", "net"]
    lines = [[r.kiosk_id, r.day.isoformat(), r.transactions, r.fees_earned, r.refunded, r.fees_earned - r.refunded]
             for r in rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(lines)
        return out.getvalue()
    text = ["# Kiosk ledger (yen; days in Japan time)", "", "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header)]
    text += ["| " + " | ".join(str(v) for v in line) + " |" for line in lines]
    total = [sum(r.transactions for r in rows), sum(r.fees_earned for r in rows), sum(r.refunded for r in rows)]
    text.append(f"| **total** | | {total[0]} | {total[1]} | {total[2]} | {total[1] - total[2]} |")
    if waiting:
        text += ["", "Issued but not yet settled (no result report): "
                 + ", ".join(f"{k}: {n}" for k, n in sorted(waiting.items()))]
    return "\n".join(text) + "\n"
