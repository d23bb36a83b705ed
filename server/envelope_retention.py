"""Settled envelopes lose their PDFs: an issuance's stored bytes shrink to its signed manifest once its result is in.

An issuance stores the exact envelope it answered (≈ 125 KB for one page, mostly the PDFs) so that a kiosk's
retry of the same transaction gets the same bytes.  Once the kiosk has reported the result, no retry comes any
more, and what stays needed is the manifest: the result's check and the issuance log (:mod:`server.settlement`),
and ``kiosk-server verify`` of a printed page (:mod:`server.verify`) read the manifest, never the PDFs.  At a
national centre's peak the PDFs would be 250 MB/s of storage; ``kiosk-server envelope-prune`` (daily, from a
timer) keeps them for N days after the result and then replaces the envelope with its manifest, the manifest's
signature and key id, and the time it was pruned — still canonical JSON, still signed.  A replay of a pruned
transaction is answered ``410 envelope_pruned``.  An issuance whose result never came is never pruned.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from certs.envelope import canonical_json
from server.db import iso, utcnow
from server.models import Issuance, ResultReport
from server.telemetry import audit_line

FULL = b'{"documents":'  # canonical JSON sorts keys: a whole envelope starts so, a pruned one does not
KEPT = ("key_id", "manifest", "signature")
BATCH = 200
_whole = func.substr(Issuance.envelope, 1, len(FULL)) == FULL


def is_pruned(envelope: bytes) -> bool:
    return not envelope.startswith(FULL)


def pruned(envelope: bytes, now: datetime) -> bytes:
    """The envelope without its PDFs: the signed manifest and when it was pruned."""
    whole = json.loads(envelope)
    return canonical_json({**{k: whole[k] for k in KEPT}, "pruned_at": iso(now)})


def prune_envelopes(db: Session, days: int, now: datetime | None = None) -> int:
    """Prune the envelopes whose result was received more than ``days`` days ago; returns how many."""
    if days < 1:
        raise ValueError("envelopes are kept at least one day after their result")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    due = (select(Issuance.transaction_id, Issuance.envelope)
           .join(ResultReport, ResultReport.transaction_id == Issuance.transaction_id)
           .where(ResultReport.received_at < cutoff, _whole)
           .order_by(Issuance.transaction_id).limit(BATCH))
    done = 0
    while rows := db.execute(due).all():
        for txn, envelope in rows:
            db.execute(update(Issuance).where(Issuance.transaction_id == txn, _whole)
                       .values(envelope=pruned(envelope, now)))
        db.commit()
        done += len(rows)
    audit_line("envelopes.pruned", days=days, pruned=done)
    return done
