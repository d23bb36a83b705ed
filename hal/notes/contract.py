"""The note validator contract.

A note goes: inserted → escrow (:class:`NoteEscrowed`, not yet money) → the kiosk says :meth:`stack` or
:meth:`return_note` → stacking → :class:`NoteCredited` (the validator's VEND VALID: the only credit point).
The credit event is delivered through the awaited sink, and the device acknowledges it to the hardware only after
the sink returned, so the kiosk journals every credit before the hardware counts it as taken.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hal.events import DeviceEvent, EventSink

YEN_NOTES = frozenset({1000, 2000, 5000, 10000})


class NoteValidatorState(enum.Enum):
    DISABLED = "disabled"  # inhibited: takes no note
    IDLE = "idle"  # enabled and waiting for a note
    ACCEPTING = "accepting"  # a note is being drawn in and checked
    ESCROW = "escrow"  # a note waits for stack or return
    STACKING = "stacking"
    RETURNING = "returning"
    ACCEPTOR_JAM = "acceptor_jam"
    STACKER_JAM = "stacker_jam"
    STACKER_FULL = "stacker_full"
    STACKER_OPEN = "stacker_open"  # the cash box is out
    FAILURE = "failure"
    OFFLINE = "offline"

    @property
    def out_of_service(self) -> bool:
        """States in which the kiosk must take no money and call staff."""
        return self in _OUT_OF_SERVICE


_OUT_OF_SERVICE = frozenset({
    NoteValidatorState.ACCEPTOR_JAM, NoteValidatorState.STACKER_JAM, NoteValidatorState.STACKER_FULL,
    NoteValidatorState.STACKER_OPEN, NoteValidatorState.FAILURE, NoteValidatorState.OFFLINE,
})


@dataclass(frozen=True)
class NoteEscrowed(DeviceEvent):
    """A note of ``value`` yen waits in escrow.  Not money yet: the kiosk must stack or return it."""

    value: int


@dataclass(frozen=True)
class NoteCredited(DeviceEvent):
    """VEND VALID: ``value`` yen are in the cash box.  ``credit_id`` is unique per note, so a repeated
    report of the same note (a lost ACK) is recognisable and counted once."""

    value: int
    credit_id: str


@dataclass(frozen=True)
class NoteReturned(DeviceEvent):
    value: int


@dataclass(frozen=True)
class NoteRejected(DeviceEvent):
    """The validator refused a note (counterfeit, inhibited, worn).  It went back to the resident."""

    reason: str


@dataclass(frozen=True)
class NoteValidatorStateChanged(DeviceEvent):
    state: NoteValidatorState


@dataclass(frozen=True)
class NoteNeedsReconciliation(DeviceEvent):
    """The validator powered up with a note in the stacker: it may have been stored without a credit.
    Recorded for the cash-box count; never credited by itself.  (At start-up the kiosk's recovery may attribute a
    note ``in_stacker`` to the one transaction whose journal holds that note in escrow: firmware.cashier.)"""

    detail: str
    in_stacker: bool = False  # the validator says the note is in (or past the point of no return into) the box


@runtime_checkable
class NoteValidator(Protocol):
    name: str

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    def state(self) -> NoteValidatorState: ...

    def denominations(self) -> frozenset[int]:
        """The yen notes this validator can recognise (read from the device where it can tell)."""

    async def enable(self, denominations: frozenset[int]) -> None:
        """Accept these notes (a subset of :meth:`denominations`); others are rejected."""

    async def disable(self) -> None:
        """Take no note.  A note already in escrow stays there until stacked or returned."""

    async def stack(self) -> None:
        """Store the escrowed note.  The credit arrives as :class:`NoteCredited`."""

    async def return_note(self) -> None:
        """Give the escrowed note back to the resident."""
