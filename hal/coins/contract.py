"""The coin acceptor and change hopper contracts.

Coins are credited as the acceptor reports them (:class:`CoinCredited`, delivered through the awaited sink before
the event is taken as read).  Change is paid by hoppers, one coin value each.  A hopper reports what it really
paid: a :class:`DispenseResult` with ``unpaid > 0`` means the hopper ran short or jammed, and the kiosk turns the
unpaid part into a refund owed — it never asks the same hopper to pay the same coins twice.  ``unknown > 0`` means
the hopper could not say (it went silent mid-payout and never answered again): those coins may or may not have
left, so the kiosk books them neither as paid nor as unpaid but for a staff count (reconciliation), and stops
taking money until then.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hal.events import DeviceEvent, EventSink

YEN_COINS = frozenset({10, 50, 100, 500})


class CoinAcceptorState(enum.Enum):
    DISABLED = "disabled"
    ACCEPTING = "accepting"
    JAMMED = "jammed"
    CASHBOX_FULL = "cashbox_full"
    FAILURE = "failure"
    OFFLINE = "offline"

    @property
    def out_of_service(self) -> bool:
        return self in (CoinAcceptorState.JAMMED, CoinAcceptorState.CASHBOX_FULL, CoinAcceptorState.FAILURE,
                        CoinAcceptorState.OFFLINE)


@dataclass(frozen=True)
class CoinCredited(DeviceEvent):
    value: int
    credit_id: str  # unique per coin event, so a repeated report is counted once
    counter: int | None = None  # the acceptor's own event counter of this coin (journalled with the credit)


@dataclass(frozen=True)
class CoinRejected(DeviceEvent):
    reason: str


@dataclass(frozen=True)
class CoinEventsLost(DeviceEvent):
    """The acceptor reported more events than it could buffer: some coins may not have been credited.
    Recorded for reconciliation, and the acceptor is put out of service until staff count the box."""

    count: int
    unjournalled: bool = False  # found at start-up: counted by the acceptor beyond what the kiosk's journal holds
    amount: int = 0  # yen of the coins among them whose value is known (for the count; never a credit)


@dataclass(frozen=True)
class CoinCounterMoved(DeviceEvent):
    """The acceptor's event counter now stands at ``counter`` and every event up to it was delivered (events that
    carry no credit, or a fresh start).  Journalled, so that a restart can tell what the journal never saw."""

    counter: int


@dataclass(frozen=True)
class CoinAcceptorStateChanged(DeviceEvent):
    state: CoinAcceptorState


@runtime_checkable
class CoinAcceptor(Protocol):
    name: str

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    def resume_from(self, counter: int | None) -> None:
        """Before :meth:`start`: the kiosk's journal holds every event up to ``counter`` (None: it holds none, a
        first start).  At start the acceptor reports events it counted beyond that as :class:`CoinEventsLost`
        (``unjournalled``) and goes out of service: never as credits."""

    def state(self) -> CoinAcceptorState: ...

    def denominations(self) -> frozenset[int]: ...

    async def enable(self, denominations: frozenset[int]) -> None: ...

    async def disable(self) -> None: ...


class HopperState(enum.Enum):
    READY = "ready"
    LOW = "low"  # the low-level sensor is uncovered: still pays, but soon empty
    EMPTY = "empty"
    DISPENSING = "dispensing"
    JAMMED = "jammed"
    FAILURE = "failure"
    OFFLINE = "offline"

    @property
    def can_pay(self) -> bool:
        return self in (HopperState.READY, HopperState.LOW)


@dataclass(frozen=True)
class DispenseResult:
    """What a hopper really paid for one request: ``paid + unpaid + unknown == requested``.

    ``paid``: coins the hopper says left it; ``unpaid``: coins it says it did not pay; ``unknown``: coins whose fate
    it could not tell (a value in its own right: reconciled by a count, never guessed into paid or unpaid)."""

    requested: int
    paid: int
    unpaid: int
    unknown: int = 0

    def __post_init__(self):
        if min(self.paid, self.unpaid, self.unknown) < 0 or self.paid + self.unpaid + self.unknown != self.requested:
            raise ValueError(f"inconsistent dispense result {self.paid}+{self.unpaid}+{self.unknown} "
                             f"!= {self.requested}")


@runtime_checkable
class Hopper(Protocol):
    name: str
    coin_value: int

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    def state(self) -> HopperState: ...

    def coins_estimate(self) -> int | None:
        """How many coins the kiosk believes are in the hopper (None if it cannot tell)."""

    def restore_estimate(self, coins: int | None) -> None:
        """The kiosk's journal says the hopper holds ``coins`` (None: nobody knows until staff count it).
        Called at start-up, before the first dispense; the hopper does not count its coins itself."""

    async def dispense(self, count: int) -> DispenseResult:
        """Pay ``count`` coins.  Returns what was paid (and what is unknown); never raises after a coin may have
        left the hopper."""
