"""The refund slip's signed code: what its QR carries, and how the counter checks it (kiosk and server share it).

When the kiosk owes a resident money it cannot pay out, it prints a refund slip whose QR code carries::

    KRS1.<base64url payload>.<base64url signature>

The payload is compact JSON (sorted keys, no spaces) naming the transaction ``t``, the amount in yen ``a``, the
kiosk ``k``, the issue time in UTC ``i`` (``YYYY-MM-DDTHH:MM:SSZ``), the reference ``r`` and the version ``v``;
nothing about the resident.  The kiosk signs ``DOMAIN + payload`` with its device key (the mTLS client key, so the
counter checks it with the kiosk's certificate): ECDSA (P-256 with SHA-256, P-384 with SHA-384) as raw r‖s, or
RSA-PSS with SHA-256.  The domain string keeps a slip signature from ever standing for anything else the key signs.

The reference is derived from the transaction id alone (:func:`reference_for`), so the server finds a refund by
the reference a resident reads out: 12 characters of an alphabet without 0/O, 1/I (``K7QM-4TXA-9PRC``), the
first always a letter, grouped by four.  It passes the kiosk journal's id rules.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

PREFIX = "KRS1."
VERSION = 1
DOMAIN = b"kiosk-refund-slip/1\x00"
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: no 0, 1, I, O
LETTERS = ALPHABET[8:]
REFERENCE = re.compile(rf"^[{LETTERS}][{ALPHABET}]{{3}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")
_REF_DOMAIN = b"kiosk-refund-reference/1\x00"
_TXN = re.compile(r"^[0-9a-f]{32}$")
_KIOSK = re.compile(r"^kiosk-[A-Za-z0-9-]{1,58}$")
_TIME = "%Y-%m-%dT%H:%M:%SZ"
_MAX_AMOUNT = 10**7  # far above any fee a kiosk takes


class SlipInvalid(Exception):
    """The text is not a well-formed slip code, or its signature does not verify; the message says which."""


def reference_for(transaction_id: str) -> str:
    """The slip's human reference for a transaction (deterministic: the server derives the same)."""
    if not _TXN.fullmatch(transaction_id):
        raise ValueError("transaction ids are 32 lowercase hex digits")
    digest = hashlib.sha256(_REF_DOMAIN + bytes.fromhex(transaction_id)).digest()
    bits = int.from_bytes(digest[1:8], "big")  # 56 bits for the 11 characters after the first
    chars = [LETTERS[digest[0] % len(LETTERS)]]
    chars += [ALPHABET[(bits >> (5 * n)) & 31] for n in range(10, -1, -1)]
    text = "".join(chars)
    return f"{text[:4]}-{text[4:8]}-{text[8:]}"


def normalise_reference(text: str) -> str:
    """A reference as someone typed it (any case, spaces or hyphens anywhere) in its printed form; ValueError if it
    cannot be one."""
    compact = re.sub(r"[\s-]", "", text or "").upper()
    candidate = f"{compact[:4]}-{compact[4:8]}-{compact[8:]}"
    if len(compact) != 12 or not REFERENCE.fullmatch(candidate):
        raise ValueError("a slip reference is 12 characters like K7QM-4TXA-9PRC (no 0, 1, I or O)")
    return candidate


@dataclass(frozen=True)
class SlipPayload:
    transaction_id: str
    amount: int
    kiosk_id: str
    issued_at: datetime  # aware, UTC, whole seconds
    reference: str

    def __post_init__(self):
        if not _TXN.fullmatch(self.transaction_id):
            raise ValueError("transaction ids are 32 lowercase hex digits")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or not 0 < self.amount < _MAX_AMOUNT:
            raise ValueError("a refund is a positive whole number of yen")
        if not _KIOSK.fullmatch(self.kiosk_id):
            raise ValueError("a kiosk id is 'kiosk-' followed by 1-58 letters, digits or '-'")
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")
        if self.reference != reference_for(self.transaction_id):
            raise ValueError("the reference is not the transaction's")

    def payload(self) -> bytes:
        fields = {"a": self.amount, "i": self.issued_at.astimezone(timezone.utc).strftime(_TIME),
                  "k": self.kiosk_id, "r": self.reference, "t": self.transaction_id, "v": VERSION}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _ec_hash(curve: ec.EllipticCurve) -> hashes.HashAlgorithm:
    return hashes.SHA384() if curve.key_size > 256 else hashes.SHA256()


def sign_payload(payload: bytes, key) -> bytes:
    """The signature of ``DOMAIN + payload`` with the kiosk's device key (EC or RSA)."""
    message = DOMAIN + payload
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(_ec_hash(key.curve))))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    raise TypeError("the device key must be an EC or RSA private key")


def encode(fields: SlipPayload, key) -> str:
    """The text of the slip's QR code."""
    payload = fields.payload()
    return PREFIX + _b64(payload) + "." + _b64(sign_payload(payload, key))


def _parse_fields(payload: bytes) -> SlipPayload:
    data = json.loads(payload.decode("ascii"))
    if not isinstance(data, dict) or set(data) != {"a", "i", "k", "r", "t", "v"}:
        raise ValueError("unexpected fields")
    if data["v"] != VERSION:
        raise ValueError(f"unknown slip version {data['v']!r}")
    issued = datetime.strptime(data["i"], _TIME).replace(tzinfo=timezone.utc)
    return SlipPayload(data["t"], data["a"], data["k"], issued, data["r"])


def parse(text: str) -> tuple[SlipPayload, bytes, bytes]:
    """(fields, signed payload, signature) of a slip code, signature NOT checked; SlipInvalid if malformed."""
    if not isinstance(text, str) or not text.strip().startswith(PREFIX):
        raise SlipInvalid("not a refund slip code (it does not start with KRS1.)")
    parts = text.strip()[len(PREFIX):].split(".")
    try:
        if len(parts) != 2:
            raise ValueError("expected payload.signature")
        payload, signature = _unb64(parts[0]), _unb64(parts[1])
        return _parse_fields(payload), payload, signature
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as exc:
        raise SlipInvalid(f"the slip code is not well formed ({exc})") from None


def signature_valid(payload: bytes, signature: bytes, public_key) -> bool:
    message = DOMAIN + payload
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            size = (public_key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
            public_key.verify(der, message, ec.ECDSA(_ec_hash(public_key.curve)))
            return True
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    return False


def verify(text: str, certificate: x509.Certificate) -> SlipPayload:
    """The slip's fields if ``certificate`` (the kiosk's, CN = its kiosk id) signed it; SlipInvalid otherwise."""
    fields, payload, signature = parse(text)
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != fields.kiosk_id:
        raise SlipInvalid(f"the certificate is not {fields.kiosk_id}'s")
    if not signature_valid(payload, signature, certificate.public_key()):
        raise SlipInvalid(f"the signature does not match the slip's contents: altered, or not signed by "
                          f"{fields.kiosk_id}")
    return fields
