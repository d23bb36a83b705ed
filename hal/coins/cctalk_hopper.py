"""The ccTalk change hopper driver: pays coins and says truthfully what left.

A payout (device-protocols.md §3.3; cc-talk-rs ``payout.rs``):

1. Enable the hopper (header 164, data 0xA5) and read its status (header 166: ``[event counter][coins remaining]
   [last payout: paid][last payout: unpaid]``).
2. Dispense (header 167).  The public spec leaves the security codes of 167 to the maker; two variants are
   supported, chosen by configuration (``dispense_security``): ``"serial_number"`` — the hopper's 3-byte serial
   number (header 242) followed by the coin count — and ``"no_encryption"`` — pump RNG (161) with eight zero bytes,
   request cipher key (160), then eight zero bytes followed by the count.  Encrypted hoppers need the maker's NDA
   algorithm and are not supported.
3. The dispense is sent **once**.  If its reply is lost, the hopper's status decides before anything is sent
   again: an event counter that moved means the hopper took the command (it is paying: never send it again); a
   counter that did not move means it did not, and only then is 167 repeated.
4. Poll 166 until ``remaining`` is 0; the hopper's own paid and unpaid counts are the result.  Unpaid coins are
   returned as ``unpaid`` in the :class:`DispenseResult` — the kiosk owes them as a refund — and the same coins are
   never asked for twice.  After a short payout, the test-hopper flags (163) say whether it jammed (JAMMED) or ran
   out (EMPTY).
5. A hopper that stops answering after the dispense was sent is asked again (166) until it answers — a hopper busy
   with its motor or browned out for a few seconds still reports its paid and unpaid counts — for up to
   ``answer_within`` seconds beyond the payout's own time.  Silent beyond that, or back with a counter that is not
   this dispense's (it was reset), the coins not seen paid are ``unknown``: never booked as unpaid, never sent
   again; the hopper is OFFLINE and its coin count unknown (None) until staff count it.

A ccTalk hopper does not count the coins inside it: :meth:`coins_estimate` is the configured ``stock`` (or what the
kiosk's journal says, through :meth:`restore_estimate`) less what was paid (0 once it ran dry, None once a payout's
outcome is unknown), and the low-level sensor (header 217) gives LOW.
"""
from __future__ import annotations

import asyncio
import logging
import time

from hal.coins import cctalk_frames as c
from hal.coins.cctalk_bus import CcTalkBus, CcTalkRefused
from hal.coins.contract import YEN_COINS, DispenseResult, HopperState
from hal.events import DeviceError, DeviceUnavailable, EventSink, discard

log = logging.getLogger(__name__)
H = HopperState
SECURITY = ("serial_number", "no_encryption")


