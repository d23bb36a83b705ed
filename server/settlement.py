"""The kiosk's result report settles a transaction: result, ledger row and issuance log entries, all or nothing.

``POST /v1/issuances/{txn}/result`` is accepted once; an identical report again is answered ``settled`` and
changes nothing, a different one is ``result_conflict``.  The three records are written in ONE database
transaction, so a report is never half-settled.  If another server process appended to the issuance log at
the same moment (same head, same next sequence number), the commit fails on the log's primary key and the
whole settlement is tried again on the new head.
"""
from __future__ import annotations

import hashlib
import json
import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certs.envelope import canonical_json
from server import issuance_log, ledger
from server.db import utcnow
from server.errors import ApiError
from server.models import Issuance, ResultReport
from server.schemas import ResultRequest

log = logging.getLogger("server.settlement")

MAX_ATTEMPTS = 20


def _manifest(issuance: Issuance) -> dict:
    return json.loads(issuance.envelope)["manifest"]


def _documents(manifest: dict) -> list[issuance_log.LogDocument]:
    return [issuance_log.LogDocument(d["document_id"], d["certificate"], int(d["pages"]), d["sha256"])
            for d in manifest["documents"]]


def _check(issuance: Issuance, request: ResultRequest) -> None:
    if request.fee_collected > issuance.total_fee or request.refund_owed > issuance.amount_paid:
        raise ApiError(422, "result_inconsistent", "fee_collected exceeds the fee or refund_owed the amount paid",
                       {"total_fee": issuance.total_fee, "amount_paid": issuance.amount_paid})


def _same(existing: ResultReport, fingerprint: str) -> dict:
    if existing.fingerprint != fingerprint:
        raise ApiError(409, "result_conflict", "a different result was already reported for this transaction")
    return {"settled": True}


def report_result(db: Session, kiosk_id: str, txn: str, request: ResultRequest) -> dict:
    issuance = db.get(Issuance, txn)
    if issuance is None or issuance.kiosk_id != kiosk_id:
        raise ApiError(404, "transaction_unknown", "no issuance with this transaction id from this kiosk")
    values = request.model_dump()
    fingerprint = hashlib.sha256(canonical_json(values)).hexdigest()
    existing = db.get(ResultReport, txn)
    if existing is not None:
        return _same(existing, fingerprint)
    _check(issuance, request)
    manifest = _manifest(issuance)
    documents = _documents(manifest)
    for _attempt in range(MAX_ATTEMPTS):
        now = utcnow()
        try:
            # The first write: on SQLite it takes the write lock, so the log head read below cannot go stale.
            db.add(ResultReport(transaction_id=txn, fingerprint=fingerprint, received_at=now, **values))
            db.flush()
            ledger.record(db, transaction_id=txn, kiosk_id=kiosk_id, outcome=request.outcome,
                          certificate=documents[0].certificate if documents else "", documents=len(documents),
                          total_fee=issuance.total_fee, fee_earned=request.fee_collected,
                          refunded=request.refund_owed, recorded_at=now)
            issuance_log.append(db, recorded_at=now, kiosk_id=kiosk_id, transaction_id=txn,
                                subject_ref=manifest["subject_ref"], outcome=request.outcome, documents=documents)
            db.commit()
        except IntegrityError:
            db.rollback()
            existing = db.get(ResultReport, txn)
            if existing is not None:  # the same transaction settled at the same moment elsewhere
                return _same(existing, fingerprint)
            log.info("issuance log head taken by another settlement; again on the new head txn=%s", txn)
            continue
        log.info("settled txn=%s kiosk=%s outcome=%s fee=%d refund=%d", txn, kiosk_id, request.outcome,
                 request.fee_collected, request.refund_owed)
        return {"settled": True}
    log.warning("settlement gave up after %d attempts txn=%s", MAX_ATTEMPTS, txn)
    raise ApiError(503, "busy", "the issuance log is busy: report the result again")
