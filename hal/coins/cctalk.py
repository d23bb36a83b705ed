"""The ccTalk coin acceptor driver (and the factory entries for ccTalk coins and hoppers).

The acceptor is polled with header 229, *read buffered credit or error codes*: an event counter and the last five
events, newest first (device-protocols.md §3.2).  The rules:

- The counter runs 1..255 and wraps to 1; new events = counter − last seen (modulo the wrap).
- More than five new events: the oldest are gone.  The five still in the buffer are processed (a coin there is real
  money in the box), and the rest are reported as :class:`CoinEventsLost` — never guessed into credits.
- A counter back at 0 means the acceptor was reset or lost power: whatever happened since the last poll is unknown,
  so :class:`CoinEventsLost` with ``count=0`` ("an unknown number") is reported.
- Both put the acceptor out of service (FAILURE, inhibited) until staff count the box and call :meth:`reset`.
- The counter outlives the kiosk process, and the kiosk's journal keeps the last one it holds (each credit carries
  its ``counter``; other events and fresh starts are reported as :class:`CoinCounterMoved`).  At start, given that
  counter (:meth:`resume_from`), events counted beyond it — coins counted while the process was down or crashing —
  are reported as :class:`CoinEventsLost` with ``unjournalled=True`` (the number and value of the coins among them
  when the buffer still shows them all, else 0 = unknown) and the acceptor is out of service: never a credit.
  Events that are not coins (rejects) move no money and are not reported; a counter of 0 is a power-up, whose
  buffer is empty.
- A coin event (A = coin position 1..16) is credited at the value the acceptor's own coin-id table (header 184)
  gives that position; A = 0 carries an error code: rejects and inhibited coins become :class:`CoinRejected`,
  a blocked sensor makes the acceptor JAMMED, fraud codes are rejected and logged.

ccTalk has no acknowledgement, so "the sink returned" is kept on the host: the last counter the driver has taken
only moves past an event once the sink returned for it.  A sink that raises leaves the event in the acceptor's
buffer, and it is read again (same ``credit_id``) after ``retry_interval`` — as long as fewer than six coins come
in the meantime, which the rule above then reports.

Coins are enabled with the master inhibit (header 228) and the per-position inhibit mask (header 231).
"""
from __future__ import annotations

import logging
import secrets
import time
from typing import Mapping

from hal.coins import cctalk_frames as c
from hal.coins.cctalk_bus import CcTalkBus
from hal.coins.contract import (
    YEN_COINS, CoinAcceptorState, CoinAcceptorStateChanged, CoinCounterMoved, CoinCredited, CoinEventsLost,
    CoinRejected,
)
from hal.events import DeviceError, DeviceEvent, DeviceUnavailable, EventSink, accepted_subset, discard
from hal.factory import Options, register_driver, whole_number
from hal.polling import Poller

log = logging.getLogger(__name__)
A = CoinAcceptorState


