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
import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certs.binding import PageBinding
from certs.catalog import CATALOG, CertificateType
from certs.envelope import DocumentEntry, Manifest, canonical_json, seal_envelope
from server.db import iso, utcnow
from server.errors import ApiError
from server.models import Household, Issuance, QuoteRecord, Resident, SessionRecord
from server.eligibility import NotInHousehold, chosen_members, ineligibility, selectable_members
from server.registry import other_resident
from server.render.residence_record import (Issuer, PageContent, PersonEntry, ResidenceRecord, page_slices,
                                            pages_needed, render_residence_record_copy)
from server.schemas import IssuanceRequest, QuoteRequest
from server.services import Services

log = logging.getLogger("server.issuing")

RENDERABLE = frozenset({CertificateType.RESIDENCE_RECORD_COPY})


def offered(svc: Services) -> tuple[CertificateType, ...]:
    """What this city offers at kiosks and this server can render."""
    return tuple(c for c in svc.config.city.offered if c in RENDERABLE)


def _option_names(svc: Services, kind: CertificateType) -> list[str]:
    allowed = svc.config.city.my_number_allowed
    return [o.name for o in CATALOG[kind].options if allowed or not o.needs_city_permission]


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
                       "max_copies": city.max_copies_for(kind), "options": _option_names(svc, kind)})
    household = [{"member_ref": svc.subject_ref(m.resident_id), "name": f"{m.family_name} {m.given_name}",
                  "relationship": m.relationship} for m in selectable_members(db, resident)]
    return {"offers": offers, "household": household}


def _refuse(reason) -> ApiError:
    return ApiError(403, "not_eligible", "this certificate cannot be issued at a kiosk", {"reason": reason.value})


