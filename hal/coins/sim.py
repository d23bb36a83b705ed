"""A simulated coin acceptor and change hoppers, failing the way ccTalk devices do.

The acceptor credits each coin through the awaited sink (:class:`CoinCredited`, a unique ``credit_id`` per coin).
Like a ccTalk acceptor's event buffer, a credit the sink did not take (it raised) stays in the buffer and is
reported again with the same ``credit_id``; the buffer holds five events, and a sixth unread one pushes the
oldest out: :class:`CoinEventsLost`, and the acceptor stops for a staff count::

    coins = SimCoinAcceptor(retry_interval=None)
    await coins.start(sink)
    await coins.enable(frozenset({100, 500}))
    await coins.insert_coin(100)        # CoinCredited(100, credit_id=...)
    await coins.insert_coin(10)         # CoinRejected("inhibited"): it drops into the return cup

A hopper holds coins of one value.  It pays what it can and says what it could not::

    hopper = SimHopper(coin_value=100, stock=3)
    await hopper.dispense(5)            # DispenseResult(requested=5, paid=3, unpaid=2); now EMPTY

Injection: acceptor :meth:`~SimCoinAcceptor.jam`, :meth:`~SimCoinAcceptor.fill_cashbox`,
:meth:`~SimCoinAcceptor.lose_events`, :meth:`~SimCoinAcceptor.disconnect`; hopper
:meth:`~SimHopper.short_of_coins` (fewer coins than the kiosk believes), :meth:`~SimHopper.jam_after`,
:meth:`~SimHopper.lose_contact_during_next_payout`, :meth:`~SimHopper.disconnect`; staff undo them with ``clear_*``, ``reset``, ``refill`` and ``reconnect``.
"""
from __future__ import annotations

import asyncio
import logging
import secrets

from hal.coins.contract import (
    YEN_COINS, CoinAcceptorState, CoinAcceptorStateChanged, CoinCredited, CoinEventsLost, CoinRejected,
    DispenseResult, HopperState,
)
from hal.events import DeviceError, DeviceEvent, EventSink, accepted_subset, discard

log = logging.getLogger(__name__)

EVENT_BUFFER = 5
"""A ccTalk acceptor buffers five events (header 229); more unread ones and the oldest are lost."""


