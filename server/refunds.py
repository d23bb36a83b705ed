"""Refunds owed to residents, and the counter paying them: ``kiosk-server refunds`` and ``kiosk-server refund-paid``.

A kiosk that owes money it could not pay out prints a refund slip (:mod:`certs.refund_slip`) and reports the
amount in the transaction's result (``refund_owed``, through its result outbox), so the server's books know every
refund owed: a result report with ``refund_owed > 0``.  Staff pay it at the counter and mark it paid, once:
:class:`server.models_admin.RefundPayment` is keyed by the transaction, so a second payment is refused even when
two clerks try at the same moment.  A verified slip whose refund has not reached the books (the kiosk is still
offline, or its issue request never reached the server) can be paid on the slip itself (``basis`` "slip").

Refunds are found by transaction id or by the slip's reference, which is derived from the transaction id
(:func:`certs.refund_slip.reference_for`).  No resident appears here: kiosks, transactions and staff by id.
"""
from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certs.refund_slip import SlipPayload, normalise_reference, reference_for
from server.db import iso, utcnow
from server.enrolment import AdminError, certificate_copy, check_staff_id
from server.models import Issuance, ResultReport
from server.models_admin import KioskCertificateCopy, RefundPayment

log = logging.getLogger("server.refunds")

TXN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Refund:
    transaction_id: str
    reference: str
    kiosk_id: str
    amount: int  # owed per the books, or per the slip when the books have none
    reported_at: datetime | None  # when the kiosk's result report arrived; None: not in the books
    paid_at: datetime | None = None
    paid_by: str | None = None
    basis: str | None = None

    @property
    def paid(self) -> bool:
        return self.paid_at is not None


def _owed_query(kiosk_id: str | None):
    query = (select(ResultReport.transaction_id, Issuance.kiosk_id, ResultReport.refund_owed, ResultReport.received_at)
             .join(Issuance, Issuance.transaction_id == ResultReport.transaction_id)
             .where(ResultReport.refund_owed > 0))
    return query if kiosk_id is None else query.where(Issuance.kiosk_id == kiosk_id)


def _payments(db: Session, kiosk_id: str | None) -> dict[str, RefundPayment]:
    query = select(RefundPayment)
    if kiosk_id is not None:
        query = query.where(RefundPayment.kiosk_id == kiosk_id)
    return {p.transaction_id: p for p in db.scalars(query)}


def _with_payment(txn: str, kiosk: str, amount: int, reported: datetime | None, paid: RefundPayment | None) -> Refund:
    if paid is None:
        return Refund(txn, reference_for(txn), kiosk, amount, reported)
    return Refund(txn, reference_for(txn), kiosk, amount, reported, paid.paid_at, paid.paid_by, paid.basis)


def listing(db: Session, *, kiosk_id: str | None = None, open_only: bool = True) -> list[Refund]:
    """Refunds owed (``open_only``: not yet paid), oldest report first; with ``open_only=False`` also those paid,
    including those paid on a slip alone."""
    payments = _payments(db, kiosk_id)
    rows = [_with_payment(t, k, int(a), r, payments.pop(t, None)) for t, k, a, r in db.execute(_owed_query(kiosk_id))]
    if not open_only:
        rows += [_with_payment(p.transaction_id, p.kiosk_id, p.amount, None, p) for p in payments.values()]
    if open_only:
        rows = [r for r in rows if not r.paid]
    return sorted(rows, key=lambda r: (r.reported_at or r.paid_at or datetime.min, r.transaction_id))


def find(db: Session, *, txn: str | None = None, reference: str | None = None) -> Refund | None:
    """The refund of a transaction, or of the slip reference (in any case, with or without hyphens)."""
    if reference is not None:
        try:
            wanted = normalise_reference(reference)
        except ValueError as exc:
            raise AdminError(str(exc)) from None
        matches = [r for r in listing(db, open_only=False) if r.reference == wanted]
        if len(matches) > 1:
            raise AdminError(f"reference {wanted} names {len(matches)} refunds: use --txn")
        return matches[0] if matches else None
    if txn is None or not TXN.fullmatch(txn):
        raise AdminError("a transaction id is 32 lowercase hex digits")
    row = db.execute(_owed_query(None).where(ResultReport.transaction_id == txn)).first()
    paid = db.get(RefundPayment, txn)
    if row is not None:
        return _with_payment(row[0], row[1], int(row[2]), row[3], paid)
    return _with_payment(paid.transaction_id, paid.kiosk_id, paid.amount, None, paid) if paid else None