class CcTalkCoinAcceptor:
    """A ccTalk coin acceptor at ``address`` on the bus at ``port``.  See the module docstring."""

    def __init__(self, port: str, address: int = 2, name: str = "coins", denominations: frozenset[int] = YEN_COINS,
                 country: str = "JP", poll_interval: float = 0.1, reply_timeout: float = 0.2,
                 retry_interval: float | None = 0.5, offline_after: int = 3):
        if not denominations or not set(denominations) <= YEN_COINS:
            raise ValueError(f"denominations must be yen coins out of {sorted(YEN_COINS)}")
        if not 2 <= address <= 255:
            raise ValueError(f"a ccTalk device address is 2..255 (0 is broadcast, 1 the host), not {address}")
        self.name, self.address, self.country = name, address, country
        self.bus = CcTalkBus.for_port(port, reply_timeout)
        self._denominations = frozenset(denominations)
        self.poll_interval, self.retry_interval, self.offline_after = poll_interval, retry_interval, offline_after
        self.positions: dict[int, int] = {}  # coin position → yen, from the acceptor's coin-id table
        self._sink: EventSink = discard
        self.poller = Poller(name, self._poll, poll_interval, offline_after, self._set_offline)
        self._enabled: frozenset[int] = frozenset()
        self._fault: CoinAcceptorState | None = None
        self._taken = 0
        self._last = 0  # the event counter up to which every event was taken by the sink
        self._journalled: int | None = None  # the last counter the journal holds (resume_from, then the sink's)
        self._lost_to_report: tuple[int, bool, int] | None = None
        self._refused_at: float | None = None
        self._retry_now = False
        self._reported: CoinAcceptorState | None = None
        self._boot = secrets.token_hex(4)

    def __repr__(self) -> str:
        return f"CcTalkCoinAcceptor({self.name!r}, {self.bus.port!r}@{self.address}, state={self.state().value})"

    # -- the contract ------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        await self.bus.acquire(self.name)
        try:
            await self._ask(c.SIMPLE_POLL)
            self.positions = await self._read_coin_table()
            await self._apply_inhibits()
            buffer = c.parse_buffered_credit(await self._ask(c.READ_BUFFERED_CREDIT))
            self._last = buffer.counter
            await self._report_state()
            await self._beyond_the_journal(buffer)
            await self._counter_moved()
        except BaseException:
            await self.bus.release()
            raise
        self.poller.start()

    def resume_from(self, counter: int | None) -> None:
        if counter is not None and not 0 <= counter <= 255:
            raise ValueError(f"an event counter is 0..255, not {counter}")
        self._journalled = counter

    async def stop(self) -> None:
        await self.poller.stop()
        if self.bus.link.is_open:
            try:
                await self.bus.request(self.name, self.address, c.MODIFY_MASTER_INHIBIT, b"\x00", attempts=1)
            except DeviceError:
                pass
            await self.bus.release()
        self._sink = discard

    def state(self) -> CoinAcceptorState:
        if self.poller.offline:
            return A.OFFLINE
        if self._fault is not None:
            return self._fault
        return A.ACCEPTING if self._enabled else A.DISABLED

    def denominations(self) -> frozenset[int]:
        return self._denominations

    async def enable(self, denominations: frozenset[int]) -> None:
        self._enabled = accepted_subset(self.name, denominations, self._denominations)
        await self._apply_inhibits()
        await self._report_state()

    async def disable(self) -> None:
        self._enabled = frozenset()
        await self._apply_inhibits()
        await self._report_state()

    async def reset(self) -> None:
        """Staff counted the box after lost events or cleared a jam: back in service, inhibited."""
        self._fault, self._enabled = None, frozenset()
        self._last = c.parse_buffered_credit(await self._ask(c.READ_BUFFERED_CREDIT)).counter
        await self._apply_inhibits()
        await self._report_state()
        await self._counter_moved()

    # -- for tests and self-tests ------------------------------------------------------------------------------

    async def sync(self, polls: int = 2) -> None:
        """Wait until the driver has polled the acceptor ``polls`` more times (a barrier for tests)."""
        await self.poller.sync(polls)

    async def redeliver_unacknowledged(self) -> None:
        """Offer events the sink refused again at the next poll, without waiting for ``retry_interval``."""
        self._retry_now = True
        await self.sync()

    # -- inside --------------------------------------------------------------------------------------------------

    async def _ask(self, header: int, data: bytes = b"") -> bytes:
        return await self.bus.request(self.name, self.address, header, data)

    async def _read_coin_table(self) -> dict[int, int]:
        positions: dict[int, int] = {}
        for position in range(1, 17):
            try:
                coin = c.parse_coin_id(await self._ask(c.REQUEST_COIN_ID, bytes([position])))
            except ValueError as e:
                raise DeviceError(self.name, f"coin position {position}: {e}") from None
            if coin is None:
                continue
            country, value = coin
            if country == self.country and value in self._denominations:
                positions[position] = int(value)
            else:
                log.info("%s: position %d holds %s %g, which the kiosk does not take; it stays inhibited",
                         self.name, position, country, value)
        missing = sorted(self._denominations - set(positions.values()))
        if missing:
            raise DeviceError(self.name, f"the acceptor at address {self.address} on {self.bus.port} is not "
                                         f"programmed for {self.country} coins {missing} (its table: "
                                         f"{dict(sorted(positions.items())) or 'none of ours'}); "
                                         "reprogram it or fix the configured denominations")
        return positions

    async def _apply_inhibits(self) -> None:
        wanted = self._enabled if self._fault is None else frozenset()
        mask = sum(1 << (p - 1) for p, value in self.positions.items() if value in wanted)
        await self._ask(c.MODIFY_INHIBIT_STATUS, mask.to_bytes(2, "little"))
        await self._ask(c.MODIFY_MASTER_INHIBIT, b"\x01" if mask else b"\x00")

    async def _beyond_the_journal(self, buffer: c.CreditBuffer) -> None:
        """At start: report events the acceptor counted beyond the journal's counter (see the module docstring)."""
        resume = self._journalled
        if resume is None or buffer.counter in (resume, 0):
            return
        new = c.new_events(resume, buffer.counter)
        visible = buffer.events[:min(new, c.EVENT_BUFFER)]
        # Every event since is in the buffer if there are at most five, or if the acceptor was powered up since:
        # its counter started again from 0, and the slots older than its first event are still empty.
        powered_up = buffer.counter < c.EVENT_BUFFER and all(e == (0, 0) for e in buffer.events[buffer.counter:])
        complete = new <= c.EVENT_BUFFER or powered_up
        coins = [a for a, _ in visible if a]
        if complete and not coins:
            log.info("%s: %d events beyond the journal, none a coin", self.name, new)
            return
        amount = sum(self.positions.get(a, 0) for a in coins)
        log.error("%s: the acceptor counted events the journal does not hold (journal %d, acceptor %d: %s); "
                  "out of service for a count", self.name, resume, buffer.counter,
                  f"{len(coins)} coins, {amount} yen" if complete else "how many coins is unknown")
        self._taken += new
        await self._events_lost(len(coins) if complete else 0, unjournalled=True, amount=amount)

    async def _counter_moved(self) -> None:
        """Tell the sink (the journal) where the counter stands, once every event up to it was delivered."""
        if self._last == self._journalled:
            return
        try:
            await self._sink(CoinCounterMoved(self.name, self._last))
        except Exception as e:
            log.warning("%s: event counter %d not recorded (%s)", self.name, self._last, type(e).__name__)
            return
        self._journalled = self._last

    async def _poll(self) -> None:
        try:
            buffer = c.parse_buffered_credit(await self._ask(c.READ_BUFFERED_CREDIT))
        except ValueError as e:
            raise DeviceUnavailable(self.name, f"unreadable credit buffer: {e}") from None
        await self.poller.answered()
        await self._on_buffer(buffer)

    async def _set_offline(self, offline: bool) -> None:
        await self._report_state()

    async def _on_buffer(self, buffer: c.CreditBuffer) -> None:
        if self._lost_to_report is not None and await self._emit(CoinEventsLost(self.name, *self._lost_to_report)):
            self._lost_to_report = None
        if buffer.counter == self._last:
            return
        if buffer.counter == 0:
            log.error("%s: the acceptor was reset (event counter 0): events since the last poll are unknown",
                      self.name)
            self._last = 0
            await self._events_lost(0)
            await self._counter_moved()
            return
        new = c.new_events(self._last, buffer.counter)
        if new > c.EVENT_BUFFER:
            lost = new - c.EVENT_BUFFER
            log.error("%s: %d coin events were lost before they could be read", self.name, lost)
            self._last = c.counter_before(buffer.counter, c.EVENT_BUFFER)
            self._taken += lost
            await self._events_lost(lost)
            new = c.EVENT_BUFFER
        if self._refused_at is not None and not self._retry_now and (
                self.retry_interval is None or time.monotonic() - self._refused_at < self.retry_interval):
            return  # the sink refused a moment ago: leave the events in the acceptor's buffer
        self._retry_now = False
        for age in range(new - 1, -1, -1):  # oldest first
            counter = c.counter_before(buffer.counter, age)
            if not await self._on_event(*buffer.events[age], counter):
                self._refused_at = time.monotonic()
                break
            self._refused_at = None
            self._taken += 1
            self._last = counter
        await self._counter_moved()

    async def _on_event(self, a: int, b: int, counter: int) -> bool:
        """One event, delivered to the sink.  False if the sink refused it (it is read again later)."""
        if a:
            value = self.positions.get(a)
            if value is None:  # money of a value we cannot name: for the staff count, never a guess
                log.error("%s: a coin at position %d, which is not in the coin table, went in", self.name, a)
                await self._events_lost(1)
                return True
            credit = CoinCredited(self.name, value, f"{self.name}-{self._boot}-{self._taken + 1:06d}", counter)
            try:
                await self._sink(credit)
            except Exception as e:
                log.warning("%s: coin %s not recorded (%s); it will be read again", self.name, credit.credit_id,
                            type(e).__name__)
                return False
            self._journalled = counter  # journalled with the credit
            return True
        if b in c.NOT_A_COIN:
            return True
        if b in c.JAM_CODES:
            log.error("%s: %s", self.name, c.error_name(b))
            self._fault = A.JAMMED
            await self._apply_inhibits()
            await self._report_state()
            return True
        if b in c.FRAUD_CODES:
            log.warning("%s: fraud attempt? %s", self.name, c.error_name(b))
        return await self._emit(CoinRejected(self.name, c.error_name(b)), refusable=True)

    async def _events_lost(self, count: int, unjournalled: bool = False, amount: int = 0) -> None:
        self._fault = A.FAILURE
        if not await self._emit(CoinEventsLost(self.name, count, unjournalled, amount)):
            self._lost_to_report = (count, unjournalled, amount)
        try:
            await self._apply_inhibits()
        finally:
            await self._report_state()

    async def _report_state(self) -> None:
        state = self.state()
        if state is not self._reported:
            self._reported = state
            await self._emit(CoinAcceptorStateChanged(self.name, state))

    async def _emit(self, event: DeviceEvent, refusable: bool = False) -> bool:
        try:
            await self._sink(event)
        except Exception as e:
            log.warning("%s: %s not recorded (%s)", self.name, type(event).__name__, type(e).__name__)
            return not refusable
        return True


