"""WireGuard keys as wg(8) writes them: X25519, 32 raw bytes, standard base64.  Shared by the kiosk's provisioning
(its key pair) and the server (its own key pair and the peers it lists)."""
from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

_RAW = serialization.Encoding.Raw


def new_private_key() -> str:
    """A new private key, base64 (what `wg genkey` prints)."""
    raw = X25519PrivateKey.generate().private_bytes(_RAW, serialization.PrivateFormat.Raw,
                                                    serialization.NoEncryption())
    return base64.b64encode(raw).decode("ascii")


def public_key(private_key: str) -> str:
    """The public key of a base64 private key (what `wg pubkey` prints)."""
    raw = base64.b64decode(private_key.strip(), validate=True)
    key = X25519PrivateKey.from_private_bytes(raw)
    return base64.b64encode(key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)).decode("ascii")
