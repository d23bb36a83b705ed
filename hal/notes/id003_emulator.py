"""An ID-003 note validator emulator on a pty pair: the wire-level peer the driver is tested against.

It is written from the published facts (device-protocols.md §2), not from the driver: its own CRC and frame parser,
its own state machine.  The driver opens :attr:`Id003Emulator.port` (the pty's slave end) like a real port.  Parity
cannot be checked over a pty (the Linux pty driver forces 8N and ignores 8E1), so 8E1 is exercised only on hardware.

What it does, per the facts: replies to STATUS REQUEST with its status (ESCROW + escrow code, REJECTING + reason,
FAILURE + code), ACKs RESET / STACK-1 / STACK-2 / RETURN / HOLD, echoes settings (SET ENABLE, SET INHIBIT), answers
CURRENCY ASSIGN (0x8A) with ``[code][country][mantissa][exponent]`` entries, replies COMMUNICATION ERROR to a frame
with a bad CRC, and keeps showing VEND VALID until the host's ACK arrives.  Transient states (accepting, stacking,
stacked, rejecting, returning, initialize) each last :attr:`~Id003Emulator.transient_polls` status answers.

The world and the wire are scripted from tests (or the CLI, ``python -m hal.notes.id003_emulator``): notes
inserted, jams, the cash box removed or full, power cuts with a bill inside; noise before a reply, replies with a
bad CRC, replies lost, and host ACKs lost (VEND VALID shown again).
"""
from __future__ import annotations

import threading

from hal.pty_peer import PtyPeer

SYNC = 0xFC
JPY_COUNTRY = 0x08  # an arbitrary country byte: the facts give no JCM country code for Japan [unverified]
JPY_TABLE = {0x61: 1000, 0x62: 2000, 0x63: 5000, 0x64: 10000}

IDLING, ACCEPTING, ESCROW, STACKING, VEND_VALID, STACKED = 0x11, 0x12, 0x13, 0x14, 0x15, 0x16
REJECTING, RETURNING, DISABLE, INITIALIZE = 0x17, 0x18, 0x1A, 0x1B
POWER_UP, POWER_UP_ACCEPTOR, POWER_UP_STACKER = 0x40, 0x41, 0x42
STACKER_FULL, STACKER_OPEN, ACCEPTOR_JAM, STACKER_JAM, CHEATED, FAILURE = 0x43, 0x44, 0x45, 0x46, 0x48, 0x49
COMMUNICATION_ERROR, INVALID_COMMAND, ACK = 0x4A, 0x4B, 0x50
_RESTING = "resting"  # stand-in for "idling, disabled or stacker full", decided when reached


