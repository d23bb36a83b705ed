"""The chip of the virtual card: one command APDU in, one response APDU out.

Written from the published facts, not from the driver:

- JPKI AP ``D3 92 F0 00 26 01 00 00 00 01``; EF ``000A`` user-authentication certificate and ``000B`` its CA (no
  PIN), ``0018`` the 4-digit auth PIN (3 tries), ``0017`` the auth private key; the signature side: ``0001`` the
  signature certificate (readable only after the signature password), ``0002`` its CA (no PIN), ``001B`` the
  signature password (6-16 characters, 5 tries), ``001A`` the signature private key; ``0006`` the AP token.
  OpenSC's jpki driver reads both PIN counters when it binds (``pkcs15-jpki.c``), and the certificate sizes
  from their first 4 bytes (``card-jpki.c``); jpki/myna reads ``0001`` only after VERIFY of ``001B``.  A card
  issued without a signature certificate has no ``0001``/``0002``/``001A``, and its ``001B`` knows no password
  (the project's choice: no source says what such a card answers).  Reading ``0001`` without the signature
  password answers ISO 7816-4's ``69 82`` (security status not satisfied; the exact word is unverified).
- ``SELECT`` ``00 A4 04 0C`` by AID, ``00 A4 02 0C`` an EF of the selected AP; a name the card does not have: 6A82.
- ``READ BINARY`` ``00 B0 P1 P2 Le``: P1P2 is the offset.  Asking for more than is left gets ``6C xx`` (the exact
  length left), as ISO 7816-3 T=0 cards do.
- ``VERIFY`` ``00 20 00 80`` with no data: ``63 Cx``, x = tries left, nothing spent.  With 4 ASCII digits (the
  signature password: 6-16 ASCII characters): 9000 and the counter back to 3 (5), or ``63 Cx`` with one try fewer.
  Each PIN has its own counter and its own verified state, and a key signs only after its own PIN.  A blocked
  card answers every VERIFY with its ``blocked_sw`` and counts nothing: ``63 C0`` (default), or ``69 84`` /
  ``69 83``, the variants the facts leave open.  A wrong PIN withdraws an earlier right one.
- ``COMPUTE DIGITAL SIGNATURE`` ``80 2A 00 80 Lc data 00`` on EF 0017 (001A) after its PIN: the card pads the data
  (a DigestInfo) with PKCS#1 v1.5 type 1 itself and returns the 256-byte RSA result.  Without the PIN: 6982.
- A card may hand long answers out with ``61 xx`` + ``GET RESPONSE`` (``00 C0 00 00 xx``), the T=0 way
  (the ``chained`` variant).

The citizen card is the project's own application (no public standard covers municipal cards): AID
``F0 43 49 54 59 43 41 52 44`` (``F0`` = a proprietary, unregistered AID, then ASCII ``CITYCARD``), EF ``0001``
holding ``80 len <card number in ASCII>``, readable without a PIN.  A card of kind ``unknown`` has neither AP.
"""
from __future__ import annotations

import hmac
from collections import deque

from hal.card.contract import CardKind
from hal.card.sim import PIN_MAX_TRIES, SIGN_PIN_MAX_TRIES, SimCard

AID_JPKI = bytes.fromhex("D392F000260100000001")
AID_CITY = b"\xf0" + b"CITYCARD"
EF_AUTH_CERT, EF_AUTH_CA, EF_AUTH_KEY, EF_AUTH_PIN, EF_TOKEN = 0x000A, 0x000B, 0x0017, 0x0018, 0x0006
EF_SIGN_CERT, EF_SIGN_CA, EF_SIGN_KEY, EF_SIGN_PIN = 0x0001, 0x0002, 0x001A, 0x001B
KEY_PIN = {EF_AUTH_KEY: EF_AUTH_PIN, EF_SIGN_KEY: EF_SIGN_PIN}
"""Which PIN opens which key (and, for the signature certificate, which file)."""
PIN_LENGTHS = {EF_AUTH_PIN: (4, 4), EF_SIGN_PIN: (6, 16)}
EF_CARD_NUMBER = 0x0001

ATR_JPKI_CONTACT = bytes.fromhex("3BE000FF8131FE4514")  # the contact ATR OpenSC lists for this card


