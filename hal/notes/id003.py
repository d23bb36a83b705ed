"""The JCM ID-003 note validator driver (9600 8E1 over pyserial).

It polls the validator's status (~every 100 ms, like lamassu's ``POLLING_INTERVAL``) and turns what it sees into the
note contract's events.  The money rules (device-protocols.md §2.4):

- ESCROW is not money: :class:`NoteEscrowed` goes to the sink, and the kiosk answers with :meth:`stack` (STACK-1)
  or :meth:`return_note` (RETURN).  An escrow code that is not in the validator's currency table is returned here.
- The only credit point is VEND VALID of a note this driver stacked.  The credit is awaited through the sink (which
  journals it) and only then is ACK sent.  A sink that raises means "not recorded": no ACK, so the validator keeps
  showing VEND VALID and the same credit (same ``credit_id``) is offered again after ``retry_interval``.
- VEND VALID shown again after the ACK (the ACK was lost on the wire) is the same note: it is ACKed again and never
  credited twice.  The episode ends with the first other status.
- VEND VALID with no note stacked by this driver (a restart mid-note) and POWER UP with a bill in the acceptor or
  the stacker are reported as :class:`NoteNeedsReconciliation`, never as a credit.  So is a note that reached VEND
  VALID but whose credit no sink took before the power went.
- Stacker full/open, acceptor or stacker jam, failure and cheated are out-of-service states; no answer for
  ``offline_after`` polls is OFFLINE.

At start the validator is reset, its currency-assign table (0x8A) is read and must hold every note the kiosk is
configured to take, all of them yen notes — otherwise :meth:`start` refuses with a :class:`DeviceError` saying what
the validator holds.  Replies with a bad CRC are dropped and the request is sent again; noise before a frame is
skipped by hunting for SYNC (:mod:`hal.notes.id003_frames`).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from functools import partial

from hal.events import DeviceError, DeviceEvent, DeviceUnavailable, EventSink, accepted_subset, discard
from hal.factory import Options, register_driver
from hal.notes import id003_frames as f
from hal.polling import Poller
from hal.notes.contract import (
    YEN_NOTES, NoteCredited, NoteEscrowed, NoteNeedsReconciliation, NoteRejected, NoteReturned, NoteValidatorState,
    NoteValidatorStateChanged,
)
from hal.serial_link import SerialLink

log = logging.getLogger(__name__)
S = NoteValidatorState

_STATES = {
    f.ENABLE_IDLING: S.IDLE, f.ACCEPTING: S.ACCEPTING, f.PAUSE: S.ACCEPTING, f.ESCROW: S.ESCROW,
    f.HOLDING: S.ESCROW, f.STACKING: S.STACKING, f.VEND_VALID: S.STACKING, f.STACKED: S.STACKING,
    f.REJECTING: S.RETURNING, f.RETURNING: S.RETURNING, f.DISABLE_INHIBIT: S.DISABLED, f.INITIALIZE: S.DISABLED,
    f.POWER_UP: S.DISABLED, f.POWER_UP_BILL_IN_ACCEPTOR: S.DISABLED, f.POWER_UP_BILL_IN_STACKER: S.DISABLED,
    f.STACKER_FULL: S.STACKER_FULL, f.STACKER_OPEN: S.STACKER_OPEN, f.ACCEPTOR_JAM: S.ACCEPTOR_JAM,
    f.STACKER_JAM: S.STACKER_JAM, f.CHEATED: S.FAILURE, f.FAILURE: S.FAILURE,
}
_POWER_UPS = {f.POWER_UP, f.POWER_UP_BILL_IN_ACCEPTOR, f.POWER_UP_BILL_IN_STACKER}
_ANSWERS = {f.COMMUNICATION_ERROR, f.INVALID_COMMAND}  # replies about our request, not the validator's state


class Id003NoteValidator:
    """An ID-003 validator on serial ``port``.  See the module docstring."""

    def __init__(self, port: str, name: str = "notes", denominations: frozenset[int] = YEN_NOTES,
                 poll_interval: float = 0.1, reply_timeout: float = 0.3, attempts: int = 3,
                 retry_interval: float | None = 0.5, init_timeout: float = 20.0, offline_after: int = 3):
        if not denominations or not set(denominations) <= YEN_NOTES:
            raise ValueError(f"denominations must be yen notes out of {sorted(YEN_NOTES)}")
        self.name = name
        self.link = SerialLink(name, port, 9600, "E")
        self._denominations = frozenset(denominations)
        self.poll_interval, self.reply_timeout, self.attempts = poll_interval, reply_timeout, attempts
        self.retry_interval, self.init_timeout, self.offline_after = retry_interval, init_timeout, offline_after
        self.table: dict[int, int] = {}  # escrow code → yen, read from the validator
        self._sink: EventSink = discard
        self.poller = Poller(name, self._poll, poll_interval, offline_after, self._set_offline)
        self._status: int | None = None
        self._wanted: frozenset[int] = frozenset()  # the notes the kiosk asked to accept
        self._escrow_value: int | None = None
        self._escrow_reported = False
        self._pending_stack: int | None = None
        self._pending_return: int | None = None
        self._rejection_reported = False
        self._vend: NoteCredited | str | None = None  # this VEND VALID episode: its credit, or "unexplained"
        self._vend_delivered = False
        self._refused_at: float | None = None
        self._retry_now = False
        self._reported_state: NoteValidatorState | None = None
        self._boot = secrets.token_hex(4)
        self._credits = 0

    def __repr__(self) -> str:
        return f"Id003NoteValidator({self.name!r}, {self.link.port!r}, state={self.state().value})"

    # -- the contract ------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        await self.link.open()
        try:
            first = await self._request(f.STATUS_REQUEST)
            if first.code == f.VEND_VALID or first.code in _POWER_UPS:
                await self._on_status(first)  # reconciliation for a note caught by the last power cut / restart
            elif first.code == f.STACKING:  # a note on its way into the box when the kiosk stopped: the reset
                await self._emit(NoteNeedsReconciliation(  # does not bring it back out
                    self.name, "a note was stacking when the kiosk restarted", in_stacker=True))
            await self._reset()
            reply = await self._request(f.GET_CURRENCY_ASSIGN)
            self.table = self._check_table(reply)
            await self._apply_acceptance()
            await self._on_status(await self._request(f.STATUS_REQUEST))
        except BaseException:
            await self.link.close()
            raise
        self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()
        if self.link.is_open:
            try:
                async with self.link.lock:
                    await self.link.send(f.build_frame(f.SET_INHIBIT, b"\x01"))
            except DeviceError:
                pass
            await self.link.close()
        self._sink = discard

    def state(self) -> NoteValidatorState:
        if self.poller.offline:
            return S.OFFLINE
        state = _STATES.get(self._status, S.DISABLED)
        if state is S.ESCROW and self._pending_stack is not None:
            return S.STACKING
        if state is S.ESCROW and self._pending_return is not None:
            return S.RETURNING
        return state

    def denominations(self) -> frozenset[int]:
        return self._denominations

    async def enable(self, denominations: frozenset[int]) -> None:
        self._wanted = accepted_subset(self.name, denominations, self._denominations)
        await self._apply_acceptance()

    async def disable(self) -> None:
        self._wanted = frozenset()
        await self._apply_acceptance()

    async def stack(self) -> None:
        value = self._escrowed("stack")
        await self._operate(f.STACK_1, done_if=frozenset({f.STACKING, f.VEND_VALID, f.STACKED}))
        self._pending_stack = value

    async def return_note(self) -> None:
        value = self._escrowed("return")
        await self._operate(f.RETURN, done_if=frozenset({f.RETURNING, f.ENABLE_IDLING, f.DISABLE_INHIBIT}))
        self._pending_return = value

    # -- for tests and self-tests ------------------------------------------------------------------------------

    async def sync(self, polls: int = 2) -> None:
        """Wait until the driver has polled the validator ``polls`` more times (a barrier for tests)."""
        await self.poller.sync(polls)

    async def redeliver_unacknowledged(self) -> bool:
        """Offer a credit the sink refused again at the next poll, without waiting for ``retry_interval``.
        True if no credit is left unacknowledged afterwards."""
        self._retry_now = True
        await self.sync()
        return not (isinstance(self._vend, NoteCredited) and not self._vend_delivered)

    # -- the wire ----------------------------------------------------------------------------------------------

    async def _request(self, command: int, data: bytes = b"") -> f.Frame:
        """Send a command and return the validator's reply; bad CRCs, noise and silence are retried."""
        frame = f.build_frame(command, data)
        for _ in range(self.attempts):
            async with self.link.lock:
                reply = await self.link.exchange(frame, partial(f.find_reply, command=command), self.reply_timeout)
            if isinstance(reply, f.Frame) and reply.code != f.COMMUNICATION_ERROR:
                return reply
            log.debug("%s: no good reply to 0x%02X (%r); asking again", self.name, command, reply)
        raise DeviceUnavailable(self.name, f"no answer from the ID-003 validator on {self.link.port} "
                                           f"(command 0x{command:02X}, {self.attempts} tries)")

    async def _operate(self, command: int, done_if: frozenset[int] = frozenset()) -> None:
        """Send an operation command until it is ACKed.  If an ACK was lost and the repeat is refused as invalid,
        a status in ``done_if`` shows the first one was carried out."""
        frame = f.build_frame(command)
        for attempt in range(self.attempts):
            async with self.link.lock:
                reply = await self.link.exchange(frame, partial(f.find_reply, command=command), self.reply_timeout)
            if isinstance(reply, f.Frame) and reply.code == f.ACK:
                return
            if isinstance(reply, f.Frame) and reply.code == f.INVALID_COMMAND:
                if attempt and (await self._request(f.STATUS_REQUEST)).code in done_if:
                    return
                raise DeviceError(self.name, f"the validator refused command 0x{command:02X} ({reply.name})")
        raise DeviceUnavailable(self.name, f"no answer from the ID-003 validator on {self.link.port} "
                                           f"(command 0x{command:02X}, {self.attempts} tries)")

    async def _send_ack(self) -> None:
        async with self.link.lock:
            await self.link.send(f.build_frame(f.ACK))

    async def _apply_acceptance(self) -> None:
        codes = {code for code, value in self.table.items() if value in self._wanted}
        await self._setting(f.SET_ENABLE, f.enable_mask(codes))
        await self._setting(f.SET_INHIBIT, b"\x00" if codes else b"\x01")

    async def _setting(self, command: int, data: bytes) -> None:
        reply = await self._request(command, data)
        if reply.code not in (command, f.ACK):  # a setting is echoed back
            raise DeviceError(self.name, f"the validator refused setting 0x{command:02X} ({reply.name})")

    async def _reset(self) -> None:
        await self._operate(f.RESET)
        deadline = time.monotonic() + self.init_timeout
        while True:
            status = await self._request(f.STATUS_REQUEST)
            if status.code not in _POWER_UPS and status.code != f.INITIALIZE:
                self._status = status.code
                return
            if time.monotonic() > deadline:
                raise DeviceUnavailable(self.name, f"the validator on {self.link.port} did not finish initialising "
                                                   f"in {self.init_timeout:g} s (still {status.name})")
            await asyncio.sleep(self.poll_interval)

    def _check_table(self, reply: f.Frame) -> dict[int, int]:
        if reply.code != f.GET_CURRENCY_ASSIGN:
            raise DeviceError(self.name, f"the validator did not give its currency table ({reply.name})")
        try:
            table = f.parse_currency_assign(reply.data)
        except ValueError as e:
            raise DeviceError(self.name, f"unreadable currency table: {e}") from None
        held = sorted(set(table.values()))
        foreign = [v for v in held if v not in YEN_NOTES]
        missing = sorted(self._denominations - set(held))
        if foreign or missing:
            raise DeviceError(self.name, f"the validator's currency table holds {held} but the kiosk is configured "
                                         f"for yen notes {sorted(self._denominations)}"
                                         + (f"; not yen notes: {foreign}" if foreign else "")
                                         + (f"; missing: {missing}" if missing else "")
                                         + " — fit the validator with the Japanese yen firmware or fix the config")
        return {code: value for code, value in table.items() if value in self._denominations}

    def _escrowed(self, what: str) -> int:
        if self.state() is not S.ESCROW or self._escrow_value is None:
            raise DeviceError(self.name, f"no note in escrow to {what} (state {self.state().value})")
        return self._escrow_value

    # -- polling -----------------------------------------------------------------------------------------------

    async def _poll(self) -> None:
        status = await self._request(f.STATUS_REQUEST)
        await self.poller.answered()
        await self._on_status(status)

    async def _set_offline(self, offline: bool) -> None:
        await self._report_state()

    async def _on_status(self, status: f.Frame) -> None:
        code = status.code
        if code in _ANSWERS:
            return
        self._status = code
        if code != f.VEND_VALID:
            await self._end_vend_episode(code)
        if code not in (f.ESCROW, f.HOLDING):
            self._escrow_value, self._escrow_reported = None, False
            self._pending_stack = self._pending_stack if code in (f.STACKING, f.VEND_VALID) else None
        if code != f.REJECTING:
            self._rejection_reported = False
        await self._report_state()
        if code == f.ESCROW:
            await self._on_escrow(status.data)
        elif code == f.VEND_VALID:
            await self._on_vend_valid()
        elif code == f.REJECTING and not self._rejection_reported:
            reason = f.REJECT_REASONS.get(status.data[0], "unknown reason") if status.data else "unknown reason"
            self._rejection_reported = await self._emit(NoteRejected(self.name, reason))
        elif code in _POWER_UPS:
            await self._on_power_up(code)
        elif code in (f.FAILURE, f.CHEATED):
            detail = f.FAILURE_CODES.get(status.data[0], "") if status.data else ""
            log.error("%s: %s %s", self.name, status.name, detail)
        if self._pending_return is not None and code not in (f.ESCROW, f.HOLDING, f.RETURNING):
            value, self._pending_return = self._pending_return, None
            await self._emit(NoteReturned(self.name, value))

    async def _on_escrow(self, data: bytes) -> None:
        if self._pending_stack is not None or self._pending_return is not None:
            return  # the validator has not moved yet
        value = self.table.get(data[0]) if data else None
        if value is None:
            log.warning("%s: escrow code %s is not a configured note; returning it", self.name, data.hex() or "-")
            await self._operate(f.RETURN)
            await self._emit(NoteRejected(self.name, "not a configured note"))
            return
        self._escrow_value = value
        if not self._escrow_reported:
            self._escrow_reported = await self._emit(NoteEscrowed(self.name, value))

    async def _on_vend_valid(self) -> None:
        if self._vend is None and self._pending_stack is None:
            self._vend = "unexplained"
        if self._vend == "unexplained" and not self._vend_delivered:
            self._vend_delivered = await self._emit(NoteNeedsReconciliation(
                self.name, "VEND VALID for a note this kiosk did not stack (restarted mid-note?)", in_stacker=True))
        if self._vend is None:
            self._credits += 1
            self._vend = NoteCredited(self.name, self._pending_stack, f"{self.name}-{self._boot}-{self._credits:06d}")
            self._pending_stack, self._vend_delivered, self._refused_at = None, False, None
        if not self._vend_delivered and isinstance(self._vend, NoteCredited):
            if self._refused_at is not None and not self._retry_now and (
                    self.retry_interval is None or time.monotonic() - self._refused_at < self.retry_interval):
                return  # the journal refused it a moment ago: keep VEND VALID waiting, no ACK
            self._retry_now = False
            try:
                await self._sink(self._vend)
            except Exception as e:  # not recorded: no ACK, it is offered again later
                self._refused_at = time.monotonic()
                log.warning("%s: credit %s not recorded (%s); no ACK, it will be offered again",
                            self.name, self._vend.credit_id, type(e).__name__)
                return
            self._vend_delivered = True
        if self._vend_delivered:
            await self._send_ack()  # again on every repeated VEND VALID: a lost ACK, never a second credit

    async def _end_vend_episode(self, code: int) -> None:
        vend, self._vend = self._vend, None
        if isinstance(vend, NoteCredited) and not self._vend_delivered and code not in _POWER_UPS:
            await self._emit(NoteNeedsReconciliation(
                self.name, f"a {vend.value} yen note left VEND VALID ({f.STATUS_NAMES.get(code, hex(code))}) "
                           "before its credit was recorded", in_stacker=True))
        self._vend_delivered = False

    async def _on_power_up(self, code: int) -> None:
        caught = self._vend if isinstance(self._vend, NoteCredited) and not self._vend_delivered else None
        self._vend, self._pending_stack, self._pending_return = None, None, None
        details = {f.POWER_UP_BILL_IN_ACCEPTOR: "powered up with a note in the acceptor (returned at reset)",
                   f.POWER_UP_BILL_IN_STACKER: "powered up with a note in the stacker"}
        detail = details.get(code, "powered up")
        if caught is not None:
            detail += f" (a {caught.value} yen note was not acknowledged)"
        in_stacker = code == f.POWER_UP_BILL_IN_STACKER or caught is not None  # (past VEND VALID: it is stacked)
        if (code in details or caught is not None) and not await self._emit(
                NoteNeedsReconciliation(self.name, detail, in_stacker=in_stacker)):
            return  # not recorded: the validator keeps saying POWER UP, the next poll tries again
        if self.poller.running:  # at start, start() resets and configures
            await self._reset()
            await self._apply_acceptance()

    async def _report_state(self) -> None:
        state = self.state()
        if state is not self._reported_state:
            self._reported_state = state
            await self._emit(NoteValidatorStateChanged(self.name, state))

    async def _emit(self, event: DeviceEvent) -> bool:
        """Deliver an event that is not a credit.  True if the sink took it."""
        try:
            await self._sink(event)
        except Exception as e:
            log.warning("%s: %s not recorded (%s)", self.name, type(event).__name__, type(e).__name__)
            return False
        return True


@register_driver("notes", "id003")
def _id003_notes(o: Options) -> Id003NoteValidator:
    port = o.raw("port")
    if not isinstance(port, str) or not port:
        raise o.fail(f"port must be the validator's serial port, e.g. \"/dev/ttyUSB0\", got {port!r}")
    return Id003NoteValidator(port, denominations=o.yen_set("denominations", YEN_NOTES),
                              poll_interval=o.number("poll_interval", 0.1, minimum=0.005),
                              reply_timeout=o.number("reply_timeout", 0.3, minimum=0.01),
                              retry_interval=o.optional_number("retry_interval", 0.5),
                              init_timeout=o.number("init_timeout", 20.0))