def _resident(db: Session, session: SessionRecord) -> Resident:
    resident = db.get(Resident, session.resident_id)
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
        persons = len(chosen_members(db, resident, options, svc.subject_ref))
    except NotInHousehold as exc:
        raise _refuse(exc.reason) from None
    fee = city.fees[kind]
    quote = QuoteRecord(quote_id="q-" + secrets.token_hex(16), session_id=session.session_id, certificate=kind.value,
                        options_json=json.dumps(options, sort_keys=True), copies=request.copies, fee_per_copy=fee,
                        total_fee=fee * request.copies, pages=pages_needed(persons) * request.copies,
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
    txn = request.transaction_id
    fingerprint = _fingerprint({"quote_id": request.quote_id, "session_id": session.session_id, "kiosk_id": kiosk_id})
    existing = db.get(Issuance, txn)
    if existing is not None:
        return _replay(existing, fingerprint)
    quote = db.get(QuoteRecord, request.quote_id)
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
    reason = ineligibility(db, svc.config.city, offered(svc), resident, CertificateType(quote.certificate), svc.now())
    if reason is not None:
        raise _refuse(reason)
    envelope = _build_envelope(svc, db, session, resident, quote, txn, kiosk_id)
    # One write transaction, after the rendering: claim the quote AND store the document set, or neither.  The
    # conditional UPDATE serialises claims of one quote (a racing claim waits for this row, then finds it taken)
    # and the primary key on transaction_id admits one document set per transaction; whoever loses gets the
    # winner's bytes (same request) or a conflict (another request).  One commit: one fsync per issuance.
    db.commit()  # end the reads (nothing is written yet): the write transaction starts fresh, no stale snapshot
    claimed = db.execute(update(QuoteRecord).where(QuoteRecord.quote_id == quote.quote_id,
                                                   (QuoteRecord.transaction_id.is_(None))
                                                   | (QuoteRecord.transaction_id == txn))
                         .values(transaction_id=txn))
    if claimed.rowcount != 1:
        db.rollback()
        raise ApiError(409, "transaction_conflict", "this quote was used by another transaction")
    db.add(Issuance(transaction_id=txn, fingerprint=fingerprint, kiosk_id=kiosk_id, session_id=session.session_id,
                    quote_id=quote.quote_id, amount_paid=request.amount_paid, total_fee=quote.total_fee,
                    envelope=envelope, issued_at=utcnow()))
    try:
        db.commit()
    except IntegrityError:  # the same transaction issued at the same moment by another request or process
        db.rollback()
        winner = db.get(Issuance, txn)
        if winner is None:
            raise
        return _replay(winner, fingerprint)
    log.info("issued txn=%s kiosk=%s session=%s copies=%d", txn, kiosk_id, session.session_id, quote.copies)
    return 201, envelope


def _replay(existing: Issuance, fingerprint: str) -> tuple[int, bytes]:
    if existing.fingerprint != fingerprint:
        raise ApiError(409, "transaction_conflict", "this transaction id was used for another request")
    log.info("replayed txn=%s", existing.transaction_id)
    return 200, existing.envelope


def _person(member: Resident, show_my_number: bool) -> PersonEntry:
    return PersonEntry(name=f"{member.family_name} {member.given_name}", birth_date=member.birth_date, sex=member.sex,
                       relationship=member.relationship, became_resident_on=member.became_resident_on,
                       notified_on=member.notified_on, domicile=member.domicile, domicile_head=member.domicile_head,
                       my_number=member.my_number if show_my_number else None)


def compose_record(db: Session, resident: Resident, options: dict, my_number_allowed: bool,
                   members: list[Resident] | None = None) -> ResidenceRecord:
    household = selectable_members(db, resident)
    members = members if members is not None else household if options.get("scope") == "household" else [resident]
    head = next((m for m in household if m.relationship == "世帯主"), household[0])
    show_my_number = bool(options.get("my_number")) and my_number_allowed
    home = db.get(Household, resident.household_id)
    return ResidenceRecord(address=home.address, address_set_on=home.address_set_on,
                           previous_address=home.previous_address, head_name=f"{head.family_name} {head.given_name}",
                           persons=tuple(_person(m, show_my_number) for m in members),
                           household_scope=options.get("scope") == "household",
                           show_head=bool(options.get("household_head")), show_domicile=bool(options.get("domicile")))


def _build_envelope(svc: Services, db: Session, session: SessionRecord, resident: Resident, quote: QuoteRecord,
                    txn: str, kiosk_id: str) -> bytes:
    city = svc.config.city
    options = json.loads(quote.options_json)
    record = compose_record(db, resident, options, city.my_number_allowed,
                            chosen_members(db, resident, options, svc.subject_ref))
    slices = page_slices(record.persons)
    issued_on = svc.today()
    entries, pdfs = [], {}
    for copy in range(1, quote.copies + 1):
        document_id = "doc-" + uuid.uuid4().hex
        pages = [PageContent(record, persons, PageBinding(txn, session.subject_ref, document_id, n, len(slices)))
                 for n, persons in enumerate(slices, start=1)]
        if svc.config.fault == "wrong_subject_page" and copy == 1:
            pages[-1] = _wrong_subject_page(svc, db, resident, options, pages[-1].binding)
        pdf = render_residence_record_copy(pages, Issuer(city.name, city.mayor, issued_on, f"{txn[:8].upper()}-{copy}"))
        pdfs[document_id] = pdf
        entries.append(DocumentEntry(document_id, quote.certificate, copy, len(pages), hashlib.sha256(pdf).hexdigest()))
    manifest = Manifest(txn, session.subject_ref, kiosk_id, iso(utcnow()), tuple(entries))
    return canonical_json(seal_envelope(manifest, pdfs, svc.signing_key))


def _wrong_subject_page(svc: Services, db: Session, resident: Resident, options: dict,
                        binding: PageBinding) -> PageContent:
    """DEV FAULT: this page shows another resident and names them in its binding (the 2023 incidents)."""
    other = other_resident(db, resident)
    record = compose_record(db, other, options, svc.config.city.my_number_allowed)
    log.warning("DEV FAULT wrong_subject_page injected into txn=%s doc=%s", binding.transaction_id,
                binding.document_id)
    wrong = PageBinding(binding.transaction_id, svc.subject_ref(other.resident_id), binding.document_id,
                        binding.page, binding.pages)
    return PageContent(record, page_slices(record.persons)[0], wrong)