class SimCoinAcceptor:
    """See the module docstring.  ``retry_interval``: seconds between automatic redeliveries of credits the
    sink refused (None: only :meth:`redeliver_unacknowledged` redelivers)."""

    def __init__(self, name: str = "coins", denominations: frozenset[int] = YEN_COINS,
                 retry_interval: float | None = 0.5):
        if not denominations or not set(denominations) <= YEN_COINS:
            raise ValueError(f"denominations must be yen coins out of {sorted(YEN_COINS)}")
        self.name = name
        self._denominations = frozenset(denominations)
        self.retry_interval = retry_interval
        self.accepted = 0  # coins in the cash box
        self._sink: EventSink = discard
        self._started = False
        self._enabled: frozenset[int] = frozenset()
        self._fault: CoinAcceptorState | None = None
        self._unacknowledged: list[CoinCredited] = []
        self._reported_state: CoinAcceptorState | None = None
        self._retry_task: asyncio.Task | None = None
        self._boot = secrets.token_hex(4)
        self._events = 0
        self._delivering = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SimCoinAcceptor({self.name!r}, state={self.state().value})"

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._started = True
        await self._report_state()

    def resume_from(self, counter: int | None) -> None:
        """A simulator starts afresh with its process (as an acceptor at power-up: counter 0, buffer empty), so
        there is nothing beyond the journal to report."""

    async def stop(self) -> None:
        self._started = False
        if self._retry_task is not None:
            self._retry_task.cancel()
            self._retry_task = None
        self._sink = discard

    def state(self) -> CoinAcceptorState:
        if self._fault is not None:
            return self._fault
        return CoinAcceptorState.ACCEPTING if self._enabled else CoinAcceptorState.DISABLED

    def denominations(self) -> frozenset[int]:
        return self._denominations

    async def enable(self, denominations: frozenset[int]) -> None:
        self._enabled = accepted_subset(self.name, denominations, self._denominations)
        await self._report_state()

    async def disable(self) -> None:
        self._enabled = frozenset()
        await self._report_state()

    # -- the world ---------------------------------------------------------------------------------------------

    async def insert_coin(self, value: int, genuine: bool = True) -> None:
        """A resident drops a coin of ``value`` yen (``genuine=False``: a slug or a foreign coin)."""
        if not self._started:
            raise DeviceError(self.name, "the acceptor is not started")
        state = self.state()
        if state.out_of_service:
            await self._emit(CoinRejected(self.name, f"out of service ({state.value})"))
        elif not genuine or value not in self._denominations:
            await self._emit(CoinRejected(self.name, "not recognised"))
        elif value not in self._enabled:
            await self._emit(CoinRejected(self.name, "inhibited"))
        else:
            self._events += 1
            self.accepted += 1
            self._unacknowledged.append(CoinCredited(self.name, value, f"{self.name}-{self._boot}-{self._events:06d}"))
            if len(self._unacknowledged) > EVENT_BUFFER:
                lost = len(self._unacknowledged) - EVENT_BUFFER
                del self._unacknowledged[:lost]
                await self.lose_events(lost)
            await self._deliver()

    async def redeliver_unacknowledged(self) -> bool:
        """Report the credits the sink has not taken yet (as the next poll would).  True if none are left."""
        await self._deliver()
        return not self._unacknowledged

    def unacknowledged_credits(self) -> list[CoinCredited]:
        return list(self._unacknowledged)

    async def lose_events(self, count: int) -> None:
        """The host read the buffer too late: ``count`` coin events were overwritten.  Out of service."""
        await self._emit(CoinEventsLost(self.name, count))
        self._fault = CoinAcceptorState.FAILURE
        await self._report_state()

    async def jam(self) -> None:
        await self._set_fault(CoinAcceptorState.JAMMED)

    async def clear_jam(self) -> None:
        await self._clear_fault(CoinAcceptorState.JAMMED)

    async def fill_cashbox(self) -> None:
        await self._set_fault(CoinAcceptorState.CASHBOX_FULL)

    async def empty_cashbox(self) -> None:
        self.accepted = 0
        await self._clear_fault(CoinAcceptorState.CASHBOX_FULL)

    async def disconnect(self) -> None:
        await self._set_fault(CoinAcceptorState.OFFLINE)

    async def reconnect(self) -> None:
        await self._clear_fault(CoinAcceptorState.OFFLINE)

    async def reset(self) -> None:
        """Staff reset after a count: any fault clears; the acceptor comes back inhibited."""
        self._fault = None
        self._enabled = frozenset()
        await self._report_state()

    # -- inside --------------------------------------------------------------------------------------------------

    async def _deliver(self) -> None:
        async with self._delivering:
            while self._unacknowledged:
                credit = self._unacknowledged[0]
                try:
                    await self._sink(credit)
                except Exception as e:  # not recorded: the event stays in the buffer
                    log.warning("%s: coin %s not acknowledged (%s); it will be reported again",
                                self.name, credit.credit_id, type(e).__name__)
                    self._schedule_retry()
                    return
                if self._unacknowledged and self._unacknowledged[0] is credit:
                    self._unacknowledged.pop(0)

    def _schedule_retry(self) -> None:
        if self.retry_interval is None or not self._started:
            return
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        while self._unacknowledged and self._started:
            await asyncio.sleep(self.retry_interval or 0)
            if self._started and not self._delivering.locked():
                await self._deliver()

    async def _set_fault(self, fault: CoinAcceptorState) -> None:
        self._fault = fault
        await self._report_state()

    async def _clear_fault(self, fault: CoinAcceptorState) -> None:
        if self._fault is fault:
            self._fault = None
        await self._report_state()

    async def _report_state(self) -> None:
        state = self.state()
        if state is not self._reported_state and self._started:
            self._reported_state = state
            await self._emit(CoinAcceptorStateChanged(self.name, state))

    async def _emit(self, event: DeviceEvent) -> None:
        await self._sink(event)


