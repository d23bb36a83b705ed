"""The enrolment payload: what `kiosk-server enrol-token` prints (as text and as a QR code) and the technician
types or scans into `kiosk-provision`.

    KEP1.<base64url of {"url", "ca", "kiosk", "token", "exp"}>

``url`` is the server's enrolment URL (https), ``ca`` the SHA-256 of the city CA's certificate (DER, 64 lower-case
hex digits: the kiosk trusts the CA the server shows only if it has this fingerprint), ``kiosk`` the kiosk id the
token is bound to, ``token`` the one-time token, ``exp`` its expiry (ISO-8601 with offset).  :func:`parse_payload`
checks all of it before anything goes on the network; its errors say what is wrong and what to do, and never
carry the token.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from certs.enrolment import KIOSK_ID, TOKEN

PREFIX = "KEP1."
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


class PayloadError(ValueError):
    """The payload cannot be used; the message says why and what to do (it never holds the token)."""


@dataclass(frozen=True)
class EnrolmentPayload:
    url: str
    ca_sha256: str
    kiosk_id: str
    token: str
    expires: datetime

    def __repr__(self) -> str:  # the token is a credential
        return f"EnrolmentPayload(url={self.url!r}, kiosk_id={self.kiosk_id!r}, expires={self.expires.isoformat()})"

    def text(self) -> str:
        body = {"url": self.url, "ca": self.ca_sha256, "kiosk": self.kiosk_id, "token": self.token,
                "exp": self.expires.isoformat()}
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse_payload(text: str, *, now: datetime | None = None, expected_kiosk_id: str | None = None) -> EnrolmentPayload:
    """The payload in ``text`` (whitespace and line breaks ignored), checked; raises :class:`PayloadError`."""
    compact = "".join(text.split())
    if not compact.startswith(PREFIX):
        raise PayloadError("this is not an enrolment payload (it starts with KEP1.): copy the whole text "
                           "`kiosk-server enrol-token` printed, or scan its QR code")
    encoded = compact[len(PREFIX):]
    try:
        body = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError):
        raise PayloadError("the enrolment payload is damaged (a character is missing or mistyped): "
                           "scan the QR code or copy the text again") from None
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("url", "ca", "kiosk", "token",
                                                                                      "exp")):
        raise PayloadError("the enrolment payload is incomplete: ask for a new one (kiosk-server enrol-token)")
    if not body["url"].startswith("https://"):
        raise PayloadError("the enrolment payload's server URL is not https://: ask for a new payload")
    if not FINGERPRINT.fullmatch(body["ca"]):
        raise PayloadError("the enrolment payload's CA fingerprint is not 64 hex digits: ask for a new payload")
    if not KIOSK_ID.fullmatch(body["kiosk"]):
        raise PayloadError("the enrolment payload's kiosk id is not a kiosk id: ask for a new payload")
    if not TOKEN.fullmatch(body["token"]):
        raise PayloadError("the enrolment payload's token is malformed: ask for a new payload")
    try:
        expires = datetime.fromisoformat(body["exp"])
    except ValueError:
        expires = None
    if expires is None or expires.tzinfo is None:
        raise PayloadError("the enrolment payload's expiry is not a time with its offset: ask for a new payload")
    now = now or datetime.now(timezone.utc)
    if expires <= now:
        raise PayloadError(f"this enrolment payload expired at {expires.isoformat()}: staff make a new one with "
                           f"`kiosk-server enrol-token --kiosk-id {body['kiosk']}`")
    if expected_kiosk_id is not None and body["kiosk"] != expected_kiosk_id:
        raise PayloadError(f"this enrolment payload is for {body['kiosk']}, but this kiosk is {expected_kiosk_id}: "
                           "use the payload made for this kiosk (its id is on the label)")
    return EnrolmentPayload(body["url"], body["ca"], body["kiosk"], body["token"], expires)
