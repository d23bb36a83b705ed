"""ISO 7816-4 APDUs as the driver sends and reads them: command encoding, response parsing, and the exchange rules
for ``61 xx`` (more data: GET RESPONSE) and ``6C xx`` (wrong Le: send again with Le = xx).

Nothing here knows JPKI; :mod:`hal.card.jpki` builds on it.  A command whose data may be a PIN is built into a
``bytearray`` so that the caller can wipe it (:meth:`Command.encode_into`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

SW_OK = 0x9000
SW_EOF_WARNING = 0x6282  # end of file reached before Le bytes (data still valid)
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_REFERENCE_DATA_UNUSABLE = 0x6984  # JPKI: the PIN is blocked
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_COMMAND_NOT_ALLOWED = 0x6986
SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_OFFSET_OUT_OF_RANGE = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

MAX_CHAINED_RESPONSE = 65536
"""No answer the driver asks for is longer; a card that keeps saying ``61 xx`` past this is broken."""


class MalformedResponse(Exception):
    """The reader handed back something that is not a response APDU (fewer than two bytes)."""


@dataclass(frozen=True)
class Command:
    """A command APDU.  ``le`` is the number of bytes expected (1..65536; 256 is encoded as 00 in short form),
    or None for no response data.  Short form when it fits, extended form (ISO 7816-4 5.1) otherwise."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes | bytearray = b""
    le: int | None = None

    def __post_init__(self):
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} must be a byte, got {value!r}")
        if len(self.data) > 65535:
            raise ValueError("command data longer than 65535 bytes")
        if self.le is not None and not 1 <= self.le <= 65536:
            raise ValueError(f"Le must be 1..65536, got {self.le!r}")

    def __repr__(self) -> str:  # the data may be a PIN: only its length is shown
        return (f"Command({self.cla:02X} {self.ins:02X} {self.p1:02X} {self.p2:02X}, {len(self.data)} data bytes, "
                f"Le={self.le})")

    @property
    def extended(self) -> bool:
        return len(self.data) > 255 or (self.le is not None and self.le > 256)

    def encode_into(self, out: bytearray) -> bytearray:
        """Append the encoded APDU to ``out`` (a buffer the caller can wipe) and return it."""
        out += bytes((self.cla, self.ins, self.p1, self.p2))
        lc = len(self.data)
        if self.extended:
            if lc:
                out += b"\x00" + lc.to_bytes(2, "big")
                out += self.data
                if self.le is not None:
                    out += (self.le % 65536).to_bytes(2, "big")
            elif self.le is not None:
                out += b"\x00" + (self.le % 65536).to_bytes(2, "big")
            return out
        if lc:
            out.append(lc)
            out += self.data
        if self.le is not None:
            out.append(self.le % 256)
        return out

    def encode(self) -> bytes:
        return bytes(self.encode_into(bytearray()))

    def with_le(self, le: int) -> Command:
        return Command(self.cla, self.ins, self.p1, self.p2, self.data, le)


@dataclass(frozen=True)
class Response:
    """A response APDU: data and the status word."""

    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    def __repr__(self) -> str:
        return f"Response({len(self.data)} bytes, SW {self.sw:04X})"


def parse_response(raw: bytes | bytearray | list[int]) -> Response:
    """Split a response into data and status word.  Raises :class:`MalformedResponse` if it has no status word."""
    raw = bytes(raw)
    if len(raw) < 2:
        raise MalformedResponse(f"a response APDU has at least 2 bytes, got {len(raw)}")
    return Response(raw[:-2], int.from_bytes(raw[-2:], "big"))


def pin_tries_from(sw: int) -> int | None:
    """``63 Cx`` → x (tries left); any other status word → None."""
    if sw & 0xFFF0 == 0x63C0:
        return sw & 0x0F
    return None


Transmit = Callable[[bytes | bytearray], Response]
"""Send one encoded APDU, return its parsed response (a reader's raw exchange)."""


def exchange(transmit: Transmit, command: Command, buffer: bytearray | None = None) -> Response:
    """Send ``command`` and follow the card's hints to a final answer.

    - ``6C xx``: the card wants Le = xx (0 = 256); the same command is sent once more with that Le.
    - ``61 xx``: xx (0 = 256) more bytes wait; GET RESPONSE collects them, as often as the card says so.

    ``buffer`` (optional) is the bytearray the command is encoded into, so that a caller sending a PIN can wipe
    it afterwards; it is cleared and reused for a resend.
    """
    buffer = bytearray() if buffer is None else buffer
    buffer.clear()
    response = transmit(command.encode_into(buffer))
    if response.sw1 == 0x6C:
        command = command.with_le(response.sw2 or 256)
        _wipe(buffer)
        response = transmit(command.encode_into(buffer))
    data = bytearray(response.data)
    rounds = 0
    while response.sw1 == 0x61:
        rounds += 1
        if len(data) > MAX_CHAINED_RESPONSE or rounds > MAX_CHAINED_RESPONSE // 256 + 1:
            raise MalformedResponse("the card keeps offering more data (61xx) past any sensible answer")
        response = transmit(Command(0x00, 0xC0, 0x00, 0x00, le=response.sw2 or 256).encode())
        data += response.data
    return Response(bytes(data), response.sw)


def _wipe(buffer: bytearray) -> None:
    for i in range(len(buffer)):
        buffer[i] = 0
    buffer.clear()


def wipe(buffer: bytearray) -> None:
    """Overwrite a buffer that held a PIN, then empty it."""
    _wipe(buffer)
