"""A ccTalk bus emulator on a pty pair: a coin acceptor and hoppers, the wire-level peers of the coin drivers.

Written from the published facts (device-protocols.md §3), apart from the drivers' own parsing code.  The bus is
one wire, so every byte the host sends comes back to it first (the echo), then the addressed device's reply.  A
frame with a bad checksum, or for an address nobody has, gets no reply; a half frame left for 50 ms is dropped
(the inter-byte timeout).  8N1 is what ccTalk uses; a pty has no baud rate or parity to check anyway.

:class:`CoinAcceptorEmulator` keeps the 229 event buffer (counter 1..255 wrapping to 1, 0 after power-up, five
events newest first), the master inhibit (228) and per-position inhibits (231), and its coin-id table (184).
:class:`HopperEmulator` pays coins over time after a 167 dispense with the right security data, reports 166 status,
163 flags and the 217 low-level sensor, and can run dry or jam mid-payout.  Wire faults: noise before a reply, a bad
checksum, a lost reply (:meth:`CcTalkBusEmulator.drop_next_replies`), a collision on the echo.
Run ``python -m hal.coins.cctalk_emulator`` for a demo bus with an acceptor at 2 and hoppers at 3..6.
"""
from __future__ import annotations

import threading
import time
from collections import deque

from hal.pty_peer import PtyPeer

COIN_IDS = {1: b"JP010A", 2: b"JP050A", 3: b"JP100A", 4: b"JP500A"}


def _frame(destination: int, source: int, header: int, data: bytes = b"") -> bytes:
    body = bytes([destination, len(data), source, header]) + data
    return body + bytes([-sum(body) & 0xFF])


class CoinAcceptorEmulator:
    def __init__(self, address: int = 2, coin_ids: dict[int, bytes] | None = None, counter: int = 0):
        self.address = address
        self.coin_ids = dict(COIN_IDS if coin_ids is None else coin_ids)
        self.counter = counter
        self.events: deque[tuple[int, int]] = deque(maxlen=5)  # newest first
        self.master_enabled = False
        self.mask = 0
        self.jammed = False
        self.accepted: list[int] = []  # positions of coins that went into the box

    def position_of(self, value: int) -> int | None:
        return next((p for p, cid in self.coin_ids.items() if cid[2:5] == b"%03d" % value), None)

    def add_event(self, a: int, b: int) -> None:
        self.counter = self.counter % 255 + 1
        self.events.appendleft((a, b))

    def insert_coin(self, value: int, genuine: bool = True) -> None:
        if self.jammed:
            return  # the coin sits on the blocked sensor's queue; nothing is reported
        position = self.position_of(value) if genuine else None
        if position is None:
            self.add_event(0, 1)  # reject coin
        elif not self.master_enabled or not self.mask >> (position - 1) & 1:
            self.add_event(0, 2)  # inhibited coin
        else:
            self.accepted.append(position)
            self.add_event(position, 1)

    def jam(self) -> None:
        self.jammed = True
        self.add_event(0, 14)  # credit sensor blocked

    def power_cycle(self) -> None:
        self.counter, self.master_enabled, self.mask, self.jammed = 0, False, 0, False
        self.events.clear()

    def handle(self, header: int, data: bytes) -> bytes | None:
        if header == 254:
            return b""
        if header == 229:
            events = list(self.events) + [(0, 0)] * (5 - len(self.events))
            return bytes([self.counter]) + bytes(x for pair in events for x in pair)
        if header == 231 and len(data) == 2:
            self.mask = data[0] | data[1] << 8
            return b""
        if header == 230:
            return bytes([self.mask & 0xFF, self.mask >> 8])
        if header == 228 and len(data) == 1:
            self.master_enabled = bool(data[0] & 1)
            return b""
        if header == 227:
            return bytes([int(self.master_enabled)])
        if header == 184 and len(data) == 1:
            return self.coin_ids.get(data[0], b"......")
        if header == 1:
            self.power_cycle()
            return b""
        if header == 246:
            return b"EMU"
        return None  # unknown header: no reply


