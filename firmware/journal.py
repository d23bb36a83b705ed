"""The durable journal: every yen the kiosk takes or gives, written to disk before a device is told.

SQLite in WAL mode with ``synchronous=FULL``; every write method commits before it returns, so a caller may
acknowledge the device (a note's VEND VALID, a coin event) as soon as the method came back.  A transaction
(one visit's purchase, id = the server's idempotency key) is a row; everything that happens to it is an event
row.  Money events make up its :class:`Balance`; :meth:`Journal.settle` closes it (see :mod:`firmware.recovery`)
and :meth:`Journal.recover` settles whatever a power cut left open.

Typical use by the visit (the cashier makes the money calls)::

    journal.open(txn, kiosk_id="k01")
    journal.quote(txn, certificate="residence_record", copies=1, fee=300)
    journal.record_credit(txn, amount=1000, device="notes", credit_id="n-17", medium="note")
    journal.record_documents_received(txn, pages=1); journal.record_page_printed(txn, page=1)
    journal.settle(txn)

The journal holds ids, codes, counts and amounts only (see :mod:`firmware.journal_schema`).  Its methods are
synchronous: each costs one fsync, which the asyncio loop can afford at kiosk speeds.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

from hal.coins import DispenseResult
from firmware import journal_reports, journal_results as results, journal_schema as s
from firmware.journal_devices import CashDeviceRecords, HopperCount  # noqa: F401  (HopperCount: re-exported)
from firmware.recovery import Settlement, TransactionFacts, plan_settlement

JST = timezone(timedelta(hours=9))


class JournalError(Exception):
    """A write the journal refuses (unknown or closed transaction, a payout larger than the money held)."""


class JournalSchemaError(JournalError):
    """The journal file was written by a newer version of the kiosk."""


@dataclass(frozen=True)
class Balance:
    """Where one transaction's money is, in yen.  ``unaccounted`` is 0 for every closed transaction."""

    credited: int
    fee_collected: int  # the fee of a fully printed set
    fee_held: int  # the fee of a partly printed set, held while a reprint is owed
    change_paid: int
    refund_paid: int
    refund_owed: int
    pending_payout: int = 0  # payouts started whose outcome is not journalled yet

    @property
    def unaccounted(self) -> int:
        """Money taken but in no bucket yet: the resident's credit still in play, or a pending payout."""
        return self.credited - (self.fee_collected + self.fee_held + self.change_paid + self.refund_paid
                                + self.refund_owed)


_utc = journal_reports.utc_text

