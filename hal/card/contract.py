"""The card reader contract.

A resident places either a My Number card (JPKI user-authentication certificate and its 4-digit PIN) or a
municipal citizen card (a card id; its registered password is checked by the server, not by the card).

The rules of the PIN counter (ARCHITECTURE invariant 6): read the tries left before asking, never retry by
itself, never log or keep the PIN.  :class:`Pin` exists so that a PIN cannot leak through ``repr``, ``str``,
logging or an exception message by accident.
"""
from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hal.events import DeviceError, DeviceEvent, EventSink

DIGEST_INFO_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
"""DER prefix of a SHA-256 DigestInfo; the card adds the PKCS#1 v1.5 padding itself."""


def digest_info_sha256(message: bytes) -> bytes:
    """The DER DigestInfo of SHA-256(message), the input the JPKI card signs."""
    return DIGEST_INFO_SHA256_PREFIX + hashlib.sha256(message).digest()


class CardKind(enum.Enum):
    MY_NUMBER = "my_number"  # the JPKI application answered to SELECT by AID
    CITIZEN = "citizen"  # a municipal citizen card
    UNKNOWN = "unknown"  # a card that is neither (a transit card, a bank card, ...)


class ReaderState(enum.Enum):
    NO_READER = "no_reader"  # unplugged or the PC/SC service is down
    EMPTY = "empty"  # reader present, no card
    CARD_PRESENT = "card_present"
    FAULT = "fault"  # the reader answers but cannot talk to the card


@dataclass(frozen=True)
class CardPlaced(DeviceEvent):
    kind: CardKind


@dataclass(frozen=True)
class CardRemoved(DeviceEvent):
    pass


@dataclass(frozen=True)
class ReaderStateChanged(DeviceEvent):
    state: ReaderState


@dataclass(frozen=True)
class PinResult:
    """The card's answer to a PIN: accepted, or how many tries are left (0 = now blocked)."""

    accepted: bool
    tries_left: int

    @property
    def blocked(self) -> bool:
        return not self.accepted and self.tries_left == 0


class CardError(DeviceError):
    """The card answered with a status word the operation cannot use."""

    def __init__(self, device: str, message: str, status_word: int | None = None):
        super().__init__(device, message if status_word is None else f"{message} (SW {status_word:04X})")
        self.status_word = status_word


class CardRemovedError(CardError):
    """The card left the reader during an operation."""


class PinBlockedError(CardError):
    """The PIN is blocked (63C0, 6983 or 6984): only the municipal counter can unblock it."""


class Pin:
    """A PIN the resident typed.  It never shows itself: repr and str are masked.

    The digits are kept in a bytearray so that :meth:`wipe` can overwrite them once the card has answered.  The PIN
    pad builds its digits in a bytearray and hands them over as one (the pad then wipes its own); a ``str`` is
    accepted for tests and the development control socket only, since a ``str`` cannot be wiped.
    """

    __slots__ = ("_digits",)

    def __init__(self, digits: str | bytes | bytearray, length: int = 4):
        if isinstance(digits, str):
            if len(digits) != length or not digits.isascii() or not digits.isdigit():
                raise ValueError(f"a PIN is exactly {length} digits")
            self._digits = bytearray(digits.encode("ascii"))
        elif isinstance(digits, (bytes, bytearray)):
            if len(digits) != length or not all(0x30 <= b <= 0x39 for b in digits):
                raise ValueError(f"a PIN is exactly {length} digits")
            self._digits = bytearray(digits)
        else:
            raise ValueError(f"a PIN is exactly {length} digits")

    def copy(self) -> "Pin":
        """Another Pin with the same digits (its own bytearray, wiped on its own), with no immutable copy made."""
        if not self._digits:
            raise ValueError("this PIN was wiped")
        other = Pin.__new__(Pin)
        other._digits = bytearray(self._digits)
        return other

    @property
    def wiped(self) -> bool:
        return not self._digits

    def ascii_bytes(self) -> bytes:
        """The PIN as the card wants it (ASCII digits).  Only drivers call this."""
        if not self._digits:
            raise ValueError("this PIN was wiped")
        return bytes(self._digits)

    def copy_into(self, buffer: bytearray) -> bytearray:
        """Append the ASCII digits to ``buffer`` (one the caller wipes) without making an immutable copy."""
        if not self._digits:
            raise ValueError("this PIN was wiped")
        buffer += self._digits
        return buffer

    def wipe(self) -> None:
        for i in range(len(self._digits)):
            self._digits[i] = 0
        self._digits = bytearray()

    def __repr__(self) -> str:
        return "Pin(****)"

    __str__ = __repr__

    def __reduce__(self):  # a PIN is never pickled, copied to another process or written to disk
        raise TypeError("a PIN cannot be serialised")


@runtime_checkable
class CardReader(Protocol):
    """A contactless (or contact) reader for the My Number card and the citizen card."""

    name: str

    async def start(self, sink: EventSink) -> None:
        """Begin watching the reader; card placed/removed arrive as events."""

    async def stop(self) -> None: ...

    def state(self) -> ReaderState: ...

    def card_kind(self) -> CardKind | None:
        """The kind of the card now on the reader, or None when there is none."""

    async def read_auth_certificate(self) -> bytes:
        """The JPKI user-authentication certificate (DER).  Needs no PIN."""

    async def pin_tries_left(self) -> int:
        """Tries left on the authentication PIN, read without spending one."""

    async def verify_pin(self, pin: Pin) -> PinResult:
        """Present the PIN once.  Raises :class:`PinBlockedError` if the card is already blocked."""

    async def sign(self, digest_info: bytes) -> bytes:
        """Sign a DER DigestInfo with the authentication key (after a verified PIN).  Returns the RSA signature."""

    async def citizen_card_id(self) -> str:
        """The id printed in the citizen card's chip (not personal data: an opaque card number)."""
