"""The card applications the kiosk uses, spoken over any APDU transport: JPKI on the My Number card, and the
municipal citizen card's card-number application.

JPKI (facts and sources: the shared ``device-protocols.md`` §1; OpenSC ``card-jpki.c``, jpki/myna):

- ``SELECT`` the AP by AID ``D3 92 F0 00 26 01 00 00 00 01`` (``00 A4 04 0C``), never by ATR: contactless readers
  make up their own ATR.
- The user-authentication certificate is EF ``000A`` (no PIN): read 4 bytes, take the length from the DER header
  (``30 82 LL LL``), then read the rest in chunks of at most 256 bytes at P1P2 offsets.
- The auth PIN is EF ``0018``: ``VERIFY 00 20 00 80`` with no data answers ``63 Cx`` (x tries left) and spends
  nothing; with 4 ASCII digits it answers 9000 or ``63 Cx``.  ``63 C0``, ``69 83`` and ``69 84`` mean blocked.
- The auth key is EF ``0017``: ``80 2A 00 80 Lc <DigestInfo> 00``; the card adds PKCS#1 v1.5 padding and returns the
  256-byte RSA-2048 signature.  Order as OpenSC: VERIFY, SELECT 0017, sign, with no AP re-select in between.

The citizen card: no public standard describes municipal cards, so the project defines a minimal application and
its virtual card (``hal/card/vcard``) plays it: AID ``F0 43 49 54 59 43 41 52 44`` (``F0`` = proprietary,
unregistered; then ASCII ``CITYCARD``), EF ``0001`` with ``80 len <card number, ASCII letters and digits>``, read
without a PIN.  A real municipality's card needs only these two constants and :func:`parse_card_number` adapted.

The PIN: the VERIFY command is built in a ``bytearray`` that is wiped as soon as the card has answered; no error
message or ``repr`` here carries command data.
"""
from __future__ import annotations

from hal.card.apdu import (
    SW_AUTH_METHOD_BLOCKED, SW_COMMAND_NOT_ALLOWED, SW_EOF_WARNING, SW_FILE_NOT_FOUND, SW_OK,
    SW_REFERENCE_DATA_UNUSABLE, SW_SECURITY_NOT_SATISFIED, SW_WRONG_LENGTH, Command, Response, Transmit, exchange,
    pin_tries_from, wipe,
)
from hal.card.contract import (
    DIGEST_INFO_SHA256_PREFIX, CardError, CardKind, Pin, PinBlockedError, PinResult,
)

JPKI_AID = bytes.fromhex("D392F000260100000001")
CITIZEN_AID = b"\xf0" + b"CITYCARD"
EF_AUTH_CERTIFICATE = 0x000A
EF_AUTH_KEY = 0x0017
EF_AUTH_PIN = 0x0018
EF_CARD_NUMBER = 0x0001
AUTH_PIN_MAX_TRIES = 3
SIGNATURE_LENGTH = 256  # RSA-2048
MAX_CERTIFICATE = 16384
BLOCKED_SWS = (0x63C0, SW_AUTH_METHOD_BLOCKED, SW_REFERENCE_DATA_UNUSABLE)

_MEANINGS = {
    SW_FILE_NOT_FOUND: "not on this card",
    SW_SECURITY_NOT_SATISFIED: "the PIN has not been verified in this card session",
    SW_COMMAND_NOT_ALLOWED: "the card does not allow it now",
    SW_WRONG_LENGTH: "the card refused the length",
    0x6A86: "the card refused the parameters",
    0x6B00: "outside the file",
    0x6D00: "the card does not know the command",
    0x6E00: "the card does not know the command class",
    0x6985: "the card's conditions are not met",
    0x6A80: "the card refused the data",
    0x6F00: "the card failed",
}


def card_error(device: str, doing: str, sw: int) -> CardError:
    """The contract's error for a status word (blocked PINs become :class:`PinBlockedError`)."""
    if sw in BLOCKED_SWS:
        return PinBlockedError(device, f"{doing}: the PIN is blocked", sw)
    return CardError(device, f"{doing}: {_MEANINGS.get(sw, 'the card refused')}", sw)