class Journal(CashDeviceRecords):
    """The kiosk's money journal in one SQLite file at ``path`` (created, with its schema, on first open)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] | None = None):
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._db = sqlite3.connect(str(path), isolation_level=None)
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise JournalError(f"journal needs WAL mode, SQLite gave {mode}")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        with self._write() as cur:
            version = cur.execute("PRAGMA user_version").fetchone()[0]
            if version > s.SCHEMA_VERSION:
                raise JournalSchemaError(f"journal schema version {version} is newer than this kiosk's "
                                         f"{s.SCHEMA_VERSION}; refusing to open it")
            steps = ([s.SCHEMA] if version == 0 else []) + [s.MIGRATIONS[v] for v in sorted(s.MIGRATIONS)
                                                            if max(version, 1) < v <= s.SCHEMA_VERSION]
            for step in steps:
                for statement in step.split(";"):
                    if statement.strip():
                        cur.execute(statement)
            if version != s.SCHEMA_VERSION:
                cur.execute(f"PRAGMA user_version = {s.SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def _insert(self, cur, txn: str | None, kind: str, amount: int = 0, *, device: str | None = None,
                ref: str | None = None, detail: dict | None = None, at: datetime | None = None) -> None:
        assert kind in s.KINDS, kind
        s.check_amount(amount)
        if device is not None:
            s.check_id(device, "device")
        if ref is not None:
            s.check_ref(ref, "ref")
        cur.execute("INSERT INTO events (transaction_id, at, kind, amount, device, ref, detail) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (txn, _utc(at or self._clock()), kind, amount, device, ref, s.check_detail(detail)))
        if txn is not None and kind in s.STATE_AFTER:
            cur.execute("UPDATE transactions SET state = ? WHERE id = ?", (s.STATE_AFTER[kind], txn))

    def _require_open(self, cur, txn: str) -> sqlite3.Row:
        s.check_transaction_id(txn)
        row = cur.execute("SELECT fee, state FROM transactions WHERE id = ?", (txn,)).fetchone()
        if row is None:
            raise JournalError(f"unknown transaction {txn}")
        if row[1] == "closed":
            raise JournalError(f"transaction {txn} is closed")
        return row

    # ---- the visit's records -------------------------------------------------------------------------------

    def open(self, txn: str, *, kiosk_id: str) -> None:
        """Start transaction ``txn`` (32 hex digits) on this kiosk."""
        s.check_transaction_id(txn)
        s.check_id(kiosk_id, "kiosk id")
        with self._write() as cur:
            cur.execute("INSERT INTO transactions (id, opened_at, kiosk_id, state) VALUES (?, ?, ?, 'open')",
                        (txn, _utc(self._clock()), kiosk_id))
            self._insert(cur, txn, "opened", ref=f"{txn}.opened")

    def quote(self, txn: str, *, certificate: str, copies: int, fee: int) -> None:
        """Set what is being bought and its fee in yen.  Refused once money has been credited."""
        s.check_id(certificate, "certificate code")
        s.check_amount(copies, "copies")
        s.check_amount(fee, "fee")
        with self._write() as cur:
            self._require_open(cur, txn)
            if self._sum(cur, txn, s.CREDIT):
                raise JournalError(f"transaction {txn} already holds credit; its fee cannot change")
            cur.execute("UPDATE transactions SET certificate = ?, copies = ?, fee = ? WHERE id = ?",
                        (certificate, copies, fee, txn))
            self._insert(cur, txn, "quoted", fee, detail={"certificate": certificate, "copies": copies})

    def record_credit(self, txn: str, *, amount: int, device: str, credit_id: str, medium: str,
                      counter: int | None = None) -> bool:
        """Credit ``amount`` yen (``medium`` 'note' or 'coin').  Returns False, recording nothing, when this
        device already reported ``credit_id``.  Committed on return: the device may then acknowledge.
        ``counter``: the acceptor's event counter of this credit, journalled in the same commit
        (see :mod:`firmware.journal_devices`)."""
        if medium not in ("note", "coin") or amount <= 0:
            raise ValueError("a credit is a positive amount of a note or a coin")
        ref = f"{s.check_id(device, 'device')}:{s.check_ref(credit_id, 'credit id')}"
        try:
            with self._write() as cur:
                self._require_open(cur, txn)
                if cur.execute("SELECT 1 FROM events WHERE kind = 'reconciliation_needed' AND ref = ?",
                               (ref,)).fetchone():
                    return False  # already kept as a stray credit
                self._insert(cur, txn, s.CREDIT, amount, device=device, ref=ref, detail={"medium": medium})
                if counter is not None:
                    self._insert(cur, None, "acceptor_counter", counter, device=device)
        except sqlite3.IntegrityError:
            return False
        return True

    def record_note_escrowed(self, txn: str, *, value: int, device: str) -> None:
        self._record(txn, "note_escrowed", value, device=device, detail={"value": value})

    def record_note_returned(self, txn: str, *, value: int, device: str) -> None:
        self._record(txn, "note_returned", value, device=device, detail={"value": value})

    def record_documents_received(self, txn: str, *, pages: int) -> None:
        """The server's document set arrived: ``pages`` pages are to be printed."""
        if s.check_amount(pages, "pages") <= 0:
            raise ValueError("a document set has at least one page")
        self._record(txn, "documents_received", ref=f"{txn}.documents", detail={"pages": pages})

    def record_page_printed(self, txn: str, *, page: int) -> bool:
        """Page ``page`` (1-based) left the printer.  Returns False if it was already recorded."""
        try:
            self._record(txn, "page_printed", ref=f"{txn}.page{s.check_amount(page, 'page')}",
                         detail={"page": page})
        except sqlite3.IntegrityError:
            return False
        return True

    def record_page_intent(self, txn: str, *, page: int) -> bool:
        """Page ``page`` (1-based) is about to be sent to the printer (written before the first byte goes).  An
        intent with neither ``page_printed`` nor ``print_failed`` after it is a page of unknown outcome."""
        try:
            self._record(txn, "page_intent", ref=f"{txn}.intent{s.check_amount(page, 'page')}",
                         detail={"page": page})
        except sqlite3.IntegrityError:
            return False
        return True

    def note(self, txn: str, kind: str, *, device: str | None = None, detail: dict | None = None) -> None:
        """Record a fact that moves no money: payment_complete, issue_requested, document_rejected,
        print_failed, cancelled or timed_out."""
        if kind not in s.NOTE_KINDS:
            raise ValueError(f"{kind!r} is not a kind that Journal.note records")
        self._record(txn, kind, device=device, detail=detail)

    def record_reconciliation(self, reason: str, *, txn: str | None = None, amount: int = 0,
                              device: str | None = None, ref: str | None = None) -> None:
        """Something a person must count: a note found in the stacker at power-up, lost coin events, a credit
        that arrived outside any visit.  May belong to no transaction."""
        detail = {"reason": s.check_id(reason, "reason")}
        with self._write() as cur:
            if txn is not None:
                s.check_transaction_id(txn)
            self._insert(cur, txn, "reconciliation_needed", amount, device=device, ref=ref, detail=detail)

    def record_stray_credit(self, *, amount: int, device: str, credit_id: str, counter: int | None = None) -> bool:
        """A credit that arrived outside any open transaction (a coin falling through after the visit closed):
        kept for reconciliation, in no transaction.  False, recording nothing, if this device already reported
        ``credit_id`` (as a credit or a stray credit)."""
        ref = f"{s.check_id(device, 'device')}:{s.check_ref(credit_id, 'credit id')}"
        try:
            with self._write() as cur:
                if cur.execute("SELECT 1 FROM events WHERE kind = 'credit' AND ref = ?", (ref,)).fetchone():
                    return False
                self._insert(cur, None, "reconciliation_needed", amount, device=device, ref=ref,
                             detail={"reason": "credit_outside_visit"})
                if counter is not None:
                    self._insert(cur, None, "acceptor_counter", counter, device=device)
        except sqlite3.IntegrityError:
            return False
        return True

    def _record(self, txn: str, kind: str, amount: int = 0, **kw) -> None:
        with self._write() as cur:
            self._require_open(cur, txn)
            self._insert(cur, txn, kind, amount, **kw)

    # ---- payouts ---------------------------------------------------------------------------------------------

    def begin_payout(self, txn: str, kind: str, amount: int, *, unplannable: int = 0) -> str:
        """Journal the intent to pay ``amount`` yen as 'change' or 'refund'; returns the payout id.

        ``unplannable`` (part of ``amount``) is what the hoppers cannot pay at all: it is owed at once.
        Refused if it is more than :meth:`payable`."""
        if kind not in ("change", "refund"):
            raise ValueError("a payout is 'change' or 'refund'")
        s.check_amount(amount)
        if not 0 <= s.check_amount(unplannable, "unplannable") <= amount or amount == 0:
            raise ValueError("a payout is a positive amount, of which unplannable is a part")
        with self._write() as cur:
            held = self._payable(cur, txn, kind)
            if amount > held:
                raise JournalError(f"payout of {amount} exceeds the {held} yen transaction {txn} may pay")
            number = cur.execute("SELECT count(*) FROM events WHERE transaction_id = ? AND kind IN "
                                 "('change_intent', 'refund_intent')", (txn,)).fetchone()[0] + 1
            payout = f"{txn}.p{number}"
            self._insert(cur, txn, f"{kind}_intent", amount, ref=payout)
            if unplannable:
                self._insert(cur, txn, s.REFUND_OWED, unplannable, ref=f"{payout}.none",
                             detail={"reason": "no_change", "payout": payout})
        return payout

    def payable(self, txn: str, kind: str) -> int:
        """The most ``txn`` may pay out now as 'change' or 'refund': what it holds, less payouts under way, and
        less its fee (not yet booked) for change, or for anything once a page has been printed."""
        return self._payable(self._db.cursor(), txn, kind)

    def _payable(self, cur, txn: str, kind: str) -> int:
        fee = self._require_open(cur, txn)[0]
        b = self._balance(cur, txn)
        held = b.unaccounted - b.pending_payout
        if b.fee_collected + b.fee_held == 0 and (kind == "change" or self._count(cur, txn, "page_printed")):
            held -= fee
        return max(held, 0)

    def record_dispensed(self, txn: str, payout: str, *, hopper: str, coin_value: int,
                         result: DispenseResult) -> None:
        """What ``hopper`` really paid for ``payout``: the paid part as change/refund paid, the unpaid part as
        change_unpaid and refund_owed, in one commit.  Each hopper reports once per payout."""
        ref = f"{s.check_ref(payout, 'payout id')}.{s.check_id(hopper, 'hopper')}"
        try:
            self._record_dispensed(txn, payout, ref, hopper, coin_value, result)
        except sqlite3.IntegrityError:
            raise JournalError(f"hopper {hopper} already reported for payout {payout}") from None

    def _record_dispensed(self, txn, payout, ref, hopper, coin_value, result) -> None:
        with self._write() as cur:
            self._require_open(cur, txn)
            intent = cur.execute("SELECT kind, amount FROM events WHERE ref = ? AND transaction_id = ? AND kind IN "
                                 "('change_intent', 'refund_intent')", (payout, txn)).fetchone()
            if intent is None:
                raise JournalError(f"no payout {payout} in transaction {txn}")
            paid, unpaid = result.paid * coin_value, result.unpaid * coin_value
            if self._payout_settled(cur, payout) + paid + unpaid > intent[1]:
                raise JournalError(f"hopper results exceed payout {payout}")
            detail = {"coin_value": coin_value, "requested": result.requested, "paid": result.paid,
                      "unpaid": result.unpaid, "payout": payout}
            if result.unknown:  # neither paid nor unpaid: left unresolved for a count (see Cashier)
                detail["unknown"] = result.unknown
            paid_kind = s.CHANGE_PAID if intent[0] == "change_intent" else s.REFUND_PAID
            self._insert(cur, txn, paid_kind, paid, device=hopper, ref=ref, detail=detail)
            if unpaid:
                self._insert(cur, txn, "change_unpaid", unpaid, device=hopper, ref=ref, detail=detail)
                self._insert(cur, txn, s.REFUND_OWED, unpaid, device=hopper, ref=ref, detail=detail)

    # ---- settlement ------------------------------------------------------------------------------------------

    def settle(self, txn: str, now: datetime | None = None, *, outcome: str | None = None,
               reason: str | None = None) -> Settlement:
        """Close ``txn``: put every yen it holds in a bucket (see :mod:`firmware.recovery`) and queue the result
        the server must be told (:mod:`firmware.journal_results`; ``outcome`` overrides the one the settlement
        implies, ``reason`` is a code), atomically."""
        with self._write() as cur:
            self._require_open(cur, txn)
            facts = self._facts(cur, txn)
            settlement, events = plan_settlement(facts)
            for event in events:
                self._insert(cur, txn, event.kind, event.amount, ref=event.ref, detail=event.detail, at=now)
            cur.execute("UPDATE transactions SET closed_at = ?, outcome = ? WHERE id = ?",
                        (_utc(now or self._clock()), settlement.kind.value, txn))
            results.queue(cur, settlement, pages_printed=facts.pages_printed, outcome=outcome, reason=reason,
                          at=now or self._clock())
        return settlement

    def page_outcomes(self, txn: str) -> tuple[int, int]:
        """(pages printed, pages of unknown outcome) of open transaction ``txn``."""
        facts = self._facts(self._db.cursor(), s.check_transaction_id(txn))
        return facts.pages_printed, facts.pages_unknown

    # ---- the result outbox -----------------------------------------------------------------------------------

    def pending_results(self) -> list[results.PendingResult]:
        """Results the server has not acknowledged yet, oldest first."""
        return results.pending(self._db)

    def result(self, txn: str) -> results.ResultRecord | None:
        """The result queued for ``txn`` and how it was delivered; None if ``txn`` needs none."""
        return results.record(self._db, txn)

    def result_attempt_failed(self, txn: str, error: str) -> None:
        with self._write() as cur:
            results.attempt_failed(cur, txn, error)

    def result_delivered(self, txn: str, delivery: str = "acknowledged") -> None:
        with self._write() as cur:
            results.delivered(cur, txn, delivery, self._clock())

    def result_counts(self) -> dict[str, int]:
        return results.counts(self._db)

    def recover(self, now: datetime | None = None, found=None) -> list[Settlement]:
        """Settle every transaction a crash left open.  Run at start-up, before money is taken.

        ``found`` (a :class:`firmware.cashier.FoundAtStart`): what the acceptors said as they started lies in their
        boxes without a credit.  When exactly one transaction is open it is that visit's money: the notes (as many
        as the journal holds in escrow for it, largest first) and the coins are credited to it first, so the
        settlement owes them back.  With no or several open transactions nothing is attributed (the flags the
        cashier journalled stay for the count)."""
        open_txns = self.open_transactions()
        if found is not None and len(open_txns) == 1 and (found.notes or found.coin_yen):
            self._credit_found(open_txns[0], found.notes, found.coin_yen, now)
        return [self.settle(txn, now) for txn in open_txns]

    def _credit_found(self, txn: str, notes: int, coin_yen: int, now: datetime | None) -> None:
        with self._write() as cur:
            self._require_open(cur, txn)
            values = [a for (a,) in cur.execute("SELECT amount FROM events WHERE transaction_id = ? AND kind = "
                                                "'note_escrowed' ORDER BY seq", (txn,))]
            for (amount,) in cur.execute("SELECT amount FROM events WHERE transaction_id = ? AND (kind = "
                                         "'note_returned' OR (kind = 'credit' AND json_extract(detail, '$.medium') "
                                         "= 'note'))", (txn,)).fetchall():
                if amount in values:
                    values.remove(amount)
            for n, value in enumerate(sorted(values, reverse=True)[:notes]):
                self._insert(cur, txn, s.CREDIT, value, device="notes", ref=f"{txn}.found-note{n}",
                             detail={"medium": "note", "reason": "found_at_start"}, at=now)
            if coin_yen:
                self._insert(cur, txn, s.CREDIT, coin_yen, device="coins", ref=f"{txn}.found-coins",
                             detail={"medium": "coin", "reason": "found_at_start"}, at=now)

    def _facts(self, cur, txn: str) -> TransactionFacts:
        b = self._balance(cur, txn)
        pages = cur.execute("SELECT max(json_extract(detail, '$.pages')) FROM events WHERE transaction_id = ? "
                            "AND kind = 'documents_received'", (txn,)).fetchone()[0]
        escrowed = self._count(cur, txn, "note_escrowed") - self._count(cur, txn, "note_returned")
        notes_credited, notes_credited_yen = cur.execute(
            "SELECT count(*), coalesce(sum(amount), 0) FROM events WHERE transaction_id = ? AND kind = 'credit' "
            "AND json_extract(detail, '$.medium') = 'note'", (txn,)).fetchone()
        in_play_yen = self._sum(cur, txn, "note_escrowed") - self._sum(cur, txn, "note_returned") - notes_credited_yen
        return TransactionFacts(
            transaction_id=txn, fee=self._require_open(cur, txn)[0], credited=b.credited,
            fee_earned=b.fee_collected, fee_held=b.fee_held, change_paid=b.change_paid,
            refund_paid=b.refund_paid, refund_owed=b.refund_owed, pages_expected=pages,
            pages_printed=self._count(cur, txn, "page_printed"),
            pages_unknown=max(self._count(cur, txn, "page_intent") - self._count(cur, txn, "page_printed")
                              - self._count(cur, txn, "print_failed"), 0),
            unresolved_payouts=tuple((p, a) for p, a in self._unresolved_payouts(cur, txn)),
            unresolved_notes=max(escrowed - notes_credited, 0),
            unresolved_note_yen=max(in_play_yen, 0) if escrowed > notes_credited else 0,
        )

    def _unresolved_payouts(self, cur, txn: str) -> list[tuple[str, int]]:
        intents = cur.execute("SELECT ref, amount FROM events WHERE transaction_id = ? AND kind IN "
                              "('change_intent', 'refund_intent') ORDER BY seq", (txn,)).fetchall()
        return [(ref, amount - self._payout_settled(cur, ref)) for ref, amount in intents
                if amount > self._payout_settled(cur, ref)]

    @staticmethod
    def _payout_settled(cur, payout: str) -> int:
        return cur.execute("SELECT coalesce(sum(amount), 0) FROM events WHERE ref LIKE ? AND kind IN "
                           "('change_paid', 'refund_paid', 'refund_owed')", (payout + ".%",)).fetchone()[0]

    # ---- queries ---------------------------------------------------------------------------------------------

    def balance(self, txn: str) -> Balance:
        """Where ``txn``'s money is now."""
        s.check_transaction_id(txn)
        return self._balance(self._db.cursor(), txn)

    def _balance(self, cur, txn: str) -> Balance:
        return Balance(
            credited=self._sum(cur, txn, s.CREDIT), fee_collected=self._sum(cur, txn, s.FEE_EARNED),
            fee_held=self._sum(cur, txn, s.REPRINT_OWED), change_paid=self._sum(cur, txn, s.CHANGE_PAID),
            refund_paid=self._sum(cur, txn, s.REFUND_PAID), refund_owed=self._sum(cur, txn, s.REFUND_OWED),
            pending_payout=sum(a for _, a in self._unresolved_payouts(cur, txn)),
        )

    @staticmethod
    def _sum(cur, txn: str, kind: str) -> int:
        return cur.execute("SELECT coalesce(sum(amount), 0) FROM events WHERE transaction_id = ? AND kind = ?",
                           (txn, kind)).fetchone()[0]

    @staticmethod
    def _count(cur, txn: str, kind: str) -> int:
        return cur.execute("SELECT count(*) FROM events WHERE transaction_id = ? AND kind = ?",
                           (txn, kind)).fetchone()[0]

    def fee(self, txn: str) -> int:
        row = self._db.execute("SELECT fee FROM transactions WHERE id = ?", (s.check_transaction_id(txn),))
        found = row.fetchone()
        if found is None:
            raise JournalError(f"unknown transaction {txn}")
        return found[0]

    def is_open(self, txn: str) -> bool:
        row = self._db.execute("SELECT state FROM transactions WHERE id = ?", (s.check_transaction_id(txn),))
        found = row.fetchone()
        return found is not None and found[0] != "closed"

    def outcome(self, txn: str) -> str | None:
        """How ``txn`` was settled (a :class:`~firmware.recovery.SettlementKind` value), None while open."""
        row = self._db.execute("SELECT outcome FROM transactions WHERE id = ?", (s.check_transaction_id(txn),))
        found = row.fetchone()
        return found[0] if found else None

    def open_transactions(self) -> list[str]:
        """Ids of the transactions not yet closed, oldest first."""
        return [r[0] for r in self._db.execute(
            "SELECT id FROM transactions WHERE state != 'closed' ORDER BY opened_at, id")]

    def events(self, txn: str) -> list[tuple[str, int]]:
        """(kind, amount) of every event of ``txn`` in order (for tests and the maintenance screen)."""
        return [(k, a) for k, a in self._db.execute(
            "SELECT kind, amount FROM events WHERE transaction_id = ? ORDER BY seq", (s.check_transaction_id(txn),))]

    def day_summary(self, day: date, tz: timezone = JST) -> dict:
        """Counts and sums per kind of the events of local day ``day`` (Japan time by default), and the
        transactions opened that day by outcome ('open' while unsettled).  See :mod:`firmware.journal_reports`."""
        return journal_reports.day_summary(self._db, day, tz)

    def totals(self) -> dict:
        """Counts and sums per kind over the whole journal, and the number of open transactions."""
        return journal_reports.totals(self._db)

    # ---- staff cash service (maintenance) --------------------------------------------------------------------

    def record_cash_service(self, kind: str, *, device: str, amount: int = 0, detail: dict | None = None) -> None:
        """What staff did to the cash (``cash_box_emptied``, ``acceptor_reset``): an event in no transaction, with a
        device name, counts and yen only.  (A hopper refill or count: :meth:`record_hopper_stock`.)"""
        if kind not in s.CASH_SERVICE_KINDS:
            raise ValueError(f"{kind!r} is not a staff cash service kind")
        with self._write() as cur:
            self._insert(cur, None, kind, amount, device=device, detail=detail)

    def cash_box_contents(self, device: str) -> tuple[int, int]:
        """(yen, credits) the journal says went into ``device``'s cash box since it was last emptied."""
        return journal_reports.cash_box_contents(self._db, s.check_id(device, "device"))

    def refunds_owed(self, limit: int = 50) -> list[dict]:
        """The refunds owed, newest first (transaction id, when, yen, reason code)."""
        return journal_reports.refunds_owed(self._db, limit)
