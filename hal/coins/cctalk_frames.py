"""ccTalk framing and the meaning of the replies the coin drivers use.

A frame is ``[destination][data length][source][header][data…][checksum]`` (at most 255 data bytes); the simple
8-bit checksum makes the sum of all bytes ≡ 0 (mod 256): ``(256 - s) % 256`` (device-protocols.md §3.1; pycctalk's
``256 - s`` is wrong when ``s % 256 == 0``).  Only the simple checksum is supported: the CRC-16 variant of ccTalk is
not described in the facts we build to.  Check vectors: simple poll to the acceptor ``02 00 01 FE FF``, to a hopper
at 3 ``03 00 01 FE FE``, read buffered credit ``02 00 01 E5 18``.

The bus is one wire: the host reads its own bytes back (the echo) before the reply.  :func:`split_echo` checks the
echo and :func:`find_reply` hunts for the reply past noise.  Neither touches a port; both are fuzzed.
"""
from __future__ import annotations

from dataclasses import dataclass

HOST = 1
REPLY = 0  # the header of a reply ("ACK" with or without data)
NAK = 5
BUSY = 6

RESET_DEVICE = 1
SIMPLE_POLL = 254
REQUEST_SERIAL_NUMBER = 242
PERFORM_SELF_CHECK = 232
READ_BUFFERED_CREDIT = 229
MODIFY_MASTER_INHIBIT = 228
MODIFY_INHIBIT_STATUS = 231
REQUEST_PAYOUT_LEVEL = 217
REQUEST_COIN_ID = 184
DISPENSE_HOPPER_COINS = 167
REQUEST_HOPPER_STATUS = 166
ENABLE_HOPPER = 164
TEST_HOPPER = 163
PUMP_RNG = 161
REQUEST_CIPHER_KEY = 160
EMERGENCY_STOP = 172

ENABLE_HOPPER_MAGIC = 0xA5  # header 164 data: 0xA5 enables payout, anything else disables


def checksum(data: bytes) -> int:
    return (256 - sum(data) % 256) % 256


def build_frame(destination: int, header: int, data: bytes = b"", source: int = HOST) -> bytes:
    if len(data) > 255 or not all(0 <= b <= 255 for b in (destination, header, source)):
        raise ValueError(f"cannot frame header {header!r} to {destination!r} with {len(data)} data bytes")
    body = bytes([destination, len(data), source, header]) + bytes(data)
    return body + bytes([checksum(body)])


@dataclass(frozen=True)
class Frame:
    destination: int
    source: int
    header: int
    data: bytes = b""


@dataclass(frozen=True)
class Garbled:
    """What came back was not our echo followed by a good reply (a collision, noise, a bad checksum)."""

    why: str


def find_reply(buffer: bytes, source: int, destination: int = HOST) -> Frame | Garbled | None:
    """The first well-formed frame from ``source`` to ``destination`` in ``buffer``.

    Candidates start at any byte equal to ``destination``; one with a bad checksum is skipped.  None while a
    candidate may still complete; :class:`Garbled` when every complete candidate was bad."""
    bad = False
    waiting = False
    start = buffer.find(destination)
    while start >= 0:
        if start + 1 >= len(buffer):
            waiting = True
        else:
            end = start + 5 + buffer[start + 1]
            if end > len(buffer):
                waiting = True
            elif sum(buffer[start:end]) % 256 == 0 and buffer[start + 2] == source:
                return Frame(destination, source, buffer[start + 3], bytes(buffer[start + 4:end - 1]))
            else:
                bad = True
        start = buffer.find(destination, start + 1)
    return Garbled("no frame with a good checksum") if bad and not waiting else None


def split_echo(buffer: bytes, sent: bytes, source: int) -> Frame | Garbled | None:
    """Check that ``buffer`` starts with our own ``sent`` bytes (the single-wire echo), then find the reply."""
    if len(buffer) < len(sent):
        return Garbled("echo differs: a collision on the bus") if not sent.startswith(buffer) else None
    if buffer[:len(sent)] != sent:
        return Garbled("echo differs: a collision on the bus")
    return find_reply(buffer[len(sent):], source)


# -- header 229: read buffered credit or error codes ----------------------------------------------------------------

EVENT_BUFFER = 5


@dataclass(frozen=True)
class CreditBuffer:
    counter: int
    events: tuple[tuple[int, int], ...]  # (A, B) pairs, newest first: A = coin position (0: B is an error code)


def parse_buffered_credit(data: bytes) -> CreditBuffer:
    if len(data) != 1 + 2 * EVENT_BUFFER:
        raise ValueError(f"a buffered-credit reply has 11 bytes, got {len(data)}")
    return CreditBuffer(data[0], tuple((data[1 + 2 * i], data[2 + 2 * i]) for i in range(EVENT_BUFFER)))


