"""The kiosk↔server wire contract: paths, the sign-in message, and strict parsers for the server's replies.

The full contract, with every request, reply and error code, is written down in
``docs/kiosk-server-protocol.md``; the server's OpenAPI document is kept in ``docs/openapi.json``.
Both sides use these names and parsers so that they cannot drift apart.  A reply that does not parse raises
:class:`ProtocolError` with a message that says which field was wrong — never the field's value, which may be
personal data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from certs.catalog import CertificateType, IneligibleReason

API = "/v1"
PATH_HEALTH = f"{API}/health"
PATH_CHALLENGE = f"{API}/signin/challenge"
PATH_SIGNIN = f"{API}/signin"
PATH_SIGNOUT = f"{API}/signout"
PATH_MENU = f"{API}/menu"
PATH_QUOTES = f"{API}/quotes"
PATH_ISSUANCES = f"{API}/issuances"
PATH_TELEMETRY = f"{API}/telemetry"


def path_result(transaction_id: str) -> str:
    return f"{PATH_ISSUANCES}/{transaction_id}/result"


TRANSACTION_ID = re.compile(r"^[0-9a-f]{32}$")
SIGNIN_CONTEXT = b"KOFU-SIGNIN-1"


def signin_message(nonce: str, kiosk_id: str) -> bytes:
    """What the card signs to sign in: the server's nonce, bound to the kiosk it was issued to."""
    return SIGNIN_CONTEXT + b"|" + nonce.encode("ascii") + b"|" + kiosk_id.encode("utf-8")


class ResultOutcome:
    PRINTED = "printed"  # every page printed and presented
    PARTIALLY_PRINTED = "partially_printed"  # some pages printed; reprint owed at the counter
    REFUNDED = "refunded"  # nothing printed; the money went back (or is owed back)
    FAILED = "failed"  # nothing printed and the document was rejected (audit follows)
    ALL = frozenset({PRINTED, PARTIALLY_PRINTED, REFUNDED, FAILED})


class ProtocolError(Exception):
    """The server's reply is not what the contract promises."""


class ServerRefused(Exception):
    """The server answered with an error document (4xx): ``code`` is from the contract's error catalogue."""

    def __init__(self, status: int, code: str, message: str, detail: dict | None = None):
        super().__init__(f"server refused ({status} {code}): {message}")
        self.status = status
        self.code = code
        self.detail = detail or {}


def _field(data: Any, name: str, kind: type, where: str):
    if not isinstance(data, dict) or name not in data:
        raise ProtocolError(f"{where}: missing field {name!r}")
    value = data[name]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ProtocolError(f"{where}: field {name!r} should be {kind.__name__}")
    return value


def parse_error(status: int, data: Any) -> ServerRefused:
    try:
        err = _field(data, "error", dict, "error reply")
        return ServerRefused(status, _field(err, "code", str, "error reply"), _field(err, "message", str, "error"),
                             err.get("detail") if isinstance(err.get("detail"), dict) else None)
    except ProtocolError:
        return ServerRefused(status, "unknown", f"HTTP {status} without an error document")


@dataclass(frozen=True)
class Challenge:
    nonce: str
    expires_at: str

    @classmethod
    def parse(cls, data: Any) -> "Challenge":
        nonce = _field(data, "nonce", str, "challenge")
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", nonce):
            raise ProtocolError("challenge: nonce is not a URL-safe token")
        return cls(nonce, _field(data, "expires_at", str, "challenge"))


@dataclass(frozen=True)
class Session:
    token: str
    subject_ref: str
    expires_at: str

    @classmethod
    def parse(cls, data: Any) -> "Session":
        subject = _field(data, "subject_ref", str, "sign-in")
        if not re.fullmatch(r"[0-9a-z]{8,64}", subject):
            raise ProtocolError("sign-in: subject_ref is not an opaque reference")
        return cls(_field(data, "session_token", str, "sign-in"), subject, _field(data, "expires_at", str, "sign-in"))

    def __repr__(self) -> str:  # the token is a credential
        return f"Session(subject_ref={self.subject_ref!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class Offer:
    certificate: CertificateType
    available: bool
    reason: IneligibleReason | None
    fee: int
    max_copies: int
    options: tuple[str, ...]


def parse_menu(data: Any) -> list[Offer]:
    offers = []
    for raw in _field(data, "offers", list, "menu"):
        try:
            cert = CertificateType.parse(_field(raw, "certificate", str, "menu offer"))
            reason_code = raw.get("reason") if isinstance(raw, dict) else None
            reason = IneligibleReason(reason_code) if reason_code is not None else None
        except ValueError as exc:
            raise ProtocolError(f"menu offer: {exc}") from None
        fee = _field(raw, "fee", int, "menu offer")
        max_copies = _field(raw, "max_copies", int, "menu offer")
        available = _field(raw, "available", bool, "menu offer")
        if fee < 0 or max_copies < 0 or (available and reason is not None) or (not available and reason is None):
            raise ProtocolError("menu offer: fee, copies or availability are inconsistent")
        options = tuple(str(o) for o in _field(raw, "options", list, "menu offer"))
        offers.append(Offer(cert, available, reason, fee, max_copies, options))
    return offers


@dataclass(frozen=True)
class Quote:
    quote_id: str
    certificate: CertificateType
    copies: int
    fee_per_copy: int
    total_fee: int
    pages: int
    expires_at: str

    @classmethod
    def parse(cls, data: Any) -> "Quote":
        try:
            cert = CertificateType.parse(_field(data, "certificate", str, "quote"))
        except ValueError as exc:
            raise ProtocolError(f"quote: {exc}") from None
        quote = cls(_field(data, "quote_id", str, "quote"), cert, _field(data, "copies", int, "quote"),
                    _field(data, "fee_per_copy", int, "quote"), _field(data, "total_fee", int, "quote"),
                    _field(data, "pages", int, "quote"), _field(data, "expires_at", str, "quote"))
        if quote.copies < 1 or quote.fee_per_copy < 0 or quote.total_fee != quote.copies * quote.fee_per_copy \
                or quote.pages < 1:
            raise ProtocolError("quote: copies, fees or pages are inconsistent")
        return quote