class HopperEmulator:
    def __init__(self, address: int = 3, stock: int = 0, low_level: int = 10, seconds_per_coin: float = 0.001,
                 security: str = "serial_number", serial_number: bytes = b"\x12\x34\x56"):
        self.address, self.stock, self.low_level = address, stock, low_level
        self.seconds_per_coin, self.security, self.serial_number = seconds_per_coin, security, serial_number
        self.counter = 0
        self.remaining = self.paid = self.unpaid = 0
        self.tray = 0  # coins that reached the change tray
        self.enabled = False
        self.flags = 0
        self.jam_after: int | None = None
        self.dispenses = 0  # dispense commands taken
        self.silent_after_dispense: bool | float = False
        """Once a dispense was taken, answer nothing: True for ever (a cable came loose), or for this many
        seconds after it (a hopper busy with its motor, a brown-out), paying all the while."""
        self._paying_since = 0.0
        self._cipher_ready = False

    def handle(self, header: int, data: bytes) -> bytes | None:
        self.progress()
        if self._silent():
            return None
        if header == 254:
            return b""
        if header == 242:
            return self.serial_number
        if header == 164 and len(data) == 1:
            self.enabled = data[0] == 0xA5
            return b""
        if header == 166:
            return bytes([self.counter, self.remaining, self.paid, self.unpaid])
        if header == 163:
            return bytes([self.flags | (0 if self.enabled else 0x80), 0])
        if header == 217:
            return bytes([0x10 | (1 if self.stock < self.low_level else 0)])
        if header == 161 and len(data) == 8:
            self._cipher_ready = False
            return b""
        if header == 160:
            self._cipher_ready = True
            return bytes(8)
        if header == 167:
            return self._dispense(data)
        if header == 172:
            self.unpaid, self.remaining = self.unpaid + self.remaining, 0
            return bytes([self.unpaid])
        return None

    def _silent(self) -> bool:
        silence = self.silent_after_dispense
        if silence is False or not self.dispenses:
            return False
        return silence is True or time.monotonic() - self._paying_since < silence

    def _dispense(self, data: bytes) -> bytes | None:
        count = data[-1] if data else 0
        if self.security == "serial_number":
            valid = data[:-1] == self.serial_number
        else:
            valid = data[:-1] == bytes(8) and self._cipher_ready
        if not valid or not self.enabled or count == 0 or self.remaining:
            return None if not valid else b""  # a wrong code is ignored; a busy or disabled hopper pays nothing
        self._cipher_ready = False
        self.counter = self.counter % 255 + 1
        self.dispenses += 1
        self.remaining, self.paid, self.unpaid, self.flags = count, 0, 0, 0
        self._paying_since = time.monotonic()
        return bytes([self.counter])

    def progress(self) -> None:
        """Let the coins due by now leave (a real hopper pays a few coins a second)."""
        if not self.remaining:
            return
        due = int((time.monotonic() - self._paying_since) / self.seconds_per_coin) - self.paid
        for _ in range(max(due, 0)):
            if self.jam_after is not None and self.paid >= self.jam_after:
                self.jam_after, self.flags = None, 0x01  # absolute maximum current exceeded: motor stalled
            elif self.stock == 0:
                self.flags = 0x02  # payout timeout: no coin seen at the exit
            else:
                self.stock -= 1
                self.tray += 1
                self.paid += 1
                self.remaining -= 1
                if self.remaining:
                    continue
                return
            self.unpaid, self.remaining = self.remaining, 0
            return

    def power_cycle(self) -> None:
        self.unpaid, self.remaining = self.unpaid + self.remaining, 0
        self.counter, self.enabled = 0, False


