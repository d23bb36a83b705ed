"""Menu, quotes, issuance and result reports: the money-and-documents half of the contract.

Issuance is idempotent by ``transaction_id``: the first request renders, seals and stores the envelope bytes
(the primary key makes a second set impossible); any later request with the same id and the same quote, session
and kiosk gets those very bytes back, and anything else is a ``transaction_conflict``.  A quote is claimed by
one transaction only.  Everything is in the database, so several server processes agree.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import timedelta
from typing import Callable

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certs.catalog import CATALOG, CertificateType
from certs.envelope import canonical_json
from server.db import iso, utcnow
from server.errors import ApiError
from server.models import Issuance, QuoteRecord, Resident, SessionRecord
from server.household import load_household
from server.envelope_retention import is_pruned
from server.eligibility import NotInHousehold, ineligibility, selectable_members
from server.issuance_documents import build_envelope, pages_per_copy
from server.schemas import IssuanceRequest, QuoteRequest
from server.services import Services

log = logging.getLogger("server.issuing")

RENDERABLE = frozenset(CertificateType)  # server.render.documents draws all seven


def offered(svc: Services) -> tuple[CertificateType, ...]:
    """What this city offers at kiosks and this server can render."""
    return tuple(c for c in svc.config.city.offered if c in RENDERABLE)


def _options(svc: Services, kind: CertificateType) -> list:
    allowed = svc.config.city.my_number_allowed
    return [o for o in CATALOG[kind].options if allowed or not o.needs_city_permission]


def _option_names(svc: Services, kind: CertificateType) -> list[str]:
    return [o.name for o in _options(svc, kind)]


def menu(svc: Services, db: Session, session: SessionRecord) -> dict:
    """Every certificate, each available or with its reason; and the household members a 住民票 may show."""
    resident, city = _resident(db, session), svc.config.city
    now, available_kinds = svc.now(), offered(svc)
    offers = []
    for kind in CertificateType:
        reason = ineligibility(db, city, available_kinds, resident, kind, now)
        offers.append({"certificate": kind.value, "available": reason is None,
                       "reason": reason.value if reason else None, "fee": city.fees[kind],
                       "window_fee": city.window_fees.get(kind, city.fees[kind]),
                       "max_copies": city.max_copies_for(kind), "options": _option_names(svc, kind),
                       "option_details": [{"name": o.name, "label_ja": o.label_ja, "default": o.default,
                                           "choices": list(o.choices) if o.choices else None,
                                           "free_text": o.free_text} for o in _options(svc, kind)]})
    selectable = any(o["available"] and "members" in o["options"] for o in offers)  # names only if of use
    household = [{"member_ref": svc.subject_ref(m.resident_id), "name": f"{m.family_name} {m.given_name}",
                  "relationship": m.relationship} for m in (selectable_members(db, resident) if selectable else ())]
    return {"offers": offers, "household": household}


def _refuse(reason) -> ApiError:
    return ApiError(403, "not_eligible", "this certificate cannot be issued at a kiosk", {"reason": reason.value})


def _resident(db: Session, session: SessionRecord) -> Resident:
    """The session's resident, with their household read once for the whole request (server.household)."""
    resident = load_household(db, session.resident_id)
    if resident is None:
        raise ApiError(401, "unauthenticated", "the session's resident is no longer registered")
    return resident


def create_quote(svc: Services, db: Session, session: SessionRecord, request: QuoteRequest) -> dict:
    try:
        kind = CertificateType.parse(request.certificate)
    except ValueError:
        raise ApiError(400, "unknown_certificate", "no such certificate") from None
    resident, city = _resident(db, session), svc.config.city
    reason = ineligibility(db, city, offered(svc), resident, kind, svc.now())
    if reason is not None:
        raise _refuse(reason)
    try:
        options = CATALOG[kind].normalise_options(dict(request.options),
                                                  my_number_allowed=svc.config.city.my_number_allowed)
    except ValueError as exc:
        raise ApiError(400, "bad_option", str(exc)) from None
    limit = city.max_copies_for(kind)
    if not 1 <= request.copies <= limit:
        raise ApiError(400, "bad_copies", f"copies must be 1 to {limit}", {"max_copies": limit})
    try:
        pages = pages_per_copy(svc, db, resident, kind, options)
    except NotInHousehold as exc:
        raise _refuse(exc.reason) from None
    fee = city.fees[kind]
    quote = QuoteRecord(quote_id="q-" + secrets.token_hex(16), session_id=session.session_id, certificate=kind.value,
                        options_json=json.dumps(options, sort_keys=True), copies=request.copies, fee_per_copy=fee,
                        total_fee=fee * request.copies, pages=pages * request.copies,
                        expires_at=utcnow() + timedelta(seconds=svc.config.lifetimes.quote_s), transaction_id=None)
    db.add(quote)
    db.commit()
    return {"quote_id": quote.quote_id, "certificate": kind.value, "copies": quote.copies,
            "fee_per_copy": fee, "total_fee": quote.total_fee, "pages": quote.pages, "expires_at": iso(quote.expires_at)}


def _fingerprint(values: dict) -> str:
    return hashlib.sha256(canonical_json(values)).hexdigest()