def contactless_atr(historical: bytes) -> bytes:
    """The ATR a PC/SC contactless reader builds for an ISO 14443-4 card: 3B 8n 80 01 <historical> TCK."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


def sw(word: int) -> bytes:
    return word.to_bytes(2, "big")


OK = sw(0x9000)


class Command:
    """A parsed command APDU (short or extended), or ``wrong_length`` when its body does not add up."""

    def __init__(self, apdu: bytes):
        self.cla, self.ins, self.p1, self.p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        self.data = b""
        self.le: int | None = None
        self.wrong_length = False
        body = apdu[4:]
        if not body:
            return
        if len(body) == 1:
            self.le = body[0] or 256
        elif body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                self.data = body[1:]
            elif len(body) == 2 + lc:
                self.data, self.le = body[1:-1], body[-1] or 256
            else:
                self.wrong_length = True
        elif len(body) == 3:
            self.le = int.from_bytes(body[1:3], "big") or 65536
        else:
            lc = int.from_bytes(body[1:3], "big")
            if lc and len(body) == 3 + lc:
                self.data = body[3:]
            elif lc and len(body) == 5 + lc:
                self.data, self.le = body[3:-2], int.from_bytes(body[-2:], "big") or 65536
            else:
                self.wrong_length = True


BLOCKED_ANSWERS = (0x63C0, 0x6983, 0x6984)


class VirtualCard:
    """One card's chip.  ``blocked_sw`` is what any VERIFY answers on a blocked card (see the module docstring);
    ``chained`` makes long answers come out through ``61 xx`` / GET RESPONSE; ``atr`` replaces the card's ATR.

    :attr:`journal` keeps the header of every command received, ``(CLA, INS, P1, P2, Lc, Le)``, never its data.
    """

    def __init__(self, card: SimCard, blocked_sw: int = 0x63C0, chained: bool = False, atr: bytes | None = None):
        if blocked_sw not in BLOCKED_ANSWERS:
            raise ValueError("a blocked PIN answers 63C0, 6983 or 6984")
        self.card = card
        self.blocked_sw = blocked_sw
        self.chained = chained
        self._atr = atr
        self.commands = 0
        self.journal: deque[tuple[int, int, int, int, int, int | None]] = deque(maxlen=1000)
        self.power_on()

    def __repr__(self) -> str:
        return f"VirtualCard({self.card.kind.value}, {self.card.label!r})"

    def atr(self) -> bytes:
        if self._atr is not None:
            return self._atr
        if self.card.kind is CardKind.MY_NUMBER:
            return ATR_JPKI_CONTACT
        return contactless_atr(b"CITYCARD" if self.card.kind is CardKind.CITIZEN else b"TRANSIT1")

    def power_on(self) -> None:
        """A new card session: nothing selected, no PIN verified, no pending answer."""
        self._ap: bytes | None = None
        self._ef: int | None = None
        self._verified: set[int] = set()  # the PIN EFs verified in this session
        self._pending = b""

    # -- the files ---------------------------------------------------------------------------------------------

    def _aps(self) -> dict[bytes, dict[int, str]]:
        if self.card.kind is CardKind.MY_NUMBER:
            files = {EF_AUTH_CERT: "binary", EF_AUTH_CA: "binary", EF_TOKEN: "binary",
                     EF_AUTH_KEY: "key", EF_AUTH_PIN: "pin", EF_SIGN_PIN: "pin"}
            if self.card.has_signature_side:
                files.update({EF_SIGN_CERT: "binary", EF_SIGN_CA: "binary", EF_SIGN_KEY: "key"})
            return {AID_JPKI: files}
        if self.card.kind is CardKind.CITIZEN:
            return {AID_CITY: {EF_CARD_NUMBER: "binary"}}
        return {}

    def _binary(self, ef: int) -> bytes:
        if self._ap == AID_CITY and ef == EF_CARD_NUMBER:
            number = self.card.card_id.encode("ascii")
            return bytes([0x80, len(number)]) + number
        if ef == EF_AUTH_CERT:
            return self.card.certificate
        if ef == EF_TOKEN:
            return b"JPKIAPICCTOKEN2".ljust(32, b"\x00")
        if ef in (EF_SIGN_CERT, EF_SIGN_CA):
            return self.card.sign_certificate  # self-signed, like the auth side: its CA is itself
        return self.card.certificate  # EF 000B: the test cards are self-signed, their CA is themselves

    # -- commands ----------------------------------------------------------------------------------------------

    def process(self, apdu: bytes) -> bytes:
        """Answer one command APDU."""
        self.commands += 1
        if len(apdu) < 4:
            return sw(0x6700)
        c = Command(apdu)
        self.journal.append((c.cla, c.ins, c.p1, c.p2, len(c.data), c.le))
        if c.wrong_length:
            return sw(0x6700)
        if c.ins == 0xC0 and c.cla == 0x00:
            return self._get_response(c)
        self._pending = b""
        if c.cla == 0x00 and c.ins == 0xA4:
            return self._select(c)
        if c.cla == 0x00 and c.ins == 0xB0:
            return self._read_binary(c)
        if c.cla == 0x00 and c.ins == 0x20:
            return self._verify(c)
        if c.cla == 0x80 and c.ins == 0x2A:
            return self._sign(c)
        if c.cla not in (0x00, 0x80):
            return sw(0x6E00)
        return sw(0x6D00)

    def _answer(self, data: bytes) -> bytes:
        if self.chained and len(data) > 0:
            self._pending = data
            return bytes([0x61, min(len(data), 256) & 0xFF])
        return data + OK

    def _get_response(self, c: Command) -> bytes:
        if not self._pending:
            return sw(0x6985)
        want = c.le or 256
        if want > len(self._pending):
            return bytes([0x6C, len(self._pending) & 0xFF])
        out, self._pending = self._pending[:want], self._pending[want:]
        if self._pending:
            return out + bytes([0x61, min(len(self._pending), 256) & 0xFF])
        return out + OK

    def _select(self, c: Command) -> bytes:
        aps = self._aps()
        if c.p1 == 0x04:
            if c.data not in aps:
                return sw(0x6A82)
            self._ap, self._ef = c.data, None
            self._verified.clear()
            return OK
        if c.p1 == 0x02:
            if len(c.data) != 2:
                return sw(0x6700)
            if self._ap is None:
                return sw(0x6A82)
            ef = int.from_bytes(c.data, "big")
            if ef not in aps[self._ap]:
                return sw(0x6A82)
            self._ef = ef
            return OK
        return sw(0x6A86)

    def _current(self) -> str | None:
        if self._ap is None or self._ef is None:
            return None
        return self._aps()[self._ap][self._ef]

    def _read_binary(self, c: Command) -> bytes:
        if self._current() != "binary":
            return sw(0x6986)  # no current EF, or one that cannot be read
        if c.p1 & 0x80:
            return sw(0x6A86)  # short-EF addressing: not on this card
        if self._ap == AID_JPKI and self._ef == EF_SIGN_CERT and EF_SIGN_PIN not in self._verified:
            return sw(0x6982)
        content = self._binary(self._ef)
        offset = (c.p1 << 8) | c.p2
        if offset >= len(content):
            return sw(0x6B00)
        want, left = c.le or 256, len(content) - offset
        if want > left:
            return bytes([0x6C, left & 0xFF])
        return self._answer(content[offset:offset + want])

    def _verify(self, c: Command) -> bytes:
        if c.p1 != 0x00 or c.p2 != 0x80:
            return sw(0x6A86)
        if self._current() != "pin":
            return sw(0x6986)
        sign = self._ef == EF_SIGN_PIN
        card = self.card
        tries = max(card.sign_tries_left if sign else card.tries_left, 0)
        if tries == 0:
            return sw(self.blocked_sw)
        if not c.data:
            return sw(0x63C0 | tries)
        shortest, longest = PIN_LENGTHS[self._ef]
        if not shortest <= len(c.data) <= longest:
            return sw(0x6700)
        secret = card.sign_pin if sign else card.pin
        right = bool(secret) and hmac.compare_digest(bytes(c.data), secret.encode("ascii"))
        left = (SIGN_PIN_MAX_TRIES if sign else PIN_MAX_TRIES) if right else tries - 1
        if sign:
            card.sign_tries_left = left
        else:
            card.tries_left = left
        if right:
            self._verified.add(self._ef)
        else:
            self._verified.discard(self._ef)
        self._persist()
        return OK if right else sw(0x63C0 | left)

    def _sign(self, c: Command) -> bytes:
        if c.p1 != 0x00 or c.p2 != 0x80:
            return sw(0x6A86)
        if self._current() != "key":
            return sw(0x6986)
        if KEY_PIN[self._ef] not in self._verified:
            return sw(0x6982)
        key = self.card.sign_key if self._ef == EF_SIGN_KEY else self.card.private_key
        k = (key.key_size + 7) // 8
        if not c.data or len(c.data) > k - 11:
            return sw(0x6700)
        block = b"\x00\x01" + b"\xff" * (k - 3 - len(c.data)) + b"\x00" + bytes(c.data)
        n = key.private_numbers()  # the raw RSA private operation, by the Chinese remainder theorem
        m = int.from_bytes(block, "big")
        s1, s2 = pow(m, n.dmp1, n.p), pow(m, n.dmq1, n.q)
        signature = s2 + n.q * ((n.iqmp * (s1 - s2)) % n.p)
        return self._answer(signature.to_bytes(k, "big"))

    def _persist(self) -> None:
        if self.card.path is not None:
            try:
                self.card.save()
            except OSError:
                pass  # the chip keeps the count; only the file copy of it is stale

    # -- for the world side --------------------------------------------------------------------------------------

    @property
    def tries_left(self) -> int:
        return self.card.tries_left

    @property
    def sign_tries_left(self) -> int:
        return self.card.sign_tries_left
