"""JCM ID-003 framing: frames, CRC-16/KERMIT, resynchronising reply parser, currency-assign table.

A frame is ``SYNC(0xFC) LNG CMD [DATA…] CRC_L CRC_H``.  LNG counts the whole frame, SYNC and CRC included.  The CRC
is CRC-16/KERMIT (reflected polynomial 0x1021 = 0x8408, init 0, no final XOR) over SYNC..DATA, sent low byte first.
Check vectors (device-protocols.md §2.1, after py-id003 ``get_crc()`` and lamassu ``crc.js``): the status request
is ``FC 05 11 27 56``; ``FC 06 C3 01`` (inhibit) ends ``8D C7``.

Nothing here touches a port: :func:`find_frame` looks at the bytes read so far and says whether a good frame is in
them, and is fuzzed with random, truncated and corrupted input.
"""
from __future__ import annotations

from dataclasses import dataclass

SYNC = 0xFC
MIN_LENGTH = 5  # SYNC LNG CMD CRC CRC

# Controller → acceptor (device-protocols.md §2.2)
STATUS_REQUEST = 0x11
RESET = 0x40
STACK_1 = 0x41
STACK_2 = 0x42
RETURN = 0x43
HOLD = 0x44
ACK = 0x50
SET_ENABLE = 0xC0  # + 2 bytes: per-denomination mask, bit = 1 disables
SET_INHIBIT = 0xC3  # + 1 byte: 1 = inhibit (take no note), 0 = accept
GET_CURRENCY_ASSIGN = 0x8A

# Acceptor → controller (device-protocols.md §2.3)
ENABLE_IDLING = 0x11
ACCEPTING = 0x12
ESCROW = 0x13
STACKING = 0x14
VEND_VALID = 0x15
STACKED = 0x16
REJECTING = 0x17
RETURNING = 0x18
HOLDING = 0x19
DISABLE_INHIBIT = 0x1A
INITIALIZE = 0x1B
POWER_UP = 0x40
POWER_UP_BILL_IN_ACCEPTOR = 0x41
POWER_UP_BILL_IN_STACKER = 0x42
STACKER_FULL = 0x43
STACKER_OPEN = 0x44
ACCEPTOR_JAM = 0x45
STACKER_JAM = 0x46
PAUSE = 0x47
CHEATED = 0x48
FAILURE = 0x49
COMMUNICATION_ERROR = 0x4A
INVALID_COMMAND = 0x4B

STATUS_NAMES = {
    ENABLE_IDLING: "enable (idling)", ACCEPTING: "accepting", ESCROW: "escrow", STACKING: "stacking",
    VEND_VALID: "vend valid", STACKED: "stacked", REJECTING: "rejecting", RETURNING: "returning",
    HOLDING: "holding", DISABLE_INHIBIT: "disable (inhibit)", INITIALIZE: "initialize", POWER_UP: "power up",
    POWER_UP_BILL_IN_ACCEPTOR: "power up with bill in acceptor",
    POWER_UP_BILL_IN_STACKER: "power up with bill in stacker", STACKER_FULL: "stacker full",
    STACKER_OPEN: "stacker open", ACCEPTOR_JAM: "acceptor jam", STACKER_JAM: "stacker jam", PAUSE: "pause",
    CHEATED: "cheated", FAILURE: "failure", COMMUNICATION_ERROR: "communication error",
    INVALID_COMMAND: "invalid command", ACK: "ack",
}

REJECT_REASONS = {
    0x71: "insertion error", 0x72: "magnetic pattern error", 0x73: "bill remaining in the head",
    0x74: "compensation error", 0x75: "conveying error", 0x76: "denomination not recognised",
    0x77: "photo pattern error", 0x78: "photo level error", 0x79: "inhibited", 0x7A: "unknown reason",
    0x7B: "operation error", 0x7C: "bill remaining in the stacker", 0x7D: "length error",
    0x7E: "photo pattern error", 0x7F: "true-bill check failed", 0x98: "multiple bills", 0x9B: "ticket upside down",
}

FAILURE_CODES = {
    0xA2: "stacker motor", 0xA5: "transport motor speed", 0xA6: "transport motor", 0xAB: "cash box not ready",
    0xAF: "validator head removed", 0xB0: "boot ROM", 0xB1: "external ROM", 0xB2: "ROM", 0xB3: "external ROM write",
}


def _kermit_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _kermit_table()