class CcTalkHopper:
    """A hopper of ``coin_value`` yen coins at ccTalk ``address`` on the bus at ``port``, loaded with ``stock``."""

    def __init__(self, port: str, address: int, coin_value: int, stock: int = 0, name: str | None = None,
                 security: str = "serial_number", poll_interval: float = 0.02, reply_timeout: float = 0.2,
                 seconds_per_coin: float = 1.0, attempts: int = 3, answer_within: float = 10.0,
                 payout_grace: float = 2.0):
        if coin_value not in YEN_COINS:
            raise ValueError(f"a hopper pays yen coins out of {sorted(YEN_COINS)}, not {coin_value}")
        if security not in SECURITY:
            raise ValueError(f"dispense security must be one of {SECURITY}, not {security!r}")
        if not 2 <= address <= 255 or stock < 0:
            raise ValueError(f"a hopper needs an address 2..255 and a stock ≥ 0 (got {address}, {stock})")
        self.name = name or f"hopper-{coin_value}"
        self.address, self.coin_value, self.security = address, coin_value, security
        self.bus = CcTalkBus.for_port(port, reply_timeout)
        self.poll_interval, self.seconds_per_coin, self.attempts = poll_interval, seconds_per_coin, attempts
        self.answer_within = answer_within  # how long past a payout's own time a silent hopper is asked again
        self.payout_grace = payout_grace  # a payout's own time: this, plus seconds_per_coin for each coin
        self._estimate: int | None = stock
        self._serial = b""
        self._low = False
        self._fault: HopperState | None = None
        self._dispensing = False
        self._sink: EventSink = discard
        self._started = False

    def __repr__(self) -> str:
        return f"CcTalkHopper({self.name!r}, {self.bus.port!r}@{self.address}, state={self.state().value})"

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        await self.bus.acquire(self.name)
        try:
            await self._ask(c.SIMPLE_POLL)
            if self.security == "serial_number":
                self._serial = await self._ask(c.REQUEST_SERIAL_NUMBER)
                if len(self._serial) != 3:
                    raise DeviceError(self.name, f"serial number of {len(self._serial)} bytes, expected 3")
            await self._read_level()
        except BaseException:
            await self.bus.release()
            raise
        self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self.bus.release()
        self._sink = discard

    def state(self) -> HopperState:
        if self._fault is not None:
            return self._fault
        if self._dispensing:
            return H.DISPENSING
        if self._estimate == 0:
            return H.EMPTY
        return H.LOW if self._low else H.READY

    def coins_estimate(self) -> int | None:
        return self._estimate

    def restore_estimate(self, coins: int | None) -> None:
        if coins is not None and (isinstance(coins, bool) or not isinstance(coins, int) or coins < 0):
            raise ValueError(f"{self.name}: a coin count is a whole number ≥ 0, not {coins!r}")
        self._estimate = coins

    async def reset(self, stock: int | None = None) -> None:
        """Staff cleared a jam, reconnected or refilled the hopper (``stock``: the coins now inside)."""
        await self._ask(c.SIMPLE_POLL)
        self._fault = None
        if stock is not None:
            self._estimate = stock
        await self._read_level()

    async def dispense(self, count: int) -> DispenseResult:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{self.name}: a dispense count is a whole number ≥ 0, not {count!r}")
        if self._dispensing:
            raise DeviceError(self.name, "already dispensing")
        if count == 0 or not self.state().can_pay:
            return DispenseResult(count, 0, count)
        paid = unknown = 0
        self._dispensing = True
        try:
            while paid < count:
                batch = min(255, count - paid)
                got, lost = await self._pay(batch)
                paid, unknown = paid + got, unknown + lost
                if got < batch:
                    break
        finally:
            self._dispensing = False
            if self._fault is H.EMPTY:  # it ran dry: whatever the kiosk believed, nothing is left
                self._fault, self._estimate = None, 0
            elif unknown or self._estimate is None:  # nobody knows what is left until staff count it
                self._estimate = None
            else:
                self._estimate = max(self._estimate - paid, 0)
            try:
                await self._read_level()
            except DeviceError as e:
                log.error("%s", e)
        return DispenseResult(count, paid, count - paid - unknown, unknown)

    # -- inside --------------------------------------------------------------------------------------------------

    async def _ask(self, header: int, data: bytes = b"") -> bytes:
        return await self.bus.request(self.name, self.address, header, data)

    async def _status(self) -> c.HopperStatus:
        try:
            return c.parse_hopper_status(await self._ask(c.REQUEST_HOPPER_STATUS))
        except ValueError as e:
            raise DeviceError(self.name, f"unreadable hopper status: {e}") from None

    async def _read_level(self) -> None:
        level = await self._ask(c.REQUEST_PAYOUT_LEVEL)
        self._low = bool(level and level[0] & c.LOW_SENSOR_FITTED and level[0] & c.LOW_LEVEL)

    async def _security_data(self) -> bytes:
        if self.security == "serial_number":
            return self._serial
        await self._ask(c.PUMP_RNG, bytes(8))
        await self._ask(c.REQUEST_CIPHER_KEY)
        return bytes(8)

    async def _pay(self, batch: int) -> tuple[int, int]:
        """Pay one batch (≤ 255 coins): (coins the hopper says it paid, coins whose fate is unknown).  Never raises
        once the dispense may have been taken: a hopper that goes silent is asked again until it answers or
        :attr:`answer_within` has passed beyond the payout's own time, and only then is the rest unknown."""
        try:
            await self._ask(c.ENABLE_HOPPER, bytes([c.ENABLE_HOPPER_MAGIC]))
            before = await self._status()
        except DeviceError as e:
            log.error("%s: cannot start a payout: %s", self.name, e)
            self._fault = H.OFFLINE if isinstance(e, DeviceUnavailable) else H.FAILURE
            return 0, 0  # nothing was sent: every coin is unpaid
        ours = before.counter % 255 + 1  # the counter once the hopper took this dispense (1..255, wrapping to 1)
        budget = self.payout_grace + batch * self.seconds_per_coin
        deadline = time.monotonic() + budget + self.answer_within
        for attempt in range(self.attempts):
            try:
                reply = await self.bus.request_once(self.name, self.address, c.DISPENSE_HOPPER_COINS,
                                                    await self._security_data() + bytes([batch]))
            except CcTalkRefused as e:
                log.error("%s: the hopper refused the dispense: %s", self.name, e)
                self._fault = H.FAILURE
                return 0, 0
            except DeviceError as e:  # the frame may have left: only the hopper's status can tell
                log.error("%s: the link failed while a dispense was sent: %s", self.name, e)
                reply = None
            if reply is not None:
                break
            # The reply was lost: the hopper's status says whether it took the command, before any resend.
            now = await self._status_once_it_answers(deadline)
            if now is None:
                return self._unknown(batch, 0, "never answered after the dispense was sent")
            if now.counter == before.counter:
                log.warning("%s: dispense %d not taken (try %d); sending it again", self.name, batch, attempt + 1)
                continue
            if now.counter != ours:
                return self._unknown(batch, 0, f"event counter {now.counter}, expected {ours} (reset?)")
            break
        else:
            self._fault = H.OFFLINE
            return 0, 0  # it never took the command: every coin is unpaid
        return await self._wait_for_payout(batch, ours, time.monotonic() + budget, deadline)

    async def _status_once_it_answers(self, deadline: float) -> c.HopperStatus | None:
        """The hopper's status as soon as it answers again, or None if it is still silent at ``deadline``."""
        while True:
            try:
                return await self._status()
            except DeviceError as e:
                if time.monotonic() >= deadline:
                    log.error("%s: still silent (%s)", self.name, e)
                    return None
            await asyncio.sleep(self.poll_interval)

    def _unknown(self, batch: int, paid: int, why: str) -> tuple[int, int]:
        log.error("%s: payout of %d: %s; %d paid for sure, %d unknown; none will be sent again",
                  self.name, batch, why, paid, batch - paid)
        self._fault = H.OFFLINE
        return paid, batch - paid

    async def _wait_for_payout(self, batch: int, ours: int, stop_at: float, deadline: float) -> tuple[int, int]:
        """Poll until the hopper has paid dispense ``ours``; an emergency stop once ``stop_at`` passed with coins
        still to pay; unknown (beyond the coins seen paid) if it is silent at ``deadline``."""
        seen_paid = 0
        while True:
            await asyncio.sleep(self.poll_interval)
            status = await self._status_once_it_answers(deadline)
            if status is None:
                return self._unknown(batch, seen_paid, "lost during the payout")
            if status.counter != ours:
                return self._unknown(batch, seen_paid, f"event counter {status.counter}, expected {ours} (reset?)")
            seen_paid = max(seen_paid, min(status.paid, batch))
            if status.remaining == 0:
                break
            if time.monotonic() > stop_at:
                log.error("%s: payout of %d still running; emergency stop", self.name, batch)
                try:
                    await self._ask(c.EMERGENCY_STOP)
                    status = await self._status()
                except DeviceError:
                    pass
                self._fault = H.JAMMED
                break
        paid = max(min(status.paid, batch), seen_paid)
        if status.paid + status.unpaid != batch:
            log.error("%s: asked %d, the hopper says paid %d unpaid %d; taking paid as the truth",
                      self.name, batch, status.paid, status.unpaid)
        if paid < batch and self._fault is None:
            try:
                flags = await self._ask(c.TEST_HOPPER)
            except DeviceError as e:  # coins have left: report them whatever the flags say
                log.error("%s: cannot read the test-hopper flags: %s", self.name, e)
                flags = b""
            jammed = bool(flags and flags[0] & c.JAM_FLAGS)
            self._fault = H.JAMMED if jammed else H.EMPTY
            log.warning("%s: paid %d of %d (%s)", self.name, paid, batch, "jammed" if jammed else "ran out")
        return paid, 0