def kermit(data: bytes) -> int:
    """CRC-16/KERMIT, bit by bit: reflected 0x1021, init 0, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def frame(code: int, data: bytes = b"") -> bytes:
    body = bytes([SYNC, len(data) + 5, code]) + data
    crc = kermit(body)
    return body + bytes([crc & 0xFF, crc >> 8])


class Id003Emulator(PtyPeer):
    """See the module docstring.  ``table``: escrow code → yen (or any value, to emulate foreign firmware)."""

    def __init__(self, table: dict[int, int] | None = None, capacity: int | None = None,
                 power_up: int = POWER_UP, transient_polls: int = 2):
        self.table = dict(JPY_TABLE if table is None else table)
        self.capacity = capacity
        self.transient_polls = transient_polls
        self.stacked = 0  # notes in the cash box
        self.stacked_yen = 0  # their value
        self._in_stacker: int | None = None  # the value of the note on its way from escrow into the box
        self.host_acks = 0  # VEND VALID ACKs that arrived (and were not lost)
        self.received: list[int] = []  # every command code that arrived with a good CRC
        self.bad_frames = 0
        self._lock = threading.RLock()
        self._status, self._data = power_up, b""
        self._queue: list[tuple[int | str, bytes]] = []
        self._shown = 0
        self._inhibited = True
        self._mask = 0xFFFF
        self._fault: tuple[int, bytes] | None = None
        self._escrow_code: int | None = None
        self._jam_on_next_stack = self._jam_on_next_note = False
        self._noise = b""
        self._corrupt = self._drop = self._lose_acks = 0
        self._late_to: int | None = None  # the command whose next reply comes late (answer_late_to)
        self._late = b""  # a reply held back, sent in front of the next one
        self._buffer = bytearray()
        super().__init__("id003-emulator")

    def status(self) -> int:
        with self._lock:
            return self._status

    def steady(self) -> bool:
        """No transition is pending: the status stays as it is until the host or the world acts."""
        with self._lock:
            return not self._queue

    # -- the world ---------------------------------------------------------------------------------------------

    def insert_note(self, value: int, genuine: bool = True) -> None:
        with self._lock:
            if self._status in (DISABLE, INITIALIZE):
                self._go([(REJECTING, b"\x79"), (_RESTING, b"")])  # inhibited: refused at the slot
            elif self._status != IDLING or self._queue:
                return  # out of service or busy: the note is not drawn in
            elif self._jam_on_next_note:
                self._jam_on_next_note = False
                self._fault = (ACCEPTOR_JAM, b"")
                self._go([(ACCEPTING, b""), (ACCEPTOR_JAM, b"")])
            else:
                code = next((c for c, v in self.table.items() if v == value), None)
                if not genuine or code is None:
                    self._go([(ACCEPTING, b""), (REJECTING, b"\x76"), (_RESTING, b"")])
                elif self._mask >> (code - 0x61) & 1:
                    self._go([(ACCEPTING, b""), (REJECTING, b"\x79"), (_RESTING, b"")])
                else:
                    self._escrow_code = code
                    self._go([(ACCEPTING, b""), (ESCROW, bytes([code]))])

    def jam_stacker_on_next_stack(self) -> None:
        with self._lock:
            self._jam_on_next_stack = True

    def jam_acceptor_on_next_note(self) -> None:
        with self._lock:
            self._jam_on_next_note = True

    def jam_acceptor(self) -> None:
        self._set_fault(ACCEPTOR_JAM)

    def remove_cashbox(self) -> None:
        self._set_fault(STACKER_OPEN)

    def fail(self, code: int = 0xA2) -> None:
        self._set_fault(FAILURE, bytes([code]))

    def cheat(self) -> None:
        self._set_fault(CHEATED)

    def fill_stacker_after(self, notes: int) -> None:
        with self._lock:
            self.capacity = self.stacked + max(notes, 0)
            if notes <= 0 and self._status in (IDLING, DISABLE):
                self._go([(STACKER_FULL, b"")])

    def clear_faults(self) -> None:
        """Staff cleared the jam, put the cash box back (emptied) and so on."""
        with self._lock:
            self._fault, self.stacked, self.stacked_yen = None, 0, 0
            self._go([(_RESTING, b"")])

    def power_cycle(self, bill_in_stacker: bool | None = None) -> None:
        """Power fails and returns.  A note between stacking and its ACK is in the stacker (POWER UP WITH BILL IN
        STACKER, and counted in the box); a note in escrow is in the acceptor."""
        with self._lock:
            in_stacker = self._status in (STACKING, VEND_VALID, STACKED) if bill_in_stacker is None else bill_in_stacker
            in_acceptor = self._status in (ACCEPTING, ESCROW, RETURNING, REJECTING)
            if in_stacker and self._in_stacker is None and bill_in_stacker:
                self.stacked += 1  # a scripted note of no known value
            elif in_stacker:
                self._into_box()
            self._queue, self._inhibited, self._escrow_code = [], True, None
            if self._fault and self._fault[0] in (ACCEPTOR_JAM, CHEATED, FAILURE):
                self._fault = None
            self._status = POWER_UP_STACKER if in_stacker else POWER_UP_ACCEPTOR if in_acceptor else POWER_UP
            self._data = b""

    # -- the wire ----------------------------------------------------------------------------------------------

    def noise_before_next_reply(self, noise: bytes) -> None:
        with self._lock:
            self._noise += noise

    def corrupt_next_replies(self, count: int = 1) -> None:
        with self._lock:
            self._corrupt += count

    def drop_next_replies(self, count: int = 1) -> None:
        with self._lock:
            self._drop += count

    def answer_late_to(self, command: int) -> None:
        """The reply to the next ``command`` comes late: after the host's reply timeout, in front of the reply to
        the host's following request (a validator busy for a moment; the command itself is carried out at once)."""
        with self._lock:
            self._late_to = command

    def lose_next_acks(self, count: int = 1) -> None:
        """The host's next ACKs are lost: VEND VALID is shown again."""
        with self._lock:
            self._lose_acks += count

    # -- inside --------------------------------------------------------------------------------------------------

    def _set_fault(self, code: int, data: bytes = b"") -> None:
        with self._lock:
            self._fault = (code, data)
            self._escrow_code = None
            self._go([(code, data)])

    def _into_box(self) -> None:
        """The note on its way into the box arrived there (once: ACK, reset and power cut all end here)."""
        if self._in_stacker is not None:
            self.stacked += 1
            self.stacked_yen += self._in_stacker
            self._in_stacker = None

    def _resting(self) -> tuple[int, bytes]:
        if self._fault is not None:
            return self._fault
        if self.capacity is not None and self.stacked >= self.capacity:
            return STACKER_FULL, b""
        return (DISABLE if self._inhibited else IDLING), b""

    def _go(self, steps: list[tuple[int | str, bytes]]) -> None:
        """Show the first step now and the others after :attr:`transient_polls` status answers each."""
        (code, data), self._queue = steps[0], list(steps[1:])
        self._status, self._data = self._resting() if code == _RESTING else (code, data)
        self._shown = 0

    def _advance(self) -> None:
        self._shown += 1
        if self._queue and self._shown >= self.transient_polls:
            self._go(self._queue)

    def on_bytes(self, data: bytes | None) -> None:
        buffer = self._buffer
        buffer += data or b""
        while True:
            start = buffer.find(SYNC)
            if start < 0:
                buffer.clear()
                return
            del buffer[:start]
            if len(buffer) < 2 or len(buffer) < buffer[1]:
                return
            length = buffer[1]
            if length < 5:
                del buffer[:1]
                continue
            raw = bytes(buffer[:length])
            del buffer[:length]
            if kermit(raw[:-2]) != raw[-2] | raw[-1] << 8:
                self.bad_frames += 1
                self._reply(frame(COMMUNICATION_ERROR))
                continue
            with self._lock:
                reply = self._handle(raw[2], raw[3:-2])
                if reply is not None and raw[2] == self._late_to:
                    self._late_to, self._late, reply = None, reply, None
            if reply is not None:
                self._reply(reply)

    def _handle(self, code: int, data: bytes) -> bytes | None:
        self.received.append(code)
        status = self._status
        if code == 0x11:
            reply = frame(status, self._data)
            self._advance()
            return reply
        if code == ACK:
            if status == VEND_VALID and not self._queue:
                if self._lose_acks:
                    self._lose_acks -= 1
                else:
                    self.host_acks += 1
                    self._into_box()
                    self._go([(STACKED, b""), (_RESTING, b"")])
            return None
        if code == 0x40:  # RESET
            if status in (POWER_UP_ACCEPTOR, ESCROW, ACCEPTING):
                self._escrow_code = None  # the bill goes back out
            elif status in (STACKING, VEND_VALID):
                self._into_box()  # past the point of return: a reset does not bring the note back out
            self._inhibited, self._mask = True, 0xFFFF
            self._go([(INITIALIZE, b""), (_RESTING, b"")])
            return frame(ACK)
        if code in (0x41, 0x42) and status == ESCROW and not self._queue:
            if self._jam_on_next_stack:
                self._jam_on_next_stack = False
                self._fault = (STACKER_JAM, b"")
                self._go([(STACKING, b""), (STACKER_JAM, b"")])
            else:
                self._go([(STACKING, b""), (VEND_VALID, b"")])
                self._in_stacker = self.table.get(self._escrow_code, 0)
            self._escrow_code = None
            return frame(ACK)
        if code == 0x43 and status == ESCROW and not self._queue:
            self._escrow_code = None
            self._go([(RETURNING, b""), (_RESTING, b"")])
            return frame(ACK)
        if code == 0x44 and status == ESCROW:
            return frame(ACK)
        if code == 0xC0 and len(data) == 2:
            self._mask = data[0] | data[1] << 8
            return frame(code, data)
        if code == 0xC3 and len(data) == 1:
            self._inhibited = bool(data[0])
            if status in (IDLING, DISABLE) and not self._queue:
                self._go([(_RESTING, b"")])
            return frame(code, data)
        if code == 0x8A:
            table = b"".join(bytes([c, JPY_COUNTRY, *_mantissa_exponent(v)]) for c, v in sorted(self.table.items()))
            return frame(code, table)
        if code == 0x88:
            return frame(code, b"EMULATOR ID003")
        return frame(INVALID_COMMAND)

    def _reply(self, reply: bytes) -> None:
        with self._lock:
            if self._drop:
                self._drop -= 1
                return
            noise, self._noise = self._noise, b""
            if self._corrupt:
                self._corrupt -= 1
                reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
            late, self._late = self._late, b""
        self.write(late + noise + reply)