class CcTalkBusEmulator(PtyPeer):
    """Devices on one ccTalk bus, served on the master end of a pty; the driver opens :attr:`port`."""

    def __init__(self, *devices):
        self.devices = {d.address: d for d in devices}
        self.lock = threading.RLock()
        self.received: list[tuple[int, int]] = []  # (address, header) of every good frame
        self._noise = b""
        self._drop: dict[int | None, int] = {}
        self._corrupt = self._collide = 0
        self._deaf: dict[int, int] = {}
        self._buffer = bytearray()
        self._last = time.monotonic()
        super().__init__("cctalk-emulator")

    def add(self, device) -> None:
        with self.lock:
            self.devices[device.address] = device

    def noise_before_next_reply(self, noise: bytes) -> None:
        with self.lock:
            self._noise += noise

    def corrupt_next_replies(self, count: int = 1) -> None:
        with self.lock:
            self._corrupt += count

    def drop_next_replies(self, count: int = 1, header: int | None = None) -> None:
        """The next ``count`` replies (to ``header`` only, if given) are lost on the wire; the command was done."""
        with self.lock:
            self._drop[header] = self._drop.get(header, 0) + count

    def ignore_next(self, header: int, count: int = 1) -> None:
        """The next ``count`` frames with ``header`` are garbled before the device hears them: not done, no reply."""
        with self.lock:
            self._deaf[header] = self._deaf.get(header, 0) + count

    def collide_next_echoes(self, count: int = 1) -> None:
        with self.lock:
            self._collide += count

    def on_bytes(self, chunk: bytes | None) -> None:
        buffer = self._buffer
        if chunk is None:
            if buffer and time.monotonic() - self._last > 0.05:
                buffer.clear()  # inter-byte timeout: a half frame is dropped
            return
        self._last = time.monotonic()
        with self.lock:
            echo = chunk
            if self._collide:
                self._collide -= 1
                echo = bytes([chunk[0] ^ 0x01]) + chunk[1:]
        self.write(echo)  # one wire: the host hears itself
        buffer += chunk
        while len(buffer) >= 5 and len(buffer) >= 5 + buffer[1]:
            size = 5 + buffer[1]
            raw = bytes(buffer[:size])
            del buffer[:size]
            if sum(raw) & 0xFF:
                buffer.clear()
                return
            self._answer(raw[0], raw[2], raw[3], raw[4:-1])

    def _answer(self, address: int, source: int, header: int, data: bytes) -> None:
        with self.lock:
            device = self.devices.get(address)
            if device is None:
                return
            if self._deaf.get(header):
                self._deaf[header] -= 1
                return
            self.received.append((address, header))
            reply = device.handle(header, data)
            if reply is None:
                return
            for key in (header, None):
                if self._drop.get(key):
                    self._drop[key] -= 1
                    return
            out = _frame(source, address, 0, reply)
            if self._corrupt:
                self._corrupt -= 1
                out = out[:-1] + bytes([out[-1] ^ 0xFF])
            noise, self._noise = self._noise, b""
        self.write(noise + out)


def main() -> None:  # pragma: no cover - a demo tool
    """A demo bus: acceptor at 2, hoppers of 500/100/50/10 yen at 3..6; commands on stdin: ``coin 100``, ``slug``,
    ``jam``, ``reset``, ``lose 3``, ``short 500 2``, ``status``, ``quit``."""
    acceptor = CoinAcceptorEmulator(2)
    hoppers = {v: HopperEmulator(a, stock=50, seconds_per_coin=0.2) for v, a in ((500, 3), (100, 4), (50, 5), (10, 6))}
    bus = CcTalkBusEmulator(acceptor, *hoppers.values()).start()
    print(f"ccTalk bus emulator on {bus.port} (acceptor at 2; hoppers 500→3, 100→4, 50→5, 10→6)", flush=True)
    try:
        for line in iter(input, "quit"):
            word, *args = line.split()
            with bus.lock:
                if word == "coin" and args:
                    acceptor.insert_coin(int(args[0]))
                elif word == "slug":
                    acceptor.insert_coin(100, genuine=False)
                elif word == "jam":
                    acceptor.jam()
                elif word == "reset":
                    acceptor.power_cycle()
                elif word == "lose" and args:
                    for _ in range(int(args[0]) + 5):
                        acceptor.add_event(0, 1)
                elif word == "short" and len(args) == 2:
                    hoppers[int(args[0])].stock = int(args[1])
                counts = {v: h.stock for v, h in hoppers.items()}
            print(f"acceptor counter {acceptor.counter}; hopper stock {counts}", flush=True)
    except (EOFError, KeyboardInterrupt, ValueError):
        pass
    finally:
        bus.close()


if __name__ == "__main__":  # pragma: no cover
    main()