def issue(svc: Services, db: Session, session: SessionRecord, kiosk_id: str,
          request: IssuanceRequest) -> tuple[int, bytes]:
    """Returns (HTTP status, envelope bytes): 201 the first time, 200 on a replay of the same request."""
    def certificates(quote: QuoteRecord, resident: Resident) -> tuple[bytes, list]:
        reason = ineligibility(db, svc.config.city, offered(svc), resident, CertificateType(quote.certificate),
                               svc.now())
        if reason is not None:
            raise _refuse(reason)
        with svc.render_turn:  # one document drawn at a time in this process (server.services.RENDERS_AT_ONCE)
            return build_envelope(svc, db, session, resident, quote, request.transaction_id, kiosk_id), []

    return issue_once(db, session, kiosk_id, request, certificates)


Prepare = Callable[[QuoteRecord, Resident], tuple[bytes, list]]
"""Checks a quote's purchase again and makes its envelope; returns (envelope bytes, more rows to store with it)."""


def issue_once(db: Session, session: SessionRecord, kiosk_id: str, request: IssuanceRequest,
               prepare: Prepare, contended: ApiError | None = None) -> tuple[int, bytes]:
    """The once-only part of an issuance, for certificates and application receipts alike: the replay, the
    quote's checks, ``prepare``, then the quote claimed and the envelope (and ``prepare``'s rows) stored in one
    write, or nothing.  ``contended``: the answer when a row of ``prepare``'s lost a race on a unique key of its
    own (not the transaction's)."""
    txn = request.transaction_id
    fingerprint = _fingerprint({"quote_id": request.quote_id, "session_id": session.session_id, "kiosk_id": kiosk_id})
    quote, existing = _quote_and_issuance(db, request.quote_id, txn)
    if existing is not None:
        return _replay(existing, fingerprint)
    if quote is None or quote.session_id != session.session_id:
        raise ApiError(404, "quote_unknown", "no such quote in this session")
    if quote.transaction_id not in (None, txn):
        raise ApiError(409, "transaction_conflict", "this quote was used by another transaction")
    if quote.expires_at < utcnow():
        raise ApiError(410, "quote_expired", "the quote has expired")
    if request.amount_paid < quote.total_fee:
        raise ApiError(402, "payment_insufficient", "the amount paid is below the fee",
                       {"total_fee": quote.total_fee, "amount_paid": request.amount_paid})
    resident = _resident(db, session)
    envelope, rows = prepare(quote, resident)
    # One write transaction, after the rendering: claim the quote AND store the document set, or neither.  The
    # conditional UPDATE serialises claims of one quote (a racing claim waits for this row, then finds it taken)
    # and the primary key on transaction_id admits one document set per transaction; whoever loses gets the
    # winner's bytes (same request) or a conflict (another request).  One commit: one fsync per issuance.
    if db.get_bind().dialect.name == "sqlite":
        db.commit()  # end the reads (nothing is written yet): the write transaction starts fresh, no stale snapshot
    # (PostgreSQL at READ COMMITTED takes a fresh snapshot for every statement: no round trip needed for that)
    claimed = db.execute(_CLAIM, {"claimed_quote": quote.quote_id, "claiming_txn": txn})
    if claimed.rowcount != 1:
        db.rollback()
        raise ApiError(409, "transaction_conflict", "this quote was used by another transaction")
    db.add(Issuance(transaction_id=txn, fingerprint=fingerprint, kiosk_id=kiosk_id, session_id=session.session_id,
                    quote_id=quote.quote_id, amount_paid=request.amount_paid, total_fee=quote.total_fee,
                    envelope=envelope, issued_at=utcnow()))
    db.add_all(rows)
    try:
        db.commit()
    except IntegrityError:  # the same transaction issued at the same moment by another request or process
        db.rollback()
        winner = db.get(Issuance, txn)
        if winner is None:
            if contended is not None:
                raise contended from None
            raise
        return _replay(winner, fingerprint)
    log.info("issued txn=%s kiosk=%s session=%s copies=%d", txn, kiosk_id, session.session_id, quote.copies)
    return 201, envelope


_QUOTE_AND_ISSUANCE = (select(QuoteRecord, Issuance)  # statements built once, not per request
                       .outerjoin(Issuance, Issuance.transaction_id == bindparam("txn"))
                       .where(QuoteRecord.quote_id == bindparam("quote_id")))
_CLAIM = (update(QuoteRecord)
          .where(QuoteRecord.quote_id == bindparam("claimed_quote"),
                 QuoteRecord.transaction_id.is_(None) | (QuoteRecord.transaction_id == bindparam("claiming_txn")))
          .values(transaction_id=bindparam("claiming_txn")))


def _quote_and_issuance(db: Session, quote_id: str, txn: str) -> tuple[QuoteRecord | None, Issuance | None]:
    """The quote and the issuance already made for this transaction (if any), in one query."""
    row = db.execute(_QUOTE_AND_ISSUANCE, {"txn": txn, "quote_id": quote_id}).first()
    if row is None:  # no such quote: a replay names its quote, so only a conflict can still be found
        return None, db.get(Issuance, txn)
    return row[0], row[1]


def _replay(existing: Issuance, fingerprint: str) -> tuple[int, bytes]:
    if existing.fingerprint != fingerprint:
        raise ApiError(409, "transaction_conflict", "this transaction id was used for another request")
    if is_pruned(existing.envelope):  # settled days ago: only the signed manifest is kept
        raise ApiError(410, "envelope_pruned", "this transaction was settled and its documents are no longer kept")
    log.info("replayed txn=%s", existing.transaction_id)
    return 200, existing.envelope
