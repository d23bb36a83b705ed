"""The append-only, hash-chained issuance log: one entry per document, written when its result is reported.

Each entry holds the sequence number, the time (ISO-8601 UTC), the kiosk, the transaction, the document, the
certificate type, its pages, the document's SHA-256, the outcome, the resident's keyed ``subject_ref`` (never a
name) and the previous entry's hash; its own hash is the SHA-256 of the canonical JSON of all of that.  Editing,
deleting or reordering an entry breaks the chain, and :func:`verify` (``kiosk-server verify-log``) says where.
Deleting entries at the end is caught by the cross-check with the ledger: a settled transaction must have
one entry per document.  Record the head it prints somewhere else (the city's audit file) to pin the log's length too.

Appends are serialised through the database, never through process memory.  On PostgreSQL :func:`append` first
takes a transaction-scoped advisory lock, so appenders from any number of server processes queue; on SQLite the
caller's first write has taken the database's write lock before the head is read.  Behind that, ``sequence`` is
the primary key: of two appenders that read the same head only one can commit, and the other's caller retries
on the new head (:mod:`server.settlement`), so even a database without either lock cannot fork the chain.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from certs.envelope import canonical_json
from server.db import iso
from server.models_admin import IssuanceLogEntry, LedgerEntry

GENESIS = "0" * 64
_APPEND_LOCK = 0x6C6F67  # any fixed number, distinct from server.db's schema lock
HASHED = ("sequence", "recorded_at", "kiosk_id", "transaction_id", "document_id", "certificate", "pages",
          "document_sha256", "outcome", "subject_ref", "prev_hash")


@dataclass(frozen=True)
class LogDocument:
    document_id: str
    certificate: str
    pages: int
    sha256: str


def compute_hash(values: dict) -> str:
    return hashlib.sha256(canonical_json({name: values[name] for name in HASHED})).hexdigest()


def head(db: Session) -> tuple[int, str]:
    """(sequence, entry_hash) of the last entry, or (0, GENESIS) for an empty log."""
    row = db.execute(select(IssuanceLogEntry.sequence, IssuanceLogEntry.entry_hash)
                     .order_by(IssuanceLogEntry.sequence.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def queue_appenders(db: Session) -> None:
    """On PostgreSQL, appenders queue on a transaction-scoped lock instead of colliding on the primary key and
    redoing their whole settlement (READ COMMITTED: the head read after the lock is the latest committed one)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})


def append(db: Session, *, recorded_at: datetime, kiosk_id: str, transaction_id: str, subject_ref: str,
           outcome: str, documents: list[LogDocument]) -> list[IssuanceLogEntry]:
    """Add the entries of one transaction after the current head, in the caller's transaction (no commit)."""
    queue_appenders(db)
    sequence, prev = head(db)
    entries = []
    for document in documents:
        sequence += 1
        values = {"sequence": sequence, "recorded_at": iso(recorded_at), "kiosk_id": kiosk_id,
                  "transaction_id": transaction_id, "document_id": document.document_id,
                  "certificate": document.certificate, "pages": document.pages,
                  "document_sha256": document.sha256, "outcome": outcome, "subject_ref": subject_ref,
                  "prev_hash": prev}
        prev = compute_hash(values)
        entry = IssuanceLogEntry(**values, entry_hash=prev)
        db.add(entry)
        entries.append(entry)
    db.flush()
    return entries


@dataclass
class Verification:
    entries: int = 0
    head_sequence: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(db: Session, *, max_problems: int = 50) -> Verification:
    """Walk the chain from the first entry; report every break (up to ``max_problems``)."""
    result = Verification()
    expected_sequence, prev = 1, GENESIS
    rows = db.execute(select(IssuanceLogEntry).order_by(IssuanceLogEntry.sequence).execution_options(yield_per=500))
    for entry in rows.scalars():
        values = {name: getattr(entry, name) for name in HASHED}
        if entry.sequence != expected_sequence:
            result.problems.append(f"entry #{entry.sequence}: expected #{expected_sequence} here "
                                   f"(entries missing or renumbered)")
        if entry.prev_hash != prev:
            result.problems.append(f"entry #{entry.sequence}: does not follow the entry before it "
                                   f"(deleted, inserted or reordered entries)")
        if compute_hash(values) != entry.entry_hash:
            result.problems.append(f"entry #{entry.sequence}: its contents do not match its hash (edited)")
        result.entries += 1
        result.head_sequence, result.head_hash = entry.sequence, entry.entry_hash
        expected_sequence, prev = entry.sequence + 1, entry.entry_hash
        if len(result.problems) >= max_problems:
            return result
    # Entries cut off the end leave no break in the chain: the ledger says how many documents each settled
    # transaction had, so count them.
    counted = (select(LedgerEntry.transaction_id, LedgerEntry.documents, func.count(IssuanceLogEntry.sequence))
               .outerjoin(IssuanceLogEntry, IssuanceLogEntry.transaction_id == LedgerEntry.transaction_id)
               .group_by(LedgerEntry.transaction_id, LedgerEntry.documents)
               .having(func.count(IssuanceLogEntry.sequence) != LedgerEntry.documents).limit(max_problems))
    for txn, documents, logged in db.execute(counted):
        result.problems.append(f"transaction {txn}: settled with {documents} documents but {logged} log entries "
                               f"(entries deleted)")
    return result