def der_total_length(head: bytes) -> int | None:
    """The whole length of a DER SEQUENCE from its first bytes (tag 30 + length), or None if they are not one."""
    if len(head) < 2 or head[0] != 0x30:
        return None
    first = head[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 3 or len(head) < 2 + count:
        return None
    return 2 + count + int.from_bytes(head[2:2 + count], "big")


def parse_card_number(data: bytes) -> str | None:
    """``80 len <ASCII letters and digits>`` → the card number, or None when the file does not hold one."""
    if len(data) < 3 or data[0] != 0x80 or data[1] < 1 or data[1] > 32 or len(data) < 2 + data[1]:
        return None
    number = data[2:2 + data[1]]
    if not (number.isascii() and number.isalnum()):
        return None
    return number.decode("ascii")


class CardApplications:
    """One card session's applications.  Every method sends APDUs through ``transmit`` (a blocking call: the
    reader driver runs these in a worker thread) and raises the contract's errors."""

    def __init__(self, device: str, transmit: Transmit, read_chunk: int = 256):
        if not 1 <= read_chunk <= 256:
            raise ValueError("read_chunk must be 1..256 (short APDUs)")
        self.device = device
        self._transmit = transmit
        self.read_chunk = read_chunk
        self._selected: bytes | None = None

    def __repr__(self) -> str:
        return f"CardApplications({self.device!r})"

    # -- identification ------------------------------------------------------------------------------------------

    def identify(self) -> CardKind:
        """Which card this is, by the applications it answers to (SELECT by AID, not the ATR)."""
        if self._try_select(JPKI_AID):
            return CardKind.MY_NUMBER
        if self._try_select(CITIZEN_AID):
            return CardKind.CITIZEN
        return CardKind.UNKNOWN

    # -- JPKI ----------------------------------------------------------------------------------------------------

    def read_auth_certificate(self) -> bytes:
        self._select_ap(JPKI_AID, "reading the certificate")
        self._select_ef(EF_AUTH_CERTIFICATE, "reading the certificate")
        head = self._read(0, 4, "reading the certificate")
        total = der_total_length(head)
        if total is None or total < len(head) or total > MAX_CERTIFICATE:
            raise CardError(self.device, "reading the certificate: EF 000A does not start with a DER certificate")
        data = bytearray(head[:total])
        while len(data) < total:
            want = min(self.read_chunk, total - len(data))
            chunk = self._read(len(data), want, "reading the certificate")
            data += chunk
        return bytes(data)

    def pin_tries_left(self) -> int:
        """VERIFY with no data: the card says how many tries are left and spends none."""
        return self._tries()[0]

    def _tries(self) -> tuple[int, int]:
        """(tries left, the status word that told)."""
        self._select_ap(JPKI_AID, "reading the PIN counter")
        self._select_ef(EF_AUTH_PIN, "reading the PIN counter")
        response = self._send(Command(0x00, 0x20, 0x00, 0x80))
        tries = pin_tries_from(response.sw)
        if tries is not None:
            return tries, response.sw
        if response.sw in BLOCKED_SWS:
            return 0, response.sw
        if response.sw == SW_OK:  # already verified in this session: a right PIN resets the counter
            return AUTH_PIN_MAX_TRIES, response.sw
        raise card_error(self.device, "reading the PIN counter", response.sw)

    def verify_pin(self, pin: Pin) -> PinResult:
        """Present the PIN once.  A card already blocked is never sent the PIN."""
        tries, sw = self._tries()
        if tries == 0:
            raise PinBlockedError(self.device, "the PIN is blocked", sw)
        buffer, digits = bytearray(), pin.copy_into(bytearray())
        try:
            response = exchange(self._transmit, Command(0x00, 0x20, 0x00, 0x80, digits), buffer)
        finally:
            wipe(buffer)
            wipe(digits)
        if response.sw == SW_OK:
            return PinResult(accepted=True, tries_left=AUTH_PIN_MAX_TRIES)
        tries = pin_tries_from(response.sw)
        if tries is not None:
            return PinResult(accepted=False, tries_left=tries)
        raise card_error(self.device, "verifying the PIN", response.sw)

    def sign(self, digest_info: bytes) -> bytes:
        """COMPUTE DIGITAL SIGNATURE over a SHA-256 DigestInfo with the authentication key."""
        prefix = DIGEST_INFO_SHA256_PREFIX
        if len(digest_info) != len(prefix) + 32 or not bytes(digest_info).startswith(prefix):
            raise CardError(self.device, "signing: the data is not a SHA-256 DigestInfo")
        self._select_ap(JPKI_AID, "signing")
        self._select_ef(EF_AUTH_KEY, "signing")
        response = self._send(Command(0x80, 0x2A, 0x00, 0x80, bytes(digest_info), le=256))
        if response.sw != SW_OK:
            raise card_error(self.device, "signing", response.sw)
        if len(response.data) != SIGNATURE_LENGTH:
            raise CardError(self.device, f"signing: the card returned {len(response.data)} bytes, "
                                         f"not a {SIGNATURE_LENGTH}-byte signature")
        return response.data

    # -- the citizen card ----------------------------------------------------------------------------------------

    def citizen_card_id(self) -> str:
        self._select_ap(CITIZEN_AID, "reading the citizen card number")
        self._select_ef(EF_CARD_NUMBER, "reading the citizen card number")
        response = self._send(Command(0x00, 0xB0, 0x00, 0x00, le=256))
        if response.sw not in (SW_OK, SW_EOF_WARNING):
            raise card_error(self.device, "reading the citizen card number", response.sw)
        number = parse_card_number(response.data)
        if number is None:
            raise CardError(self.device, "reading the citizen card number: the file does not hold one")
        return number

    # -- inside --------------------------------------------------------------------------------------------------

    def _send(self, command: Command) -> Response:
        return exchange(self._transmit, command)

    def _try_select(self, aid: bytes) -> bool:
        response = self._send(Command(0x00, 0xA4, 0x04, 0x0C, aid))
        self._selected = aid if response.sw == SW_OK else None
        return response.sw == SW_OK

    def _select_ap(self, aid: bytes, doing: str) -> None:
        if self._selected == aid:
            return  # re-selecting might drop a verified PIN: keep OpenSC's order
        if not self._try_select(aid):
            what = "the JPKI application" if aid == JPKI_AID else "the citizen card application"
            raise CardError(self.device, f"{doing}: {what} is not on this card", SW_FILE_NOT_FOUND)

    def _select_ef(self, fid: int, doing: str) -> None:
        response = self._send(Command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        if response.sw != SW_OK:
            raise card_error(self.device, f"{doing} (EF {fid:04X})", response.sw)

    def _read(self, offset: int, length: int, doing: str) -> bytes:
        if offset > 0x7FFF:
            raise CardError(self.device, f"{doing}: offset {offset} is beyond READ BINARY's reach")
        response = self._send(Command(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length))
        if response.sw not in (SW_OK, SW_EOF_WARNING):
            raise card_error(self.device, doing, response.sw)
        if not response.data or len(response.data) > length:
            raise CardError(self.device, f"{doing}: the card returned {len(response.data)} bytes for {length}")
        return response.data