def mark_paid(db: Session, *, staff_id: str, txn: str | None = None, reference: str | None = None,
              slip: SlipPayload | None = None) -> Refund:
    """Record that the counter paid the refund (once).  ``slip``: the fields of a slip that verified, for a refund
    the books do not hold yet.  AdminError when unknown, already paid, or the slip disagrees with the books."""
    check_staff_id(staff_id)
    if slip is not None:
        txn = slip.transaction_id
    refund = find(db, txn=txn, reference=reference)
    if refund is None and slip is not None:
        refund = Refund(slip.transaction_id, slip.reference, slip.kiosk_id, slip.amount, None)
        basis = "slip"
    else:
        basis = "books"
    if refund is None:
        raise AdminError(f"no refund owed is recorded for {reference or txn} (kiosk-server refunds lists them; a "
                         "slip whose refund has not reached the server is paid with --slip)")
    if slip is not None and (slip.amount, slip.kiosk_id) != (refund.amount, refund.kiosk_id):
        raise AdminError(f"the slip says {slip.amount} yen from {slip.kiosk_id}, the books {refund.amount} yen "
                         f"from {refund.kiosk_id}: nothing paid, ask the kiosk's supervisor")
    if refund.paid:
        raise AdminError(f"the refund of {refund.transaction_id} ({refund.reference}, {refund.amount} yen) was already "
                         f"paid at {iso(refund.paid_at)} by {refund.paid_by}")
    now = utcnow()
    db.add(RefundPayment(transaction_id=refund.transaction_id, reference=refund.reference, kiosk_id=refund.kiosk_id,
                         amount=refund.amount, paid_at=now, paid_by=staff_id, basis=basis))
    try:
        db.commit()
    except IntegrityError:  # another clerk paid it at the same moment
        db.rollback()
        raise AdminError(f"the refund of {refund.transaction_id} was paid by someone else just now") from None
    log.info("refund paid txn=%s reference=%s kiosk=%s amount=%d staff=%s basis=%s", refund.transaction_id,
             refund.reference, refund.kiosk_id, refund.amount, staff_id, basis)
    return Refund(refund.transaction_id, refund.reference, refund.kiosk_id, refund.amount, refund.reported_at,
                  now, staff_id, basis)


def remember_certificate(db: Session, certificate: x509.Certificate, source: str) -> None:
    """Keep a copy of a kiosk's device certificate (once), so its refund slips can be verified later.  Commits;
    a copy another server process stored at the same moment is fine."""
    copy = certificate_copy(certificate, source)
    if db.get(KioskCertificateCopy, copy.sha256) is not None:
        return
    db.add(copy)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()


def certificates_of(db: Session, kiosk_id: str) -> list[x509.Certificate]:
    rows = db.scalars(select(KioskCertificateCopy.der).where(KioskCertificateCopy.kiosk_id == kiosk_id)
                      .order_by(KioskCertificateCopy.recorded_at.desc()))
    return [x509.load_der_x509_certificate(der) for der in rows]


HEADER = ["transaction_id", "reference", "kiosk_id", "amount", "reported_at", "paid_at", "paid_by"]


def _cells(refund: Refund) -> list[str]:
    return [refund.transaction_id, refund.reference, refund.kiosk_id, str(refund.amount),
            iso(refund.reported_at) if refund.reported_at else "", iso(refund.paid_at) if refund.paid_at else "",
            refund.paid_by or ""]


def render(rows: list[Refund], fmt: str, *, open_only: bool) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(_cells(r) for r in rows)
        return out.getvalue()
    title = "Refunds owed, not yet paid" if open_only else "Refunds owed and paid"
    text = [f"# {title} (yen; times UTC)", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    text += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    owed = sum(r.amount for r in rows if not r.paid)
    text.append(f"| **total** | | | {sum(r.amount for r in rows)} | | | |")
    text += ["", f"{len(rows)} refund{'' if len(rows) == 1 else 's'}; {owed} yen still to pay."]
    return "\n".join(text) + "\n"
