"""Sign-in: single-use nonces, JPKI and citizen-card sign-in, and sessions — all state in the database.

A nonce is spent by the first sign-in attempt that names it, good or bad, with one conditional UPDATE, so two
server processes cannot both accept it.  Session tokens are stored only as SHA-256 hashes.  A citizen card
locks after three wrong passwords in a row (staff unlock it: `kiosk-server unlock-card`, audited in
``card_unlocks``); the counter lives in the database too, and every try is counted before it is checked.  A try
being checked is also recorded (``citizen_card_tries``), so each answer tells the truth about the card: a try
that races others is never told "locked" because of tries that were right.

A spent or expired nonce is worth nothing, but its row would stay for ever (a national centre's sign-ins would add
tens of GB a day): a process deletes the nonces that expired more than a day ago at its first challenge and then
every ten minutes.  For that day a late sign-in is still told ``nonce_expired``; after it, ``nonce_unknown``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from datetime import timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from certs.wire import signin_message
from server.db import iso, utcnow
from server.errors import ApiError
from server.models import CitizenCard, CitizenCardTry, JpkiCard, Nonce, Resident, SessionRecord
from server.registry import hash_password
from server.schemas import CitizenCardSignin, JpkiSignin
from server.services import Services

log = logging.getLogger("server.signin")

MAX_PASSWORD_TRIES = 3
TRY_WAIT_S = 10.0  # a try waits this long at most for racing tries of the same card before answering busy
TRY_STALE_S = 30  # a try still "being compared" after this long died with its process (it stays counted)
_POLL_S = 0.02
NONCE_KEPT_S = 86_400  # an expired nonce's row stays this long (still answered nonce_expired), then goes
PURGE_EVERY_S = 600.0


def new_challenge(svc: Services, kiosk_id: str) -> dict:
    nonce = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=svc.config.lifetimes.nonce_s)
    with svc.sessions() as db:
        db.add(Nonce(nonce=nonce, kiosk_id=kiosk_id, expires_at=expires, used_at=None))
        _purge_old_nonces(svc, db)
        db.commit()
    return {"nonce": nonce, "expires_at": iso(expires), "expires_in_s": svc.config.lifetimes.nonce_s}


def _purge_old_nonces(svc: Services, db: Session) -> None:
    """Delete the nonces that expired more than :data:`NONCE_KEPT_S` ago, at a process's first challenge and then at
    most every :data:`PURGE_EVERY_S` (in the challenge's own transaction; several processes doing it at once is
    harmless).  Only the time of the next purge is kept in the process, no request's state."""
    if time.monotonic() < svc.next_nonce_purge:
        return
    svc.next_nonce_purge = time.monotonic() + PURGE_EVERY_S
    purged = db.execute(delete(Nonce).where(Nonce.expires_at < utcnow() - timedelta(seconds=NONCE_KEPT_S)))
    if purged.rowcount:
        log.info("purged %d nonces expired more than %d s ago", purged.rowcount, NONCE_KEPT_S)


def _spend_nonce(db: Session, nonce: str, kiosk_id: str) -> None:
    row = db.get(Nonce, nonce)
    if row is None or row.kiosk_id != kiosk_id:
        raise ApiError(401, "nonce_unknown", "this nonce was not issued to this kiosk")
    now = utcnow()
    spent = db.execute(update(Nonce).where(Nonce.nonce == nonce, Nonce.used_at.is_(None)).values(used_at=now))
    db.commit()
    if spent.rowcount != 1:
        raise ApiError(401, "nonce_reused", "this nonce was already used")
    if row.expires_at < now:
        raise ApiError(401, "nonce_expired", "this nonce has expired")


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "bad_request", f"{what} is not base64", {"fields": [what]}) from None


def signin_jpki(svc: Services, kiosk_id: str, request: JpkiSignin) -> dict:
    with svc.sessions() as db:
        _spend_nonce(db, request.nonce, kiosk_id)
        certificate, signature = _b64(request.certificate, "certificate"), _b64(request.signature, "signature")
        issuer, serial = svc.jpki.verify(certificate, signature, signin_message(request.nonce, kiosk_id))
        card = db.get(JpkiCard, (issuer, serial))
        if card is None:
            log.info("jpki sign-in refused: unknown card serial=%s kiosk=%s", serial, kiosk_id)
            raise ApiError(401, "unknown_card", "no resident is registered for this card")
        return _open_session(svc, db, card.resident_id, kiosk_id)


def signin_citizen_card(svc: Services, kiosk_id: str, request: CitizenCardSignin) -> dict:
    with svc.sessions() as db:
        card = db.get(CitizenCard, request.card_id)
        if card is None:
            raise ApiError(401, "unknown_card", "no resident is registered for this card")
        try_id = _reserve_try(db, card.card_id)
        right = hmac.compare_digest(hash_password(request.password, card.password_salt), card.password_hash)
        if right:
            db.execute(update(CitizenCard).where(CitizenCard.card_id == card.card_id).values(failed_attempts=0))
        db.execute(delete(CitizenCardTry).where(CitizenCardTry.try_id == try_id))
        db.commit()
        if right:
            return _open_session(svc, db, card.resident_id, kiosk_id)
        tries_left = max(0, MAX_PASSWORD_TRIES - _settled_count(db, card.card_id))
        log.info("citizen card wrong password card=%s tries_left=%d kiosk=%s", card.card_id, tries_left, kiosk_id)
        if tries_left == 0:
            raise ApiError(403, "card_locked", "wrong password: this card is now locked", {"tries_left": 0})
        raise ApiError(401, "wrong_password", "wrong password", {"tries_left": tries_left})


