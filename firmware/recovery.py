"""How an unfinished transaction is settled, so that every yen it took lands in exactly one bucket.

The same rule closes every transaction: at the end of a normal visit (:meth:`Journal.settle`) and at start-up
for whatever a power cut left open (:func:`recover`).  :func:`plan_settlement` is pure: it looks at what the
journal knows of one transaction (:class:`TransactionFacts`) and says which events close it.  The journal writes
them in one SQLite transaction, so a crash during settlement leaves the transaction open and it is settled again.

The buckets are: the fee of a fully printed set (``fee_earned``), the fee held for a reprint the counter owes
(``reprint_owed``), change paid, refunds paid, and refunds owed (paid at the counter against a slip).

1. A payout whose intent was journalled but whose outcome was not (the power died while a hopper ran) is of
   unknown outcome: it is recorded as ``reconciliation_needed`` and its unconfirmed amount is owed as a refund.
   The kiosk never pays it again; a person counts the hopper.
2. Nothing printed: the fee is not earned; whatever the resident paid and did not get back is owed.
3. Every page printed: the fee is earned; any excess not paid as change is owed.
4. Some pages printed: the fee is held for the reprint; any excess is owed.
5. A page sent to the printer whose outcome was never journalled (the power died while it printed) is neither
   printed nor not printed: it is recorded as ``reconciliation_needed`` and, unless every page is confirmed, the
   fee is held as in 4 — not earned, not refunded — until the counter has looked (the resident may hold it).

A note journalled in escrow with neither a credit nor a return (the power died between STACK and the credit's
commit, or with the note in escrow) is flagged for a count with its value: it is in the cash box, or the
validator's reset gave it back; the journal cannot tell which, so it owes nothing on a guess.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from firmware.journal import Journal


class SettlementKind(str, enum.Enum):
    ABANDONED = "abandoned"  # no money, nothing printed
    REFUNDED = "refunded"  # money taken, nothing printed: all of it paid back or owed
    COMPLETED = "completed"  # every page printed: the fee is earned
    REPRINT_OWED = "reprint_owed"  # some pages printed: the fee is held for the counter to reprint


@dataclass(frozen=True)
class Settlement:
    """How one transaction was closed.  Amounts in yen; ids and codes only, never personal data."""

    transaction_id: str
    kind: SettlementKind
    credited: int
    fee_earned: int
    fee_held: int
    change_paid: int
    refund_paid: int
    refund_owed: int  # everything owed for this transaction, including ``unconfirmed``
    unconfirmed: int = 0  # payouts of unknown outcome, owed and flagged for a hopper count
    reconciliation_needed: bool = False


@dataclass(frozen=True)
class TransactionFacts:
    """What the journal knows of one open transaction (sums of its events)."""

    transaction_id: str
    fee: int
    credited: int = 0
    fee_earned: int = 0
    fee_held: int = 0
    change_paid: int = 0
    refund_paid: int = 0
    refund_owed: int = 0
    pages_expected: int | None = None  # None until documents were received
    pages_printed: int = 0
    pages_unknown: int = 0  # pages sent (intent journalled) with neither a printed nor a failed record after
    unresolved_payouts: tuple[tuple[str, int], ...] = ()  # (payout id, amount of unknown outcome)
    unresolved_notes: int = 0  # notes journalled in escrow with neither a credit nor a return
    unresolved_note_yen: int = 0  # their value: in the cash box or given back at the reset, as a count finds


def fee_is_due(pages_printed: int, pages_unknown: int = 0) -> bool:
    """THE rule: the fee is earned (or held for a reprint) once a page printed, or may have printed; before that,
    everything is paid back.  The visit (:meth:`PaymentSteps._close_money`) and the settlement below both ask here."""
    return pages_printed > 0 or pages_unknown > 0


@dataclass(frozen=True)
class PlannedEvent:
    kind: str
    amount: int = 0
    ref: str | None = None
    detail: dict = field(default_factory=dict)


def plan_settlement(facts: TransactionFacts) -> tuple[Settlement, list[PlannedEvent]]:
    """The events that close this transaction, and the settlement they amount to."""
    txn = facts.transaction_id
    events: list[PlannedEvent] = []
    unconfirmed = 0
    for payout_id, amount in facts.unresolved_payouts:
        events.append(PlannedEvent("reconciliation_needed", amount, f"{payout_id}.unknown",
                                   {"reason": "payout_outcome_unknown", "payout": payout_id}))
        events.append(PlannedEvent("refund_owed", amount, f"{payout_id}.unknown",
                                   {"reason": "payout_outcome_unknown", "payout": payout_id}))
        unconfirmed += amount
    if facts.pages_unknown:
        events.append(PlannedEvent("reconciliation_needed", 0, f"{txn}.pages",
                                   {"reason": "page_outcome_unknown", "count": facts.pages_unknown}))
    if facts.unresolved_notes:
        events.append(PlannedEvent("reconciliation_needed", facts.unresolved_note_yen, f"{txn}.escrow",
                                   {"reason": "note_escrow_unresolved", "count": facts.unresolved_notes}))

    gone = facts.change_paid + facts.refund_paid + facts.refund_owed + unconfirmed
    available = facts.credited - facts.fee_earned - facts.fee_held - gone
    fee_earned, fee_held = 0, 0
    if not fee_is_due(facts.pages_printed, facts.pages_unknown):
        kind = SettlementKind.ABANDONED if facts.credited == 0 else SettlementKind.REFUNDED
        fee_kind, fee_due = None, 0
    elif facts.pages_expected is not None and facts.pages_printed >= facts.pages_expected:
        kind, fee_kind = SettlementKind.COMPLETED, "fee_earned"
        fee_due = max(facts.fee - facts.fee_earned, 0)
    else:
        kind, fee_kind = SettlementKind.REPRINT_OWED, "reprint_owed"
        fee_due = max(facts.fee - facts.fee_held, 0)
    if fee_kind is not None:
        fee_part = min(fee_due, max(available, 0))
        if fee_part < fee_due:  # printed without the fee in hand: cannot happen unless a record was lost
            events.append(PlannedEvent("reconciliation_needed", fee_due - fee_part, f"{txn}.fee_short",
                                       {"reason": "fee_short"}))
        if fee_part:
            events.append(PlannedEvent(fee_kind, fee_part, f"{txn}.{fee_kind}"))
        available -= fee_part
        fee_earned = fee_part if fee_kind == "fee_earned" else 0
        fee_held = fee_part if fee_kind == "reprint_owed" else 0
    refund_now = max(available, 0)
    if refund_now:
        events.append(PlannedEvent("refund_owed", refund_now, f"{txn}.settle", {"reason": "settlement"}))
    if available < 0:  # more went out than came in: a person must look
        events.append(PlannedEvent("reconciliation_needed", -available, f"{txn}.overpaid", {"reason": "overpaid"}))
    events.append(PlannedEvent("settled", 0, f"{txn}.settled", {"settlement": kind.value}))
    events.append(PlannedEvent("closed", 0, f"{txn}.closed", {"settlement": kind.value}))
    settlement = Settlement(
        transaction_id=txn, kind=kind, credited=facts.credited,
        fee_earned=facts.fee_earned + fee_earned, fee_held=facts.fee_held + fee_held,
        change_paid=facts.change_paid, refund_paid=facts.refund_paid,
        refund_owed=facts.refund_owed + unconfirmed + refund_now, unconfirmed=unconfirmed,
        reconciliation_needed=any(e.kind == "reconciliation_needed" for e in events),
    )
    return settlement, events


def recover(journal: "Journal", now: datetime | None = None) -> list[Settlement]:
    """Settle every transaction left open (run once at start-up, before the kiosk takes money)."""
    return [journal.settle(txn, now=now) for txn in journal.open_transactions()]
