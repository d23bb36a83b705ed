"""A simulated card reader with a JPKI My Number card that really signs.

The reader holds at most one card.  A card is a :class:`SimCard`: a My Number card carries a real RSA-2048 key
and its user-authentication certificate, a 4-digit PIN and the PIN counter; a citizen card carries its card id.
Cards come from JSON files in a cards directory (the reference server's ``kiosk-server devinit`` writes them)
or are built in memory by :func:`hal.card.testcards.make_test_card`::

    reader = SimCardReader(cards_dir=".dev/cards")
    await reader.start(sink)
    await reader.place_card("resident-a")          # .dev/cards/resident-a.json -> CardPlaced(MY_NUMBER)
    await reader.pin_tries_left()                  # 3, spends nothing
    await reader.verify_pin(Pin("1234"))           # PinResult(accepted=True, tries_left=3)
    signature = await reader.sign(digest_info_sha256(challenge))
    await reader.lift_card()                       # CardRemoved; the verified PIN is forgotten

The card behaves like the JPKI application: a wrong PIN spends a try, the third wrong one blocks the card for
good, a right PIN restores three tries, and a blocked card refuses every PIN without counting.  The counter lives
on the card: when the card came from a file it is written back there, like the chip's EEPROM.

It fails the way the hardware does: :meth:`SimCardReader.lift_during_next_operation` takes the card away in the
middle of the next command, :meth:`SimCardReader.unplug` makes the reader vanish (``NO_READER``) and
:meth:`SimCardReader.break_contact` puts it in ``FAULT`` (the reader answers, the card does not).
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from hal.card.contract import (
    DIGEST_INFO_SHA256_PREFIX, CardError, CardKind, CardPlaced, CardRemoved, CardRemovedError, Pin,
    PinBlockedError, PinResult, ReaderState, ReaderStateChanged,
)
from hal.events import DeviceError, DeviceUnavailable, EventSink, discard

log = logging.getLogger(__name__)

PIN_MAX_TRIES = 3
"""The JPKI user-authentication PIN allows three consecutive wrong tries (EF 0018)."""
SIGN_PIN_MAX_TRIES = 5
"""The JPKI signature password (6-16 upper-case letters and digits) allows five (EF 001B)."""

SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_PIN_BLOCKED = 0x6984


def _rsa_key(pem: str, path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"card file {path}: the JPKI keys must be RSA")
    return key


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption(),
    ).decode("ascii")


@dataclass(eq=False)
class SimCard:
    """One card as the chip holds it.  ``pin`` and ``private_key`` never appear in ``repr``.

    ``path`` is the JSON file the card came from; when set, the PIN counters are written back to it after every
    change.  The signature side (``sign_pin``, ``sign_certificate``, ``sign_key``) is optional: a card issued
    without a signature certificate has none, but keeps the signature password's counter ``sign_tries_left``.
    The kiosk uses only the authentication side; the signature side is there so that standard middleware
    (OpenSC) finds the whole JPKI AP.  A card of kind ``UNKNOWN`` stands for a card that is neither (a transit
    card, a bank card).
    """

    kind: CardKind
    label: str = ""
    pin: str = field(default="", repr=False)
    tries_left: int = PIN_MAX_TRIES
    certificate: bytes = field(default=b"", repr=False)
    private_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)
    card_id: str = ""
    path: Path | None = None
    sign_pin: str = field(default="", repr=False)
    sign_tries_left: int = SIGN_PIN_MAX_TRIES
    sign_certificate: bytes = field(default=b"", repr=False)
    sign_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)

    @property
    def has_signature_side(self) -> bool:
        return self.sign_key is not None and bool(self.sign_certificate) and bool(self.sign_pin)

    @property
    def blocked(self) -> bool:
        return self.kind is CardKind.MY_NUMBER and self.tries_left <= 0

    @classmethod
    def load(cls, path: str | os.PathLike) -> SimCard:
        """Read a card file (see the module docstring of :mod:`hal.card.testcards` for the format)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            kind = CardKind(data["kind"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"card file {path} is not a card: {type(e).__name__}") from None
        label = str(data.get("label", path.stem))
        if kind is CardKind.MY_NUMBER:
            key = _rsa_key(data["private_key"], path)
            sign_key = _rsa_key(data["sign_private_key"], path) if data.get("sign_private_key") else None
            return cls(kind, label, pin=str(data["pin"]), tries_left=int(data.get("tries_left", PIN_MAX_TRIES)),
                       certificate=base64.b64decode(data["certificate"]), private_key=key, path=path,
                       sign_pin=str(data.get("sign_pin", "")),
                       sign_tries_left=int(data.get("sign_tries_left", SIGN_PIN_MAX_TRIES)),
                       sign_certificate=base64.b64decode(data.get("sign_certificate", "")), sign_key=sign_key)
        return cls(kind, label, card_id=str(data.get("card_id", "")), path=path)

    def to_json(self) -> dict:
        """The card as a card file holds it."""
        data: dict = {"kind": self.kind.value, "label": self.label}
        if self.kind is CardKind.MY_NUMBER:
            assert self.private_key is not None
            data.update(
                pin=self.pin, tries_left=self.tries_left,
                certificate=base64.b64encode(self.certificate).decode("ascii"),
                private_key=_pem(self.private_key), sign_tries_left=self.sign_tries_left,
            )
            if self.has_signature_side:
                data.update(sign_pin=self.sign_pin,
                            sign_certificate=base64.b64encode(self.sign_certificate).decode("ascii"),
                            sign_private_key=_pem(self.sign_key))
        elif self.kind is CardKind.CITIZEN:
            data["card_id"] = self.card_id
        return data

    def save(self, path: str | os.PathLike | None = None) -> None:
        """Write the card to ``path`` (or back to where it came from), atomically."""
        target = Path(path) if path is not None else self.path
        if target is None:
            return
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the file holds a private key
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=2)
            f.write("\n")
        os.replace(tmp, target)
        self.path = target


