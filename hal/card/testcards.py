"""Make simulated cards: a My Number card with a fresh RSA-2048 key and a self-made certificate, or a citizen card.

The card file format (what ``kiosk-server devinit`` writes into the cards directory, one JSON file per card, the
file name stem being the card's name)::

    {"kind": "my_number", "label": "resident A", "pin": "1234", "tries_left": 3,
     "certificate": "<base64 DER>", "private_key": "<PKCS8 PEM, RSA-2048>", "sign_tries_left": 5,
     "sign_pin": "ABC123", "sign_certificate": "<base64 DER>", "sign_private_key": "<PKCS8 PEM, RSA-2048>"}
    {"kind": "citizen", "label": "resident B", "card_id": "C0000001"}
    {"kind": "unknown", "label": "a transit card"}

The ``sign_*`` entries are the signature side of the JPKI AP (EF 0001/001A/001B); a card without
``sign_private_key`` was issued without a signature certificate.

The certificates made here are self-signed and stand in for the JPKI certificates only as far as the card is
concerned (their public keys verify the card's signatures); the reference server issues real test chains of its
own.
"""
from __future__ import annotations

import datetime
import functools
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from hal.card.contract import CardKind
from hal.card.sim import PIN_MAX_TRIES, SIGN_PIN_MAX_TRIES, SimCard


def new_card_key() -> rsa.RSAPrivateKey:
    """A fresh RSA-2048 key, the size of the JPKI authentication key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.lru_cache(maxsize=1)
def shared_test_key() -> rsa.RSAPrivateKey:
    """One RSA-2048 key per process, for tests that make many cards and do not care that they share a key."""
    return new_card_key()


@functools.lru_cache(maxsize=1)
def shared_sign_test_key() -> rsa.RSAPrivateKey:
    """The signature-side twin of :func:`shared_test_key` (a real card's two keys differ)."""
    return new_card_key()


def self_signed_certificate(key: rsa.RSAPrivateKey, common_name: str) -> bytes:
    """A DER certificate for ``key``'s public key, signed by ``key`` itself."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * 5))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


def make_test_card(label: str = "test resident", pin: str = "1234", tries_left: int = PIN_MAX_TRIES,
                   key: rsa.RSAPrivateKey | None = None, certificate: bytes | None = None,
                   sign_pin: str | None = None, sign_tries_left: int = SIGN_PIN_MAX_TRIES) -> SimCard:
    """A My Number card with a JPKI key and certificate.

    Without ``key`` the card gets :func:`shared_test_key` (fast); pass :func:`new_card_key` for a card of its own.
    With ``sign_pin`` (6-16 upper-case letters and digits) it also carries a signature key and certificate
    (:func:`shared_sign_test_key`); without, it was issued with none.
    """
    if sign_pin is not None and not (6 <= len(sign_pin) <= 16 and sign_pin.isascii() and sign_pin.isalnum()
                                     and sign_pin == sign_pin.upper()):
        raise ValueError("the JPKI signature password is 6-16 upper-case letters and digits")
    if not 0 <= sign_tries_left <= SIGN_PIN_MAX_TRIES:
        raise ValueError(f"sign_tries_left must be between 0 and {SIGN_PIN_MAX_TRIES}")
    if len(pin) != 4 or not pin.isdigit():
        raise ValueError("the JPKI authentication PIN is 4 digits")
    if not 0 <= tries_left <= PIN_MAX_TRIES:
        raise ValueError(f"tries_left must be between 0 and {PIN_MAX_TRIES}")
    key = key or shared_test_key()
    if certificate is None:
        certificate = self_signed_certificate(key, f"JPKI test card {label}")
    card = SimCard(CardKind.MY_NUMBER, label, pin=pin, tries_left=tries_left, certificate=certificate,
                   private_key=key, sign_tries_left=sign_tries_left)
    if sign_pin is not None:
        card.sign_pin, card.sign_key = sign_pin, shared_sign_test_key()
        card.sign_certificate = self_signed_certificate(card.sign_key, f"JPKI test signature {label}")
    return card


def make_citizen_card(card_id: str = "C0000001", label: str = "test citizen") -> SimCard:
    return SimCard(CardKind.CITIZEN, label, card_id=card_id)


def make_unknown_card(label: str = "transit card") -> SimCard:
    """A card that is neither a My Number card nor a citizen card."""
    return SimCard(CardKind.UNKNOWN, label)


def write_card_file(card: SimCard, cards_dir: str | os.PathLike, stem: str) -> Path:
    """Write ``card`` as ``cards_dir/stem.json`` and bind it to that file (its PIN counter persists there)."""
    path = Path(cards_dir) / f"{stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    card.save(path)
    return path