class SimHopper:
    """A change hopper for coins of ``coin_value`` yen holding ``stock`` coins.

    ``low_level``: below this many coins the low-level sensor is uncovered (LOW).  ``latency_per_coin``: seconds
    each coin takes to leave (0 for tests; a real hopper pays about 5 coins a second).
    """

    def __init__(self, coin_value: int, stock: int = 0, name: str | None = None, low_level: int = 10,
                 latency_per_coin: float = 0.0):
        if coin_value not in YEN_COINS:
            raise ValueError(f"a hopper pays yen coins out of {sorted(YEN_COINS)}, not {coin_value}")
        if stock < 0 or low_level < 0:
            raise ValueError("stock and low_level must be ≥ 0")
        self.name = name or f"hopper-{coin_value}"
        self.coin_value = coin_value
        self.low_level = low_level
        self.latency_per_coin = latency_per_coin
        self.stock = stock  # the coins really in the hopper
        self.paid_out = 0  # coins that reached the change tray, ever
        self._estimate = stock  # the coins the kiosk believes are in it
        self._fault: HopperState | None = None
        self._dispensing = False
        self._jam_after: int | None = None
        self._lose_contact = False
        self._sink: EventSink = discard

    def __repr__(self) -> str:
        return f"SimHopper({self.name!r}, state={self.state().value}, stock={self.stock})"

    async def start(self, sink: EventSink) -> None:
        self._sink = sink

    async def stop(self) -> None:
        self._sink = discard

    def state(self) -> HopperState:
        if self._fault is not None:
            return self._fault
        if self._dispensing:
            return HopperState.DISPENSING
        if self.stock == 0:
            return HopperState.EMPTY
        return HopperState.LOW if self.stock < self.low_level else HopperState.READY

    def coins_estimate(self) -> int | None:
        return self._estimate

    def restore_estimate(self, coins: int | None) -> None:
        if coins is not None and (isinstance(coins, bool) or not isinstance(coins, int) or coins < 0):
            raise ValueError(f"{self.name}: a coin count is a whole number ≥ 0, not {coins!r}")
        self._estimate = coins

    async def dispense(self, count: int) -> DispenseResult:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{self.name}: a dispense count is a whole number ≥ 0, not {count!r}")
        if self._dispensing:
            raise DeviceError(self.name, "already dispensing")
        if not self.state().can_pay:
            if self.state() is HopperState.EMPTY:
                self._estimate = 0
            return DispenseResult(count, 0, count)
        paid = 0
        self._dispensing = True
        try:
            while paid < count:
                if self._jam_after is not None and paid >= self._jam_after:
                    self._jam_after = None
                    self._fault = HopperState.JAMMED
                    break
                if self.stock == 0:
                    break
                if self.latency_per_coin:
                    await asyncio.sleep(self.latency_per_coin)
                self.stock -= 1
                self.paid_out += 1
                paid += 1
        finally:
            self._dispensing = False
        if self._lose_contact:  # the coins left, but the hopper went silent before it could say so
            self._lose_contact, self._fault, self._estimate = False, HopperState.OFFLINE, None
            return DispenseResult(count, 0, 0, unknown=count)
        self._estimate = 0 if self.stock == 0 else max((self._estimate or 0) - paid, 0)
        return DispenseResult(count, paid, count - paid)

    # -- the world ---------------------------------------------------------------------------------------------

    def short_of_coins(self, actual: int) -> None:
        """Only ``actual`` coins are really inside, whatever the kiosk believes (a miscount, a refill not made)."""
        if actual < 0:
            raise ValueError("actual must be ≥ 0")
        self.stock = actual

    def jam_after(self, coins: int) -> None:
        """The next dispense jams after paying ``coins`` coins: JAMMED, the rest unpaid."""
        if coins < 0:
            raise ValueError("coins must be ≥ 0")
        self._jam_after = coins

    def lose_contact_during_next_payout(self) -> None:
        """The next dispense pays (what it can), then the hopper never answers again: its result is unknown."""
        self._lose_contact = True

    def refill(self, coins: int) -> None:
        """Staff add ``coins`` coins (and the kiosk's belief goes up by the same)."""
        if coins < 0:
            raise ValueError("coins must be ≥ 0")
        self.stock += coins
        self._estimate = (self._estimate or 0) + coins

    def clear_jam(self) -> None:
        if self._fault is HopperState.JAMMED:
            self._fault = None

    def disconnect(self) -> None:
        self._fault = HopperState.OFFLINE

    def reconnect(self) -> None:
        if self._fault is HopperState.OFFLINE:
            self._fault = None