def _port(o: Options) -> str:
    port = o.raw("port")
    if not isinstance(port, str) or not port:
        raise o.fail(f"port must be the ccTalk bus's serial port, e.g. \"/dev/ttyUSB1\", got {port!r}")
    return port


@register_driver("coins", "cctalk")
def _cctalk_coins(o: Options) -> CcTalkCoinAcceptor:
    return CcTalkCoinAcceptor(_port(o), address=o.whole("address", 2, minimum=2),
                              denominations=o.yen_set("denominations", YEN_COINS),
                              country=str(o.raw("country", "JP")),
                              poll_interval=o.number("poll_interval", 0.1, minimum=0.005),
                              reply_timeout=o.number("reply_timeout", 0.2, minimum=0.01),
                              retry_interval=o.optional_number("retry_interval", 0.5))


@register_driver("hoppers", "cctalk")
def _cctalk_hoppers(o: Options) -> list:
    from hal.coins.cctalk_hopper import SECURITY, CcTalkHopper
    port = _port(o)
    addresses, stock = o.raw("addresses"), o.raw("stock")
    if not isinstance(addresses, Mapping) or not addresses:
        raise o.fail(f"addresses must be a table of coin value → ccTalk address, e.g. {{ \"100\" = 4 }}, "
                     f"got {addresses!r}")
    if not isinstance(stock, Mapping):
        raise o.fail(f"stock must be a table of coin value → coins loaded, got {stock!r}")
    security = o.raw("dispense_security", "serial_number")
    if security not in SECURITY:
        raise o.fail(f"dispense_security must be one of {', '.join(SECURITY)}, got {security!r}")
    hoppers = []
    for key, address in addresses.items():
        value = int(key) if isinstance(key, str) and key.isdigit() else None
        if value not in YEN_COINS:
            raise o.fail(f"addresses has {key!r}, which is not a yen coin value")
        whole_number(address, 2, lambda got: o.fail(f"address for {value} yen must be 2..255, got {got!r}"))
        count = stock.get(key, 0)
        whole_number(count, 0, lambda got: o.fail(f"stock for {value} yen must be a whole number ≥ 0, got {got!r}"))
        hoppers.append(CcTalkHopper(port, address, value, stock=count, security=security,
                                    reply_timeout=o.number("reply_timeout", 0.2, minimum=0.01)))
    if len({h.address for h in hoppers}) != len(hoppers):
        raise o.fail("two hoppers share one address")
    return sorted(hoppers, key=lambda h: -h.coin_value)
