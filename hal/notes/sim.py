"""A simulated note validator that keeps the ID-003 escrow / VEND VALID / ACK handshake.

A note goes in with :meth:`SimNoteValidator.insert_note` and waits in escrow (:class:`NoteEscrowed`).  The kiosk
stacks it or returns it.  Stacking produces the credit, :class:`NoteCredited`, awaited through the sink; the
validator counts the note as taken (ACK) only when the sink returned.  If the sink raises, the credit stays
unacknowledged and is reported again, with the same ``credit_id``, until a sink takes it — just as a validator
keeps showing VEND VALID on every poll until the host ACKs it::

    notes = SimNoteValidator(retry_interval=None)   # None: redelivery only when asked
    await notes.start(sink)
    await notes.enable(frozenset({1000, 5000}))
    await notes.insert_note(1000)                   # NoteEscrowed(1000)
    await notes.stack()                             # NoteCredited(1000, credit_id=...), if the sink raised:
    await notes.redeliver_unacknowledged()          # the same NoteCredited again

Failure injection, named after what happens at the machine: :meth:`~SimNoteValidator.jam_stacker_on_next_stack`
(the note sticks in the stacker; no credit), :meth:`~SimNoteValidator.jam_stacker` and
:meth:`~SimNoteValidator.jam_acceptor` (at once), :meth:`~SimNoteValidator.jam_acceptor_on_next_note`,
:meth:`~SimNoteValidator.fill_stacker_after` (stacker full after N more notes), :meth:`~SimNoteValidator.remove_cashbox`,
:meth:`~SimNoteValidator.disconnect`, and :meth:`~SimNoteValidator.power_cycle` (a note caught between VEND VALID
and its ACK is reported as :class:`NoteNeedsReconciliation`, never as a credit).  Staff put things right with
:meth:`~SimNoteValidator.clear_jam`, :meth:`~SimNoteValidator.replace_cashbox` and :meth:`~SimNoteValidator.reconnect`.
"""
from __future__ import annotations

import asyncio
import logging
import secrets

from hal.events import DeviceError, DeviceEvent, EventSink, accepted_subset, discard
from hal.notes.contract import (
    YEN_NOTES, NoteCredited, NoteEscrowed, NoteNeedsReconciliation, NoteRejected, NoteReturned,
    NoteValidatorState, NoteValidatorStateChanged,
)

log = logging.getLogger(__name__)

S = NoteValidatorState