def new_events(last: int, counter: int) -> int:
    """How many events happened between ``last`` and ``counter`` (1..255 wrapping to 1; 0 only after a reset).

    The caller handles ``counter == 0`` (a reset) before asking; ``last == 0`` means nothing was seen yet."""
    if not 1 <= counter <= 255 or not 0 <= last <= 255:
        raise ValueError(f"event counters run 1..255 (last {last}, now {counter})")
    if last == 0:
        return counter
    return counter - last if counter >= last else counter + 255 - last


def counter_before(counter: int, steps: int) -> int:
    """The event counter ``steps`` events before ``counter`` (wrapping 1 → 255)."""
    return (counter - 1 - steps) % 255 + 1


ERROR_CODES = {
    1: "reject coin", 2: "inhibited coin", 3: "multiple window", 4: "wake-up timeout", 5: "validation timeout",
    6: "credit sensor timeout", 7: "sorter opto timeout", 8: "2nd close coin error", 9: "accept gate not ready",
    10: "credit sensor not ready", 11: "sorter not ready", 12: "reject coin not cleared",
    13: "validation sensor not ready", 14: "credit sensor blocked", 15: "sorter opto blocked",
    16: "credit sequence error", 17: "coin going backwards", 18: "coin too fast", 19: "coin too slow",
    20: "coin on string mechanism activated", 21: "DCE opto timeout", 22: "DCE opto not seen",
    23: "credit sensor reached too early", 24: "reject coin (repeated sequential trip)", 25: "reject slug",
    26: "reject sensor blocked", 27: "games overload", 28: "max. coin meter pulses exceeded",
    29: "accept gate open not closed", 30: "accept gate closed not open", 31: "manifold opto timeout",
    32: "manifold opto blocked", 33: "manifold not ready", 34: "security status changed", 35: "motor exception",
    253: "data block request", 254: "coin return mechanism activated", 255: "unspecified alarm code",
}
JAM_CODES = frozenset({14, 15, 26, 32})  # a sensor is blocked: a coin is stuck in the mechanism
FRAUD_CODES = frozenset({16, 17, 18, 20, 23})
NOT_A_COIN = frozenset({0, 253, 254})  # null event, data request, the return lever: nothing went in or out


def error_name(code: int) -> str:
    if 128 <= code <= 159:
        return f"inhibited coin (type {code - 127})"
    return ERROR_CODES.get(code, f"error code {code}")


# -- header 184: coin id ---------------------------------------------------------------------------------------------

_MULTIPLIERS = {"m": 0.001, "K": 1000, "M": 1_000_000, "G": 1_000_000_000}


def parse_coin_id(data: bytes) -> tuple[str, float] | None:
    """(country, value) from a 6-character coin id ``CCVVVI`` ("JP100A": Japan, 100, issue A); None for an empty
    position ("......" or blanks).  The value code may carry a multiplier letter in place of the decimal point
    ("1K0" = 1000, "2.5" = 2.5)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"coin id {data!r} is not ASCII") from None
    if len(text) != 6:
        raise ValueError(f"a coin id has 6 characters, got {text!r}")
    if text.strip(". \x00") == "":
        return None
    country, code = text[:2], text[2:5]
    letters = [c for c in code if not c.isdigit()]
    if not letters:
        return country, float(int(code))
    if len(letters) == 1 and code[0] != letters[0] and (letters[0] == "." or letters[0] in _MULTIPLIERS):
        whole, _, fraction = code.partition(letters[0])
        number = float(f"{whole}.{fraction or 0}")
        return country, number * _MULTIPLIERS.get(letters[0], 1)
    raise ValueError(f"coin id {text!r} has an unreadable value code {code!r}")


# -- hopper replies ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HopperStatus:
    """Header 166: the dispense event counter, coins still to pay, and the last payout's paid and unpaid coins."""

    counter: int
    remaining: int
    paid: int
    unpaid: int


def parse_hopper_status(data: bytes) -> HopperStatus:
    if len(data) != 4:
        raise ValueError(f"a hopper-status reply has 4 bytes, got {len(data)}")
    return HopperStatus(*data)


# Header 163 "test hopper", first flag byte (ccTalk generic spec, part 3) [check the hopper's manual]
MAX_CURRENT_EXCEEDED = 0x01
PAYOUT_TIMEOUT = 0x02
MOTOR_REVERSED = 0x04
OPTO_BLOCKED_DURING_PAYOUT = 0x20
PAYOUT_DISABLED = 0x80
JAM_FLAGS = MAX_CURRENT_EXCEEDED | MOTOR_REVERSED | OPTO_BLOCKED_DURING_PAYOUT

# Header 217 "payout high / low status" [check the hopper's manual]
LOW_LEVEL = 0x01  # the coins are at or below the low-level sensor
LOW_SENSOR_FITTED = 0x10