class SimCardReader:
    """A card reader that holds the simulated cards.  See the module docstring.

    ``latency`` (seconds) is added to every card command: 0 for tests and benchmarks, about 0.05 for a demo
    that feels like a contactless reader.
    """

    def __init__(self, name: str = "card_reader", cards_dir: str | os.PathLike | None = None,
                 latency: float = 0.0):
        if latency < 0:
            raise ValueError("latency must be ≥ 0")
        self.name = name
        self.cards_dir = Path(cards_dir) if cards_dir is not None else None
        self.latency = latency
        self._sink: EventSink = discard
        self._plugged_in = True
        self._fault = False
        self._card: SimCard | None = None
        self._pin_verified = False
        self._lift_armed = False
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SimCardReader({self.name!r}, state={self.state().value}, card={self._card!r})"

    # -- the contract ------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        await self._emit(ReaderStateChanged(self.name, self.state()))
        if self._card is not None and self._plugged_in:
            await self._emit(CardPlaced(self.name, self._card.kind))

    async def stop(self) -> None:
        self._sink = discard

    def state(self) -> ReaderState:
        if not self._plugged_in:
            return ReaderState.NO_READER
        if self._fault:
            return ReaderState.FAULT
        return ReaderState.EMPTY if self._card is None else ReaderState.CARD_PRESENT

    def card_kind(self) -> CardKind | None:
        if not self._plugged_in or self._card is None:
            return None
        return self._card.kind

    async def read_auth_certificate(self) -> bytes:
        async with self._operation() as card:
            self._require_my_number(card)
            return card.certificate

    async def pin_tries_left(self) -> int:
        async with self._operation() as card:
            self._require_my_number(card)
            return max(card.tries_left, 0)

    async def verify_pin(self, pin: Pin) -> PinResult:
        async with self._operation() as card:
            self._require_my_number(card)
            if card.blocked:
                raise PinBlockedError(self.name, "the PIN is blocked", SW_PIN_BLOCKED)
            accepted = hmac.compare_digest(pin.ascii_bytes(), card.pin.encode("ascii"))
            if accepted:
                card.tries_left = PIN_MAX_TRIES
            else:
                card.tries_left -= 1
            self._pin_verified = accepted
            self._remember(card)
            return PinResult(accepted=accepted, tries_left=card.tries_left)

    async def sign(self, digest_info: bytes) -> bytes:
        async with self._operation() as card:
            self._require_my_number(card)
            if not self._pin_verified:
                raise CardError(self.name, "signing needs a verified PIN", SW_SECURITY_NOT_SATISFIED)
            prefix = DIGEST_INFO_SHA256_PREFIX
            if len(digest_info) != len(prefix) + 32 or not digest_info.startswith(prefix):
                raise CardError(self.name, "the data to sign is not a SHA-256 DigestInfo", SW_WRONG_DATA)
            assert card.private_key is not None
            return card.private_key.sign(digest_info[len(prefix):], padding.PKCS1v15(), Prehashed(hashes.SHA256()))

    async def citizen_card_id(self) -> str:
        async with self._operation() as card:
            if card.kind is not CardKind.CITIZEN:
                raise CardError(self.name, "this is not a citizen card", SW_FILE_NOT_FOUND)
            return card.card_id

    # -- the world: placing and lifting cards ------------------------------------------------------------------

    async def place_card(self, card: str | SimCard) -> SimCard:
        """Put a card on the reader: a :class:`SimCard`, or the stem of a file in ``cards_dir``."""
        if isinstance(card, str):
            card = self._load(card)
        if self._card is not None:
            raise DeviceError(self.name, f"a card is already on the reader ({self._card.label})")
        self._card = card
        self._pin_verified = False
        if self._plugged_in:
            await self._emit(CardPlaced(self.name, card.kind))
        return card

    async def lift_card(self) -> None:
        """Take the card away (nothing happens if there is none)."""
        if self._card is None:
            return
        self._card = None
        self._pin_verified = False
        self._lift_armed = False
        if self._plugged_in:
            await self._emit(CardRemoved(self.name))

    def lift_during_next_operation(self) -> None:
        """Arm a lift: the next card command loses its card half-way and raises :class:`CardRemovedError`."""
        self._lift_armed = True

    def card(self) -> SimCard | None:
        """The card on the reader, as the world sees it (for tests; the kiosk uses the contract)."""
        return self._card

    def available_cards(self) -> list[str]:
        """The card names in ``cards_dir``."""
        if self.cards_dir is None or not self.cards_dir.is_dir():
            return []
        return sorted(p.stem for p in self.cards_dir.glob("*.json"))

    # -- the world: reader failures ----------------------------------------------------------------------------

    async def unplug(self) -> None:
        """The reader disappears (USB pulled, pcscd down): ``NO_READER``; a verified PIN is forgotten."""
        if self._plugged_in:
            self._plugged_in = False
            self._pin_verified = False
            await self._emit(ReaderStateChanged(self.name, ReaderState.NO_READER))

    async def plug_in(self) -> None:
        """The reader comes back; a card still lying on it is detected anew."""
        if not self._plugged_in:
            self._plugged_in = True
            await self._emit(ReaderStateChanged(self.name, self.state()))
            if self._card is not None:
                await self._emit(CardPlaced(self.name, self._card.kind))

    async def break_contact(self) -> None:
        """The reader answers but cannot talk to the card (``FAULT``) until :meth:`restore_contact`."""
        if not self._fault:
            self._fault = True
            self._pin_verified = False
            await self._emit(ReaderStateChanged(self.name, self.state()))

    async def restore_contact(self) -> None:
        if self._fault:
            self._fault = False
            await self._emit(ReaderStateChanged(self.name, self.state()))

    # -- inside --------------------------------------------------------------------------------------------------

    def _operation(self) -> _CardOperation:
        return _CardOperation(self)

    def _require_my_number(self, card: SimCard) -> None:
        if card.kind is not CardKind.MY_NUMBER:
            raise CardError(self.name, "the card has no JPKI application", SW_FILE_NOT_FOUND)

    def _remember(self, card: SimCard) -> None:
        if card.path is not None:
            try:
                card.save()
            except OSError as e:  # the chip kept the count; only our copy of it failed
                log.warning("%s: could not write the PIN counter back to the card file: %s", self.name, e)

    def _load(self, stem: str) -> SimCard:
        if self.cards_dir is None:
            raise DeviceError(self.name, "no cards directory is configured, so cards can only be placed as objects")
        if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
            raise DeviceError(self.name, f"not a card name: {stem!r}")
        path = self.cards_dir / f"{stem}.json"
        if not path.is_file():
            known = ", ".join(self.available_cards()) or "none"
            raise DeviceError(self.name, f"no card named {stem!r} in {self.cards_dir} (known: {known})")
        try:
            return SimCard.load(path)
        except ValueError as e:
            raise DeviceError(self.name, str(e)) from None

    async def _emit(self, event) -> None:
        await self._sink(event)


class _CardOperation:
    """One card command: waits its turn, checks the reader, lets the latency pass and honours an armed lift."""

    def __init__(self, reader: SimCardReader):
        self.reader = reader

    async def __aenter__(self) -> SimCard:
        r = self.reader
        await r._lock.acquire()
        try:
            self._check()
            if r.latency:
                await asyncio.sleep(r.latency)
                self._check()
            if r._lift_armed:
                await r.lift_card()
                raise CardRemovedError(r.name, "the card was lifted during the operation")
            assert r._card is not None
            return r._card
        except BaseException:
            r._lock.release()
            raise

    async def __aexit__(self, *exc) -> None:
        self.reader._lock.release()

    def _check(self) -> None:
        r = self.reader
        if not r._plugged_in:
            raise DeviceUnavailable(r.name, "no card reader")
        if r._fault:
            raise CardError(r.name, "the reader cannot talk to the card")
        if r._card is None:
            raise CardRemovedError(r.name, "no card on the reader")