class SimNoteValidator:
    """See the module docstring.

    ``capacity``: notes the cash box holds before STACKER FULL (None: never full).
    ``retry_interval``: seconds between automatic redeliveries of an unacknowledged credit (None: only
    :meth:`redeliver_unacknowledged` redelivers).  ``latency``: seconds each transport step takes.
    ``note_in_stacker_at_power_up``: :meth:`start` reports :class:`NoteNeedsReconciliation` like a validator that
    lost power with a note half stored.
    """

    def __init__(self, name: str = "notes", denominations: frozenset[int] = YEN_NOTES, capacity: int | None = None,
                 retry_interval: float | None = 0.5, latency: float = 0.0, note_in_stacker_at_power_up: bool = False):
        if not denominations or not set(denominations) <= YEN_NOTES:
            raise ValueError(f"denominations must be yen notes out of {sorted(YEN_NOTES)}")
        if capacity is not None and capacity < 1:
            raise ValueError("capacity must be at least 1 note")
        self.name = name
        self._denominations = frozenset(denominations)
        self.capacity = capacity
        self.retry_interval = retry_interval
        self.latency = latency
        self.stacked = 0  # notes in the cash box since it was last emptied
        self._note_in_stacker_at_power_up = note_in_stacker_at_power_up
        self._sink: EventSink = discard
        self._started = False
        self._enabled: frozenset[int] = frozenset()
        self._motion: NoteValidatorState | None = None  # ACCEPTING, STACKING or RETURNING while it moves
        self._fault: NoteValidatorState | None = None
        self._escrow: int | None = None
        self._unacknowledged: NoteCredited | None = None
        self._jam_on_next_stack = False
        self._jam_on_next_note = False
        self._reported_state: NoteValidatorState | None = None
        self._retry_task: asyncio.Task | None = None
        self._boot = secrets.token_hex(4)
        self._credits = 0

    def __repr__(self) -> str:
        return f"SimNoteValidator({self.name!r}, state={self.state().value}, stacked={self.stacked})"

    # -- the contract ------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._started = True
        await self._report_state()
        if self._note_in_stacker_at_power_up:
            self._note_in_stacker_at_power_up = False
            await self._emit(NoteNeedsReconciliation(self.name, "powered up with a note in the stacker",
                                                     in_stacker=True))

    async def stop(self) -> None:
        self._started = False
        if self._retry_task is not None:
            self._retry_task.cancel()
            self._retry_task = None
        self._sink = discard

    def state(self) -> NoteValidatorState:
        if self._fault is not None:
            return self._fault
        if self._motion is not None:
            return self._motion
        if self._unacknowledged is not None:
            return S.STACKING  # VEND VALID shown until ACKed
        if self._escrow is not None:
            return S.ESCROW
        if self.capacity is not None and self.stacked >= self.capacity:
            return S.STACKER_FULL
        return S.IDLE if self._enabled else S.DISABLED

    def denominations(self) -> frozenset[int]:
        return self._denominations

    async def enable(self, denominations: frozenset[int]) -> None:
        self._enabled = accepted_subset(self.name, denominations, self._denominations)
        await self._report_state()

    async def disable(self) -> None:
        self._enabled = frozenset()
        await self._report_state()

    async def stack(self) -> None:
        if self._escrow is None or self.state() is not S.ESCROW:
            raise DeviceError(self.name, f"no note in escrow to stack (state {self.state().value})")
        value, self._escrow = self._escrow, None
        await self._move(S.STACKING)
        if self._jam_on_next_stack:
            self._jam_on_next_stack = False
            self._motion = None
            await self._set_fault(S.STACKER_JAM)
            return
        self._credits += 1
        self._unacknowledged = NoteCredited(self.name, value, f"{self.name}-{self._boot}-{self._credits:06d}")
        self._motion = None
        await self._deliver_credit()

    async def return_note(self) -> None:
        if self._escrow is None or self.state() is not S.ESCROW:
            raise DeviceError(self.name, f"no note in escrow to return (state {self.state().value})")
        value, self._escrow = self._escrow, None
        await self._move(S.RETURNING)
        self._motion = None
        await self._emit(NoteReturned(self.name, value))
        await self._report_state()

    # -- the world ---------------------------------------------------------------------------------------------

    async def insert_note(self, value: int, genuine: bool = True) -> None:
        """A resident feeds a note of ``value`` yen (``genuine=False``: one the validator will not recognise)."""
        self._require_started()
        state = self.state()
        if state.out_of_service:
            await self._emit(NoteRejected(self.name, f"out of service ({state.value})"))
            return
        if state is not S.IDLE and state is not S.DISABLED:
            await self._emit(NoteRejected(self.name, "busy with another note"))
            return
        if not self._enabled:
            await self._emit(NoteRejected(self.name, "inhibited"))
            return
        await self._move(S.ACCEPTING)
        if self._jam_on_next_note:
            self._jam_on_next_note = False
            self._motion = None
            await self._set_fault(S.ACCEPTOR_JAM)
            return
        reason = None
        if not genuine or value not in self._denominations:
            reason = "not recognised"
        elif value not in self._enabled:
            reason = "inhibited"
        if reason is not None:
            await self._move(S.RETURNING)
            self._motion = None
            await self._emit(NoteRejected(self.name, reason))
            await self._report_state()
            return
        self._motion = None
        self._escrow = value
        await self._report_state()
        await self._emit(NoteEscrowed(self.name, value))

    async def redeliver_unacknowledged(self) -> bool:
        """Report the unacknowledged credit again (as the next poll would).  True if a sink took it now."""
        if self._unacknowledged is None:
            return False
        return await self._deliver_credit()

    def unacknowledged_credit(self) -> NoteCredited | None:
        return self._unacknowledged

    def jam_stacker_on_next_stack(self) -> None:
        """The next note to be stacked jams in the stacker: STACKER JAM, and no credit for it."""
        self._jam_on_next_stack = True

    def jam_acceptor_on_next_note(self) -> None:
        """The next note inserted jams in the transport: ACCEPTOR JAM, no escrow."""
        self._jam_on_next_note = True

    async def jam_stacker(self) -> None:
        """A note jams in the stacker now; a note waiting in escrow is caught in it (no credit)."""
        self._escrow = None
        await self._set_fault(S.STACKER_JAM)

    async def jam_acceptor(self) -> None:
        self._escrow = None
        await self._set_fault(S.ACCEPTOR_JAM)

    async def fill_stacker_after(self, notes: int) -> None:
        """The cash box is full after ``notes`` more notes (0: full now)."""
        self.capacity = self.stacked + notes if notes > 0 else max(self.stacked, 1)
        if notes <= 0:
            self.stacked = self.capacity
        await self._report_state()

    async def remove_cashbox(self) -> None:
        await self._set_fault(S.STACKER_OPEN)

    async def replace_cashbox(self) -> None:
        """Staff put an empty cash box in."""
        self.stacked = 0
        await self._clear_fault(S.STACKER_OPEN, S.STACKER_FULL)

    async def clear_jam(self) -> None:
        """Staff cleared the jam (and took the jammed note out)."""
        await self._clear_fault(S.STACKER_JAM, S.ACCEPTOR_JAM)

    async def disconnect(self) -> None:
        await self._set_fault(S.OFFLINE)

    async def reconnect(self) -> None:
        await self._clear_fault(S.OFFLINE)

    async def power_cycle(self, note_in_stacker: bool = False) -> None:
        """Power fails and returns.  A note in escrow comes back out; a credit still waiting for its ACK, or a
        note said to be in the stacker, becomes :class:`NoteNeedsReconciliation`.  The validator comes back
        inhibited, as after a RESET."""
        caught = self._unacknowledged
        self._unacknowledged = None
        if self._retry_task is not None:
            self._retry_task.cancel()
            self._retry_task = None
        self._enabled = frozenset()
        self._motion = None
        if self._fault is not S.STACKER_OPEN:
            self._fault = None
        escrow, self._escrow = self._escrow, None
        await self._report_state()
        if escrow is not None:
            await self._emit(NoteReturned(self.name, escrow))
        if caught is not None or note_in_stacker:
            detail = "powered up with a note in the stacker"
            if caught is not None:
                detail += f" (a {caught.value} yen note was not acknowledged)"
            await self._emit(NoteNeedsReconciliation(self.name, detail, in_stacker=True))

    # -- inside --------------------------------------------------------------------------------------------------

    async def _deliver_credit(self) -> bool:
        credit = self._unacknowledged
        assert credit is not None
        try:
            await self._sink(credit)
        except Exception as e:  # the host did not record it: no ACK, the credit will be shown again
            log.warning("%s: credit %s not acknowledged (%s); it will be reported again",
                        self.name, credit.credit_id, type(e).__name__)
            self._schedule_retry()
            return False
        if self._unacknowledged is credit:
            self._unacknowledged = None
            self.stacked += 1
        await self._report_state()
        return True

    def _schedule_retry(self) -> None:
        if self.retry_interval is None or not self._started:
            return
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.get_running_loop().create_task(self._retry_until_acknowledged())

    async def _retry_until_acknowledged(self) -> None:
        while self._unacknowledged is not None and self._started:
            await asyncio.sleep(self.retry_interval or 0)
            if self._unacknowledged is not None and self._started:
                await self._deliver_credit()

    async def _move(self, motion: NoteValidatorState) -> None:
        self._motion = motion
        await self._report_state()
        if self.latency:
            await asyncio.sleep(self.latency)

    async def _set_fault(self, fault: NoteValidatorState) -> None:
        self._fault = fault
        await self._report_state()

    async def _clear_fault(self, *faults: NoteValidatorState) -> None:
        if self._fault in faults:
            self._fault = None
        await self._report_state()

    async def _report_state(self) -> None:
        state = self.state()
        if state is not self._reported_state and self._started:
            self._reported_state = state
            await self._emit(NoteValidatorStateChanged(self.name, state))

    async def _emit(self, event: DeviceEvent) -> None:
        await self._sink(event)

    def _require_started(self) -> None:
        if not self._started:
            raise DeviceError(self.name, "the validator is not started")