def _mantissa_exponent(value: int) -> tuple[int, int]:
    exponent = 0
    while value and value % 10 == 0:
        value, exponent = value // 10, exponent + 1
    return value & 0xFF, exponent


def main() -> None:  # pragma: no cover - a demo tool
    """Run an emulator and take world commands from stdin: ``insert 1000``, ``fake``, ``jam-stacker``,
    ``jam-acceptor``, ``open``, ``full``, ``clear``, ``power``, ``noise``, ``corrupt``, ``lose-ack``, ``quit``."""
    emulator = Id003Emulator().start()
    print(f"ID-003 emulator on {emulator.port} (configure devices.notes port = \"{emulator.port}\")", flush=True)
    actions = {"fake": lambda: emulator.insert_note(1000, genuine=False),
               "jam-stacker": emulator.jam_stacker_on_next_stack, "jam-acceptor": emulator.jam_acceptor,
               "open": emulator.remove_cashbox, "full": lambda: emulator.fill_stacker_after(0),
               "clear": emulator.clear_faults, "power": emulator.power_cycle,
               "noise": lambda: emulator.noise_before_next_reply(b"\x00\xfc\x33\x99"),
               "corrupt": emulator.corrupt_next_replies, "lose-ack": emulator.lose_next_acks}
    try:
        for line in iter(input, "quit"):
            word, _, arg = line.strip().partition(" ")
            if word == "insert" and arg.isdigit():
                emulator.insert_note(int(arg))
            elif word in actions:
                actions[word]()
            else:
                print(f"commands: insert <yen>, {', '.join(actions)}, quit")
            print(f"status 0x{emulator.status():02X}, stacked {emulator.stacked}", flush=True)
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        emulator.close()


if __name__ == "__main__":  # pragma: no cover
    main()
