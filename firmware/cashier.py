"""The cashier: takes the fee in notes and coins, pays change and refunds, and journals every yen first.

It knows money and nothing else: which notes and coins the kiosk can take now (only those whose overpayment the
hoppers can pay back), when a credit is durable (journalled before the device is told), and what a hopper really
paid.  The visit decides when to start, stop, pay change or refund.  A paid visit::

    cashier.begin(txn); await cashier.start_accepting()          # devices deliver to cashier.on_event
    ...  # the resident pays; cashier.remaining() reaches 0; the visit stops accepting and prints
    await cashier.pay_change(txn); journal.settle(txn)
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from hal.coins import (CoinAcceptor, CoinCounterMoved, CoinCredited, CoinEventsLost, DispenseResult, Hopper,
                       HopperState, YEN_COINS)
from hal.events import DeviceError, DeviceEvent
from hal.notes import (NoteCredited, NoteEscrowed, NoteNeedsReconciliation, NoteValidator, NoteValidatorState,
                       YEN_NOTES)
from firmware.change import change_plan, largest_payable
from firmware.journal import Journal


log = logging.getLogger("kiosk.cashier")

NOTE_IN_TRANSIT = frozenset({NoteValidatorState.ACCEPTING, NoteValidatorState.ESCROW, NoteValidatorState.STACKING,
                             NoteValidatorState.RETURNING})
"""A note validator in one of these states has a note on its way: the amount taken is not final yet."""

SETTLE_BOUND_S = 6.0
"""How long :meth:`Cashier.stop_accepting` waits for the validator to report a final state (a note stacks in about
two seconds; a validator that has not settled by then cannot say what it took)."""


@dataclass
class FoundAtStart:
    """What the acceptors said, as they started, that is in their boxes without a credit in the journal: notes the
    validator holds in its stacker (or past VEND VALID) and coins the acceptor counted while the kiosk was down,
    every value known.  Start-up recovery credits them to the one transaction a crash left open, which then owes
    them back (:meth:`firmware.journal.Journal.recover`); anything else stays flagged for a count."""

    notes: int = 0
    coin_yen: int = 0


@dataclass(frozen=True)
class PayoutOutcome:
    """What a change or refund payout came to, in yen: ``paid`` by the hoppers, ``owed`` as a refund slip, and
    ``unknown``: coins a hopper could not say it paid or not (journalled for a count; the kiosk is out of service
    until then, and settlement keeps it flagged as unconfirmed)."""

    paid: int
    owed: int
    payout_id: str | None = None
    unknown: int = 0


class Cashier:
    """Money for one transaction at a time, on one note validator, one coin acceptor and the change hoppers."""

    def __init__(self, journal: Journal, notes: NoteValidator, coins: CoinAcceptor, hoppers: list[Hopper]):
        self.journal = journal
        self.notes = notes
        self.coins = coins
        self.hoppers = list(hoppers)
        self._txn: str | None = None
        self._due = 0
        self._accepting = False
        self._refresh: asyncio.Task | None = None
        self.settle_bound_s = SETTLE_BOUND_S
        self.unknown_state = False  # a cash device could not tell what it took or paid: staff count before money
        self.found_at_start = FoundAtStart()  # money the devices reported in their boxes as they started

    # ---- start-up ----------------------------------------------------------------------------------------------

    def restore_from_journal(self) -> None:
        """Before the devices start: give each what the journal knows of it, since no device remembers for the
        kiosk.  The coin acceptor learns the last event counter the journal holds (it reports anything it counted
        beyond, for a count); each hopper gets the coins the journal says it holds — its configured stock only on
        the very first start, journalled then as its first count.  A hopper whose count is unknown (a payout that
        could not say what it paid) keeps the kiosk out of service until staff count it."""
        self.coins.resume_from(self.journal.acceptor_counter(self.coins.name))
        for hopper in self.hoppers:
            kept = self.journal.hopper_stock(hopper.name)
            if kept is None:
                configured = hopper.coins_estimate()
                if configured is not None:
                    self.journal.record_hopper_stock(hopper.name, coin_value=hopper.coin_value, coins=configured,
                                                     reason="configured")
                continue
            hopper.restore_estimate(kept.coins)
            if kept.coins is None:
                log.error("%s: its coins are unknown since a payout it could not account for; count it",
                          hopper.name)
                self.unknown_state = True

    def record_hopper_count(self, hopper: Hopper, coins: int, reason: str = "counted") -> None:
        """Staff counted (``counted``) or refilled (``refill``) ``hopper``: it holds ``coins`` now."""
        self.journal.record_hopper_stock(hopper.name, coin_value=hopper.coin_value, coins=coins, reason=reason)
        hopper.restore_estimate(coins)

    # ---- what the kiosk can pay and take ---------------------------------------------------------------------

    def stock(self) -> dict[int, int]:
        """{coin value: coins believed in the hoppers that can pay now}.  A jammed, offline or uncountable
        hopper counts as empty."""
        stock: dict[int, int] = {}
        for hopper in self._usable_hoppers():
            stock[hopper.coin_value] = stock.get(hopper.coin_value, 0) + hopper.coins_estimate()
        return stock

    def _usable_hoppers(self) -> list[Hopper]:
        return [h for h in self.hoppers if h.state().can_pay and (h.coins_estimate() or 0) > 0]

    def change_plan(self, amount: int) -> dict[int, int] | None:
        """{coin value: count} paying ``amount`` yen from the hoppers' stock, or None if it cannot be done."""
        return change_plan(amount, self.stock())

    def acceptable_denominations(self, due: int | None = None) -> tuple[frozenset[int], frozenset[int]]:
        """(notes, coins) the kiosk may take while ``due`` yen are still to pay (default :meth:`remaining`).

        A denomination is acceptable if it does not overpay, or if the hoppers can pay its overpayment back.
        Nothing is acceptable when nothing is due or the acceptor is out of service."""
        due = self.remaining() if due is None else due
        if due <= 0:
            return frozenset(), frozenset()
        stock = self.stock()

        def fits(value: int) -> bool:
            return value <= due or change_plan(value - due, stock) is not None

        notes = frozenset() if self.notes.state().out_of_service else frozenset(
            v for v in self.notes.denominations() & YEN_NOTES if fits(v))
        coins = frozenset() if self.coins.state().out_of_service else frozenset(
            v for v in self.coins.denominations() & YEN_COINS if fits(v))
        return notes, coins

    # ---- one transaction's payment ---------------------------------------------------------------------------

    def begin(self, txn: str, due: int | None = None) -> None:
        """Collect the fee of journal transaction ``txn`` (``due``, if given, must equal its quoted fee)."""
        fee = self.journal.fee(txn)
        if due is not None and due != fee:
            raise ValueError(f"due {due} differs from the fee {fee} quoted in the journal")
        self._txn, self._due = txn, fee

    def due(self) -> int:
        return self._due

    def paid(self) -> int:
        """Yen credited to the current transaction (from the journal: the truth)."""
        return self.journal.balance(self._txn).credited if self._txn else 0

    def remaining(self) -> int:
        """Yen still due: money already given back (or owed back, or on its way back) pays no fee."""
        if not self._txn:
            return 0
        b = self.journal.balance(self._txn)
        held = b.credited - b.change_paid - b.refund_paid - b.refund_owed - b.pending_payout
        return max(self._due - held, 0)

    async def start_accepting(self, due: int | None = None) -> None:
        """Enable the acceptable notes and coins (a device with none acceptable is disabled)."""
        self._accepting = True
        await self._apply(*self.acceptable_denominations(due))

    async def stop_accepting(self) -> bool:
        """Stop, then report the final amount: disable both acceptors, give back a note still in escrow, and wait
        (at most :data:`SETTLE_BOUND_S`) until the note validator has no note on its way, so that a note that
        completes stacking after the stop is credited to this transaction before anyone settles it.

        Returns True when both devices told their final state.  False when one could not say (it did not answer,
        or a note was still moving at the bound): that is journalled as ``acceptor_state_unknown`` on the open
        transaction, and the kiosk must not take money again until staff have counted."""
        self._accepting = False
        if self._refresh is not None and self._refresh is not asyncio.current_task():
            self._refresh.cancel()
        known = True
        for device in (self.notes, self.coins):  # one device failing must not leave the other enabled
            try:
                await device.disable()
            except Exception as e:
                log.warning("%s did not take the disable command: %s", device.name, type(e).__name__)
                known = False
        if not await self._note_validator_at_rest():
            known = False
        if not known:
            txn = self._open_txn()
            self.journal.record_reconciliation("acceptor_state_unknown", txn=txn, device=self.notes.name)
            self.unknown_state = True
        return known

    async def _note_validator_at_rest(self) -> bool:
        end = time.monotonic() + self.settle_bound_s
        while True:
            state = self.notes.state()
            if state is NoteValidatorState.ESCROW:
                await self._return_escrowed()
            elif state not in NOTE_IN_TRANSIT:
                return state is not NoteValidatorState.OFFLINE
            if time.monotonic() >= end:
                return False
            await asyncio.sleep(0.02)

    async def _return_escrowed(self) -> None:
        try:
            await self.notes.return_note()
        except DeviceError:
            pass  # it moved on by itself (stacked or returned); the next look at its state tells which

    async def _apply(self, notes: frozenset[int], coins: frozenset[int]) -> None:
        await (self.notes.enable(notes) if notes else self.notes.disable())
        await (self.coins.enable(coins) if coins else self.coins.disable())

    async def refresh_acceptance(self) -> None:
        """Re-enable what is acceptable now (after a credit or a hopper change); nothing if not accepting."""
        if self._accepting:
            await self._apply(*self.acceptable_denominations())

    # ---- device events ---------------------------------------------------------------------------------------

    async def on_event(self, event: DeviceEvent) -> None:
        """The sink for the note validator and the coin acceptor."""
        if isinstance(event, NoteEscrowed):
            await self.on_note_escrowed(event.value)
        elif isinstance(event, (NoteCredited, CoinCredited)):
            await self.on_credit(event)
        elif isinstance(event, NoteNeedsReconciliation):
            self.journal.record_reconciliation("note_in_stacker_at_power_up", txn=self._open_txn(),
                                               device=event.device)
            if event.in_stacker and self._txn is None:
                self.found_at_start.notes += 1
        elif isinstance(event, CoinEventsLost):
            reason = "coin_events_unjournalled" if event.unjournalled else "coin_events_lost"
            self.journal.record_reconciliation(reason, txn=self._open_txn(), device=event.device,
                                               amount=event.amount)
            if event.unjournalled and event.count and self._txn is None:  # every coin's value known
                self.found_at_start.coin_yen += event.amount
        elif isinstance(event, CoinCounterMoved):
            self.journal.record_acceptor_counter(event.device, event.counter)

    async def on_note_escrowed(self, value: int) -> bool:
        """A note waits in escrow: journal it, then stack it (True) or, if it is no longer acceptable, return
        it (False).  Outside a transaction every note goes back.  A decision that comes too late (the note was
        already given back by a stop, or the validator moved on) is not an error: the validator's own state and
        events say where the note went."""
        txn = self._open_txn()
        if txn is None:
            await self._decide(self.notes.return_note)
            return False
        self.journal.record_note_escrowed(txn, value=value, device=self.notes.name)
        if self._accepting and value in self.acceptable_denominations()[0]:
            if await self._decide(self.notes.stack):
                return True
            self.journal.record_note_returned(txn, value=value, device=self.notes.name)
            return False
        await self._decide(self.notes.return_note)
        self.journal.record_note_returned(txn, value=value, device=self.notes.name)
        return False

    async def _decide(self, action) -> bool:
        try:
            await action()
        except DeviceError as e:
            log.info("late escrow decision: %s", e)
            return False
        return True

    async def on_credit(self, event: NoteCredited | CoinCredited) -> bool:
        """Journal a credit before returning (the device acknowledges after).  False for a repeated report.

        A credit outside an open transaction (a coin falling through after the visit closed) is journalled for
        reconciliation: the money is in the box but belongs to no one the kiosk can name."""
        medium = "note" if isinstance(event, NoteCredited) else "coin"
        counter = getattr(event, "counter", None)  # a coin acceptor's event counter, journalled with the credit
        txn = self._open_txn()
        if txn is None:
            return self.journal.record_stray_credit(amount=event.value, device=event.device,
                                                    credit_id=event.credit_id, counter=counter)
        fresh = self.journal.record_credit(txn, amount=event.value, device=event.device,
                                           credit_id=event.credit_id, medium=medium, counter=counter)
        if fresh and self._accepting:
            # The device is waiting for this sink to return before it acknowledges; talk to it afterwards.
            self._refresh = asyncio.get_running_loop().create_task(self.refresh_acceptance())
        return fresh

    def _open_txn(self) -> str | None:
        return self._txn if self._txn is not None and self.journal.is_open(self._txn) else None

    # ---- paying out ------------------------------------------------------------------------------------------

    def refundable(self, txn: str) -> int:
        """Yen ``txn`` may pay back now: what it holds, less payouts under way and, once a page is printed,
        less its fee."""
        return self.journal.payable(txn, "refund")

    async def pay_change(self, txn: str | None = None) -> PayoutOutcome:
        """Pay back what ``txn`` holds beyond its fee (call when the documents are printed)."""
        txn = txn or self._txn
        amount = self.journal.payable(txn, "change")
        if amount <= 0:
            return PayoutOutcome(0, 0)
        return await self._payout(txn, "change", amount)

    async def refund(self, txn: str, amount: int) -> PayoutOutcome:
        """Pay ``amount`` yen back to the resident (what the hoppers cannot pay is owed)."""
        if amount <= 0:
            return PayoutOutcome(0, 0)
        return await self._payout(txn, "refund", amount)

    async def refund_all(self, txn: str | None = None) -> PayoutOutcome:
        """Cancel: stop taking money and pay back everything ``txn`` holds."""
        txn = txn or self._txn
        await self.stop_accepting()
        return await self.refund(txn, self.refundable(txn))

    async def _payout(self, txn: str, kind: str, amount: int) -> PayoutOutcome:
        payable, plan = largest_payable(amount, self.stock())
        payout = self.journal.begin_payout(txn, kind, amount, unplannable=amount - payable)
        paid, owed, unknown = 0, amount - payable, 0
        for value, count in sorted(plan.items(), reverse=True):
            for hopper, share in self._share(value, count):
                try:
                    result = await hopper.dispense(share)
                except Exception:  # the contract: a hopper raises only before a coin has left it
                    result = DispenseResult(requested=share, paid=0, unpaid=share)
                self.journal.record_dispensed(txn, payout, hopper=hopper.name, coin_value=value, result=result)
                if result.unknown:
                    self._payout_unknown(txn, payout, hopper, result.unknown * value)
                elif result.unpaid and hopper.coins_estimate() == 0 and hopper.state() is HopperState.EMPTY:
                    self.journal.record_hopper_stock(hopper.name, coin_value=value, coins=0, reason="ran_empty")
                paid += result.paid * value
                owed += result.unpaid * value
                unknown += result.unknown * value
        return PayoutOutcome(paid, owed, payout, unknown)

    def _payout_unknown(self, txn: str, payout: str, hopper: Hopper, amount: int) -> None:
        """A hopper could not say whether ``amount`` yen left it: neither paid nor owed, but counted by staff.
        The payout stays unresolved for that part (nothing pays it again; settlement flags it as unconfirmed), and
        the kiosk takes no money until the count."""
        log.error("%s could not say whether %d yen of payout %s left it; reconciliation needed",
                  hopper.name, amount, payout)
        # (amount 0: the yen are on the settlement's own line for this payout, so a total counts them once)
        self.journal.record_reconciliation("payout_outcome_unknown", txn=txn, amount=0, device=hopper.name,
                                           ref=f"{payout}.{hopper.name}")
        self.unknown_state = True

    def _share(self, value: int, count: int) -> list[tuple[Hopper, int]]:
        """Split ``count`` coins of ``value`` over the usable hoppers of that value, fullest first."""
        shares = []
        for hopper in sorted((h for h in self._usable_hoppers() if h.coin_value == value),
                             key=lambda h: -h.coins_estimate()):
            take = min(count, hopper.coins_estimate())
            if take:
                shares.append((hopper, take))
                count -= take
        return shares