def _reserve_try(db: Session, card_id: str) -> str:
    """Take one of the card's three tries, counted in the database BEFORE the password is compared: one
    conditional UPDATE, so however many requests race (several kiosks, several server processes) at most three
    wrong passwords are ever compared before the card locks.  A try that finds the tries taken tells the truth:
    the card is locked only if no other try holds one of them; while others are being checked it waits for them
    (a right password among them clears the count), and after ``TRY_WAIT_S`` answers ``503 busy``."""
    deadline = time.monotonic() + TRY_WAIT_S
    while True:
        reserved = db.execute(update(CitizenCard).where(CitizenCard.card_id == card_id,
                                                        CitizenCard.failed_attempts < MAX_PASSWORD_TRIES)
                              .values(failed_attempts=CitizenCard.failed_attempts + 1)
                              .returning(CitizenCard.failed_attempts)).scalar_one_or_none()
        if reserved is not None:
            try_id = uuid.uuid4().hex
            db.add(CitizenCardTry(try_id=try_id, card_id=card_id, started_at=utcnow()))
            db.commit()
            return try_id
        db.commit()
        count, in_flight = _card_state(db, card_id)
        if count < MAX_PASSWORD_TRIES:
            continue  # a right try cleared the count since the UPDATE above: take a try again
        if not in_flight:
            raise ApiError(403, "card_locked", "this card is locked: staff can unlock it at the counter",
                           {"tries_left": 0})
        if time.monotonic() >= deadline:
            raise ApiError(503, "busy", "other tries with this card are being checked: try again")
        time.sleep(_POLL_S)


def _card_state(db: Session, card_id: str) -> tuple[int, int]:
    """The card's count of counted tries and the tries of it being compared now, read in ONE statement.

    A try is reserved (count + 1, a ``citizen_card_tries`` row) and settled (row removed, count cleared if right)
    each in one transaction, so one statement's snapshot sees every try either whole or not at all: "count 3 and
    nothing in flight" read together is the truth (only staff can unlock such a card).  Read in two statements, a
    right try could slip in between them and a wrong one be told "locked" for a card that a moment later signs
    in.  A try older than ``TRY_STALE_S`` died with its server process: it stays counted, and no longer holds
    others back."""
    since = utcnow() - timedelta(seconds=TRY_STALE_S)
    in_flight = (select(func.count()).select_from(CitizenCardTry)
                 .where(CitizenCardTry.card_id == card_id, CitizenCardTry.started_at >= since)
                 .scalar_subquery())
    row = db.execute(select(CitizenCard.failed_attempts, in_flight).where(CitizenCard.card_id == card_id)).one()
    db.commit()  # end the read, so that the next look sees other processes' commits (SQLite snapshots)
    return int(row[0] or 0), int(row[1] or 0)


def _settled_count(db: Session, card_id: str) -> int:
    """The card's count of wrong tries once no other try is being compared (so a wrong password is answered
    with what it left of the card, not with a count that racing tries still hold)."""
    deadline = time.monotonic() + TRY_WAIT_S
    while True:
        count, in_flight = _card_state(db, card_id)
        if not in_flight:
            return count
        if time.monotonic() >= deadline:
            raise ApiError(503, "busy", "other tries with this card are being checked: try again")
        time.sleep(_POLL_S)


def _open_session(svc: Services, db: Session, resident_id: str, kiosk_id: str) -> dict:
    if db.get(Resident, resident_id) is None:
        raise ApiError(401, "unknown_card", "no resident is registered for this card")
    token = secrets.token_urlsafe(32)
    subject = svc.subject_ref(resident_id)
    expires = utcnow() + timedelta(seconds=svc.config.lifetimes.session_s)
    session_id = uuid.uuid4().hex
    db.add(SessionRecord(session_id=session_id, token_hash=_token_hash(token), resident_id=resident_id,
                         subject_ref=subject, kiosk_id=kiosk_id, expires_at=expires, signed_out_at=None))
    db.commit()
    log.info("signed in session=%s kiosk=%s", session_id, kiosk_id)
    return {"session_token": token, "subject_ref": subject, "expires_at": iso(expires)}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_SESSION_BY_TOKEN = select(SessionRecord).where(SessionRecord.token_hash == bindparam("token_hash"))  # built once


def current_session(db: Session, authorization: str | None, kiosk_id: str) -> SessionRecord:
    """The live session named by a ``Bearer`` header, opened at this kiosk; otherwise 401 unauthenticated."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "a session token is needed")
    row = db.scalar(_SESSION_BY_TOKEN, {"token_hash": _token_hash(token.strip())})
    if row is None or row.kiosk_id != kiosk_id or row.signed_out_at is not None or row.expires_at < utcnow():
        raise ApiError(401, "unauthenticated", "the session is unknown, ended or expired")
    return row


def sign_out(db: Session, session: SessionRecord) -> None:
    db.execute(update(SessionRecord).where(SessionRecord.session_id == session.session_id)
               .values(signed_out_at=utcnow()))
    db.commit()
    log.info("signed out session=%s", session.session_id)
