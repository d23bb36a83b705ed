"""The real card reader: pyscard over pcsc-lite (``pcscd``), any PC/SC reader with a My Number card or a citizen card.

Configuration (``kiosk.toml``)::

    [devices.card_reader]
    driver = "pcsc"
    reader = "SONY FeliCa Port/PaSoRi 4.0"   # a reader name, or part of it; or an index: reader = 0
    read_chunk = 256                        # READ BINARY chunk (1..256); lower it for a reader with small buffers

How it works:

- A supervisor task watches the reader with ``SCardGetStatusChange`` (in a worker thread, a short timeout per
  call, so the event loop never blocks).  A card that appears is connected **exclusively** (``SCARD_SHARE_EXCLUSIVE``:
  no other program can talk to it during a visit), identified by the applications it answers to (see
  :mod:`hal.card.jpki`) and reported as ``CardPlaced``; a card that leaves is reported as ``CardRemoved``.
- When pcscd stops or the reader is unplugged, the state becomes ``NO_READER``; the supervisor keeps trying to
  find the service and the reader again and reports the state as soon as they are back (a card still lying there
  is placed anew).  A card the reader cannot talk to (mute, held by another program) is ``FAULT``.
- Card commands run one at a time in a worker thread.  A command that comes back empty or fails at the transport
  is checked against the reader: if the card has left, :class:`CardRemovedError` (and one ``CardRemoved``).
- ``start`` fails with :class:`DeviceUnavailable` naming the device and the reader when pcscd is not running or
  the reader is missing, so a kiosk that cannot read cards does not open.

The PIN goes to the card only inside a ``bytearray`` that is wiped after the answer; the list handed to pyscard is
zeroed too (pyscard's own C copy is freed by pyscard and out of our reach).  Never run pcscd with ``--apdu`` on
a kiosk: it would log VERIFY data.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from smartcard import scard

from hal.card.apdu import MalformedResponse, Response, parse_response
from hal.card.contract import (
    CardError, CardKind, CardPlaced, CardRemoved, CardRemovedError, Pin, PinResult, ReaderState,
    ReaderStateChanged,
)
from hal.card.jpki import CardApplications
from hal.events import DeviceUnavailable, EventSink, discard
from hal.factory import Options, register_driver

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVICE_GONE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_F_COMM_ERROR,
                scard.SCARD_E_INVALID_HANDLE, scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE,
                scard.SCARD_E_NO_READERS_AVAILABLE}
CARD_GONE = {scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_RESET_CARD}
_PROTOCOLS = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
_CARD_IN_READER = 0x0004  # SCardStatus's SCARD_PRESENT (pcsclite.h), which pyscard does not export


class _CardGone(Exception):
    """The card left (or was reset) during a command."""


class _ReaderGone(Exception):
    """pcscd or the reader went away during a command."""


def _code(hr: int) -> str:
    return f"0x{hr & 0xFFFFFFFF:08X}"


@dataclass
class _Session:
    """One connected card: the exclusive handle, its protocol and the event count it was connected at."""

    handle: int
    protocol: int
    count: int
    apps: CardApplications | None = None


class PcscCardReader:
    """A PC/SC card reader (see the module docstring)."""

    def __init__(self, name: str = "card_reader", reader: str | int | None = None, *, poll_interval: float = 0.2,
                 retry_interval: float = 0.5, removal_grace: float = 1.5, read_chunk: int = 256):
        if isinstance(reader, bool) or not (reader is None or isinstance(reader, (str, int))):
            raise ValueError(f"reader must be a name or an index, got {reader!r}")
        if not 1 <= read_chunk <= 256:
            raise ValueError("read_chunk must be 1..256")
        self.name = name
        self.reader_spec = reader
        self.poll_interval, self.retry_interval, self.removal_grace = poll_interval, retry_interval, removal_grace
        self.read_chunk = read_chunk
        self._sink: EventSink = discard
        self._state = ReaderState.NO_READER
        self._kind: CardKind | None = None
        self._reader: str | None = None
        self._monitor: int | None = None  # context of the supervisor's status calls
        self._context: int | None = None  # context of the card connection and its commands
        self._session: _Session | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._running = False

    def __repr__(self) -> str:
        return f"PcscCardReader({self.name!r}, reader={self._reader or self.reader_spec!r}, state={self._state.value})"

    def _describe_reader(self) -> str:
        if self._reader:
            return f"reader {self._reader!r}"
        return "the first reader" if self.reader_spec is None else f"reader {self.reader_spec!r}"

    # -- the contract ------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        problem = await asyncio.to_thread(self._open)
        if problem:
            raise DeviceUnavailable(self.name, problem)
        self._running = True
        await self._set_state(ReaderState.EMPTY)
        self._task = asyncio.create_task(self._supervise(), name=f"{self.name}-supervisor")

    async def stop(self) -> None:
        self._running = False
        monitor = self._monitor
        if monitor is not None:
            await asyncio.to_thread(scard.SCardCancel, monitor)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        async with self._lock:
            await asyncio.to_thread(self._close, scard.SCARD_RESET_CARD)
        self._sink = discard

    def state(self) -> ReaderState:
        return self._state

    def card_kind(self) -> CardKind | None:
        return self._kind if self._state is ReaderState.CARD_PRESENT else None

    async def read_auth_certificate(self) -> bytes:
        return await self._command("reading the certificate", lambda apps: apps.read_auth_certificate())

    async def pin_tries_left(self) -> int:
        return await self._command("reading the PIN counter", lambda apps: apps.pin_tries_left())

    async def verify_pin(self, pin: Pin) -> PinResult:
        return await self._command("verifying the PIN", lambda apps: apps.verify_pin(pin))

    async def sign(self, digest_info: bytes) -> bytes:
        return await self._command("signing", lambda apps: apps.sign(digest_info))

    async def citizen_card_id(self) -> str:
        return await self._command("reading the citizen card number", lambda apps: apps.citizen_card_id())

    # -- card commands -------------------------------------------------------------------------------------------

    async def _command(self, doing: str, work: Callable[[CardApplications], T]) -> T:
        async with self._lock:
            if self._state is ReaderState.NO_READER:
                raise DeviceUnavailable(self.name, f"no card reader ({self._describe_reader()})")
            session = self._session
            if session is None or session.apps is None:
                if self._state is ReaderState.FAULT:
                    raise CardError(self.name, "the reader cannot talk to the card")
                raise CardRemovedError(self.name, "no card on the reader")
            try:
                return await asyncio.to_thread(work, session.apps)
            except _CardGone:
                await self._end_session()
                raise CardRemovedError(self.name, f"the card was lifted while {doing}") from None
            except _ReaderGone:
                await self._lose_reader()
                raise DeviceUnavailable(self.name, f"the {self._describe_reader()} went away while {doing}") from None

    def _transmit_for(self, session: _Session) -> Callable[[bytes | bytearray], Response]:
        def transmit(apdu: bytes | bytearray) -> Response:
            command = list(apdu)
            try:
                hr, raw = scard.SCardTransmit(session.handle, session.protocol, command)
            finally:
                for i in range(len(command)):
                    command[i] = 0
            if hr == scard.SCARD_S_SUCCESS:
                try:
                    return parse_response(raw)
                except MalformedResponse:
                    pass  # vpcd and some readers hand back nothing when the card left mid-command
            elif hr in SERVICE_GONE:
                raise _ReaderGone()
            elif hr in CARD_GONE:
                raise _CardGone()
            if self._card_left(session):
                raise _CardGone()
            raise CardError(self.name, f"the reader could not exchange a command with the card ({_code(hr)})")
        return transmit

    def _card_left(self, session: _Session) -> bool:
        """After a failed exchange: wait up to ``removal_grace`` for pcscd to tell whether the card is gone."""
        deadline = time.monotonic() + self.removal_grace
        while True:
            hr, _reader, state, _protocol, _atr = scard.SCardStatus(session.handle)
            if hr in CARD_GONE or (hr == scard.SCARD_S_SUCCESS and not state & _CARD_IN_READER):
                return True
            if hr in SERVICE_GONE:
                raise _ReaderGone()
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    # -- the supervisor ------------------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        known = scard.SCARD_STATE_UNAWARE
        while self._running:
            try:
                if self._monitor is None:
                    problem = await asyncio.to_thread(self._open)
                    if problem:
                        await self._lose_reader()
                        await asyncio.sleep(self.retry_interval)
                        continue
                    known = scard.SCARD_STATE_UNAWARE
                    if self._state is ReaderState.NO_READER:
                        await self._set_state(ReaderState.EMPTY)
                hr, states = await asyncio.to_thread(
                    scard.SCardGetStatusChange, self._monitor, int(self.poll_interval * 1000), [(self._reader, known)])
                if not self._running:
                    return
                if hr == scard.SCARD_E_TIMEOUT:
                    if self._state is ReaderState.FAULT and known & scard.SCARD_STATE_PRESENT:
                        await self._follow(known)  # try the card again: the other program may have let go
                    continue
                if hr in SERVICE_GONE:
                    await self._lose_reader()
                    continue
                if hr != scard.SCARD_S_SUCCESS:
                    log.warning("%s: watching the reader failed (%s)", self.name, _code(hr))
                    await asyncio.sleep(self.retry_interval)
                    continue
                event = states[0][1]
                known = event & ~scard.SCARD_STATE_CHANGED
                if event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                    await self._lose_reader()
                    continue
                await self._follow(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # the supervisor must outlive anything a reader or a sink can throw at it
                log.exception("%s: the reader supervisor stumbled; trying again", self.name)
                await asyncio.sleep(self.retry_interval)

    async def _follow(self, event: int) -> None:
        """Bring the session in line with what pcscd reports for the reader."""
        present = bool(event & scard.SCARD_STATE_PRESENT)
        count = (event >> 16) & 0xFFFF
        async with self._lock:
            session = self._session
            if session is not None and (not present or session.count != count):
                await self._end_session()
            if not present:
                if self._state in (ReaderState.CARD_PRESENT, ReaderState.FAULT):
                    self._kind = None
                    await self._set_state(ReaderState.EMPTY)
                return
            if self._session is None:
                await self._begin_session(count, mute=bool(event & scard.SCARD_STATE_MUTE))

    async def _begin_session(self, count: int, mute: bool) -> None:
        if mute:
            await self._set_state(ReaderState.FAULT)
            return
        try:
            session, kind = await asyncio.to_thread(self._connect, count)
        except _CardGone:
            return  # gone before we could talk to it: the next status says so
        except _ReaderGone:
            await self._lose_reader()
            return
        except CardError as e:
            if self._state is not ReaderState.FAULT:  # retried every poll: say it once
                log.warning("%s", e)
            await self._set_state(ReaderState.FAULT)
            return
        self._session, self._kind = session, kind
        await self._set_state(ReaderState.CARD_PRESENT)
        await self._emit(CardPlaced(self.name, kind))

    def _connect(self, count: int) -> tuple[_Session, CardKind]:
        hr, handle, protocol = scard.SCardConnect(self._context, self._reader, scard.SCARD_SHARE_EXCLUSIVE,
                                                  _PROTOCOLS)
        if hr in CARD_GONE or hr == scard.SCARD_E_NO_SMARTCARD:
            raise _CardGone()
        if hr in SERVICE_GONE:
            raise _ReaderGone()
        if hr == scard.SCARD_E_SHARING_VIOLATION:
            raise CardError(self.name, f"another program holds the card in {self._describe_reader()}")
        if hr != scard.SCARD_S_SUCCESS:
            raise CardError(self.name, f"cannot connect to the card in {self._describe_reader()} ({_code(hr)})")
        session = _Session(handle, protocol, count)
        session.apps = CardApplications(self.name, self._transmit_for(session), self.read_chunk)
        try:
            return session, session.apps.identify()
        except BaseException:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
            raise

    async def _end_session(self) -> None:
        """The card left (or was swapped): let go of its handle and report it gone once."""
        session, self._session = self._session, None
        if session is None:
            return
        await asyncio.to_thread(scard.SCardDisconnect, session.handle, scard.SCARD_LEAVE_CARD)
        if self._state is ReaderState.CARD_PRESENT:
            self._kind = None
            await self._set_state(ReaderState.EMPTY)
            await self._emit(CardRemoved(self.name))

    async def _lose_reader(self) -> None:
        self._session, self._kind = None, None  # its handle died with the service or the reader
        await asyncio.to_thread(self._close, None)
        if self._state is not ReaderState.NO_READER:
            log.warning("%s: %s is gone; waiting for it to come back", self.name, self._describe_reader())
            await self._set_state(ReaderState.NO_READER)

    # -- contexts ------------------------------------------------------------------------------------------------

    def _open(self) -> str | None:
        """Establish both contexts and find the reader.  Returns what is wrong, or None."""
        self._close(None)
        hr, monitor = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            return (f"the PC/SC service (pcscd) is not running, so {self._describe_reader()} cannot be reached "
                    f"({_code(hr)}: {scard.SCardGetErrorMessage(hr)})")
        hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            scard.SCardReleaseContext(monitor)
            return f"the PC/SC service (pcscd) refused a second context ({_code(hr)})"
        self._monitor, self._context = monitor, context
        hr, readers = scard.SCardListReaders(context, [])
        readers = list(readers) if hr == scard.SCARD_S_SUCCESS else []
        reader = self._pick(readers)
        if reader is None:
            self._close(None)
            seen = ", ".join(repr(r) for r in readers) or "none"
            return f"{self._describe_reader()} is not attached (pcscd sees: {seen})"
        self._reader = reader
        return None

    def _pick(self, readers: list[str]) -> str | None:
        spec = self.reader_spec
        if not readers:
            return None
        if spec is None:
            return readers[0]
        if isinstance(spec, int):
            return readers[spec] if 0 <= spec < len(readers) else None
        if spec in readers:
            return spec
        return next((r for r in readers if spec in r), None)

    def _close(self, disposition: int | None) -> None:
        session, self._session = self._session, None
        if session is not None and disposition is not None:
            scard.SCardDisconnect(session.handle, disposition)
        for attr in ("_monitor", "_context"):
            context = getattr(self, attr)
            setattr(self, attr, None)
            if context is not None:
                scard.SCardReleaseContext(context)

    # -- events --------------------------------------------------------------------------------------------------

    async def _set_state(self, state: ReaderState) -> None:
        if state is not self._state:
            self._state = state
            await self._emit(ReaderStateChanged(self.name, state))

    async def _emit(self, event) -> None:
        try:
            await self._sink(event)
        except Exception:
            log.exception("%s: the event sink refused %s", self.name, type(event).__name__)


@register_driver("card_reader", "pcsc")
def _pcsc_card_reader(o: Options) -> PcscCardReader:
    reader = o.raw("reader")
    if isinstance(reader, bool) or not (reader is None or isinstance(reader, (str, int))) or reader == "" \
            or (isinstance(reader, int) and reader < 0):
        raise o.fail(f"reader must be a reader name (or part of one) or an index ≥ 0, got {reader!r}")
    chunk = o.whole("read_chunk", 256, minimum=1)
    if chunk > 256:
        raise o.fail(f"read_chunk must be 1..256 (short APDUs), got {chunk}")
    return PcscCardReader(reader=reader, poll_interval=o.number("poll_interval", 0.2, minimum=0.01),
                          retry_interval=o.number("retry_interval", 0.5, minimum=0.05), read_chunk=chunk)