def crc16_kermit(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def build_frame(command: int, data: bytes = b"") -> bytes:
    """The frame for ``command`` with ``data`` (up to 250 bytes)."""
    if not 0 <= command <= 0xFF or len(data) > 0xFF - MIN_LENGTH:
        raise ValueError(f"cannot frame command {command!r} with {len(data)} data bytes")
    body = bytes([SYNC, MIN_LENGTH + len(data), command]) + bytes(data)
    return body + crc16_kermit(body).to_bytes(2, "little")


@dataclass(frozen=True)
class Frame:
    code: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return STATUS_NAMES.get(self.code, f"0x{self.code:02X}")


@dataclass(frozen=True)
class Corrupt:
    """Only damaged frames (a bad CRC) were found: the caller drops them and asks again."""

    dropped: int


def find_frame(buffer: bytes) -> Frame | Corrupt | None:
    """The first well-formed frame in ``buffer``, hunting for SYNC past noise.

    A candidate whose CRC is wrong is dropped and the hunt goes on from the next byte.  Returns None while a
    candidate may still complete (read more), :class:`Corrupt` when every complete candidate was damaged.
    """
    return find_reply(buffer, None)


def find_reply(buffer: bytes, command: int | None) -> Frame | Corrupt | None:
    """The first well-formed frame in ``buffer`` that can answer ``command`` (any frame if None), as
    :func:`find_frame`.  A frame that cannot (:func:`answers`) is a late answer to an earlier command, which came
    after the host had given up on it: it is passed over, and the hunt goes on for this command's own answer."""
    dropped = 0
    waiting = False
    start = buffer.find(SYNC)
    while start >= 0:
        following = start + 1
        if start + 1 < len(buffer):
            length = buffer[start + 1]
            if length >= MIN_LENGTH:
                end = start + length
                if end > len(buffer):
                    waiting = True
                elif crc16_kermit(buffer[start:end - 2]) == int.from_bytes(buffer[end - 2:end], "little"):
                    found = Frame(buffer[start + 2], bytes(buffer[start + 3:end - 2]))
                    if command is None or answers(command, found.code):
                        return found
                    following = end  # a whole frame, only not this command's: hunt on after it
                else:
                    dropped += 1
        else:
            waiting = True
        start = buffer.find(SYNC, following)
    return Corrupt(dropped) if dropped and not waiting else None


def answers(command: int, code: int) -> bool:
    """Whether a frame with ``code`` can be the validator's answer to ``command`` (device-protocols.md §2.2–2.3):
    a state to STATUS REQUEST (any code below 0x80 but ACK: a firmware's own states are states too); ACK to an
    operation command (0x40–0x4F); its own code echoed to a setting (0xC0–) or a setting request (0x80–), or ACK
    to a setting; COMMUNICATION ERROR or INVALID COMMAND to any command."""
    if code in (COMMUNICATION_ERROR, INVALID_COMMAND):
        return True
    if command == STATUS_REQUEST:
        return code < 0x80 and code != ACK
    if 0x40 <= command < 0x50:
        return code == ACK
    if command >= 0xC0:
        return code in (command, ACK)
    if command >= 0x80:
        return code == command
    return True


# -- denominations -------------------------------------------------------------------------------------------------

ESCROW_CODES = range(0x61, 0x71)  # the 16 codes a 2-byte SET ENABLE mask can address, bit 0 = 0x61


def parse_currency_assign(data: bytes) -> dict[int, int]:
    """{escrow code: value} from a currency-assign (0x8A) reply: 4-byte entries ``[escrow code][country code]
    [mantissa][exponent]``, value = mantissa × 10^exponent, mantissa 0 = unused (lamassu ``_denominations``)."""
    if len(data) % 4:
        raise ValueError(f"a currency-assign table is made of 4-byte entries, got {len(data)} bytes")
    table: dict[int, int] = {}
    for i in range(0, len(data), 4):
        code, _country, mantissa, exponent = data[i:i + 4]
        if mantissa == 0:
            continue
        if exponent > 9:
            raise ValueError(f"escrow code 0x{code:02X} has exponent {exponent}, beyond any banknote")
        table[code] = mantissa * 10 ** exponent
    return table


def enable_mask(codes: set[int] | frozenset[int]) -> bytes:
    """The SET ENABLE data enabling exactly ``codes`` (bit = 1 disables; bit n ↔ escrow code 0x61 + n)."""
    mask = 0xFFFF
    for code in codes:
        if code not in ESCROW_CODES:
            raise ValueError(f"escrow code 0x{code:02X} cannot be addressed by SET ENABLE")
        mask &= ~(1 << (code - ESCROW_CODES.start))
    return mask.to_bytes(2, "little")
