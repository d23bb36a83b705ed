"""The kiosk↔server wire contract: paths, the sign-in message, and strict parsers for the server's replies.

The full contract, with every request, reply and error code, is written down in
``docs/kiosk-server-protocol.md``; the server's OpenAPI document is kept in ``docs/openapi.json``.
Both sides use these names and parsers so that they cannot drift apart.  A reply that does not parse raises
:class:`ProtocolError` with a message that says which field was wrong — never the field's value, which may be
personal data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from certs.catalog import CertificateType, IneligibleReason
from certs.services import DocumentKind, Form, Payment

API = "/v1"
PATH_HEALTH = f"{API}/health"
PATH_CHALLENGE = f"{API}/signin/challenge"
PATH_SIGNIN = f"{API}/signin"
PATH_SIGNOUT = f"{API}/signout"
PATH_MENU = f"{API}/menu"
PATH_QUOTES = f"{API}/quotes"
PATH_ISSUANCES = f"{API}/issuances"
PATH_TELEMETRY = f"{API}/telemetry"
PATH_APPLICATIONS = f"{API}/applications"  # e-applications (電子申請): the intake, idempotent by transaction id
PATH_APPLICATION_FORMS = f"{PATH_APPLICATIONS}/forms"
PATH_APPLICATION_QUOTES = f"{PATH_APPLICATIONS}/quotes"

PROTOCOL_VERSIONS = (1, 2)
"""Version 2 (docs/kiosk-server-protocol.md, "Protocol version 2: fewer round trips") keeps every version-1 call
and adds one: ``POST /v2/signin`` answers the session and the menu together."""
PATH_SIGNIN_V2 = "/v2/signin"


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
    ORDER = (PRINTED, PARTIALLY_PRINTED, REFUNDED, FAILED)
    ALL = frozenset(ORDER)


_VISIT_STATES = ("idle", "out_of_service", "reading", "pin", "menu", "options", "confirm", "paying", "issuing",
                 "printing", "return_card", "take_items")
RESULT_REASONS = (
    "cancelled",  # the resident cancelled before anything printed
    "timed_out",  # the resident walked away (inactivity) before anything printed
    *(f"timeout_{state}" for state in _VISIT_STATES),  # a step did not finish in time in that state
    "cash_device",  # a note or coin device failed: the money was refunded
    "server_unavailable_refunded",  # the issuance could not be fetched: refunded
    "server",  # the server refused the issuance (its code is in the kiosk's audit log)
    "server_protocol_error",  # the server's reply broke the contract
    "document_rejected",  # the documents failed the kiosk's checks (outcome failed)
    "print_failed",  # the printer failed before the first page
    "door_open",  # the service door opened during the visit
    "internal_error",  # a fault of the kiosk's own software
    "controller_fault",  # the visit's controller stopped and settled the money as a last resort
    "other",  # a reason this list does not name (a kiosk sends it rather than a name the server would refuse)
)
"""The ``reason`` values of a result report (``POST /v1/issuances/{id}/result``); absent for ``printed``."""


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
    expires_in_s: int | None = None  # the nonce's lifetime from the reply (servers before version 2: absent)

    @classmethod
    def parse(cls, data: Any) -> "Challenge":
        nonce = _field(data, "nonce", str, "challenge")
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", nonce):
            raise ProtocolError("challenge: nonce is not a URL-safe token")
        lifetime = data.get("expires_in_s")
        if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 1):
            raise ProtocolError("challenge: expires_in_s should be a positive int")
        return cls(nonce, _field(data, "expires_at", str, "challenge"), lifetime)


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
    window_fee: int | None = None  # the counter's fee, shown beside the kiosk's (None: the server did not say)
    option_details: tuple["OptionDetail", ...] = ()  # the server's label, default and choices of each option


@dataclass(frozen=True)
class OptionDetail:
    name: str
    label_ja: str
    default: Any
    choices: tuple | None  # None: yes / no
    free_text: bool = False


def parse_option_details(raw: Any) -> tuple[OptionDetail, ...]:
    """The menu offer's ``option_details`` (absent or malformed entries are left out: the kiosk then asks as
    before, by its own catalogue)."""
    details = []
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        choices = item.get("choices")
        choices = tuple(c for c in choices if isinstance(c, (str, bool, int))) if isinstance(choices, list) else None
        details.append(OptionDetail(item["name"], str(item.get("label_ja") or ""), item.get("default"), choices,
                                    bool(item.get("free_text"))))
    return tuple(details)


@dataclass(frozen=True)
class HouseholdMember:
    """A living member of the resident's household, for a 住民票 of selected members.  The name is shown and
    spoken during the visit only: it stays out of every repr, and so of logs and exceptions."""

    member_ref: str
    name: str = field(repr=False)
    relationship: str = field(repr=False)


def parse_household(data: Any) -> tuple[HouseholdMember, ...]:
    """The menu's ``household`` (absent: none, as from a server before it was added)."""
    raw = data.get("household", []) if isinstance(data, dict) else []
    if not isinstance(raw, list):
        raise ProtocolError("menu: household is not a list")
    members = []
    for item in raw:
        ref, name, relation = (_field(item, key, str, "household member")
                               for key in ("member_ref", "name", "relationship"))
        if not re.fullmatch(r"[0-9a-z]{8,64}", ref):
            raise ProtocolError("household member: member_ref is not an opaque reference")
        members.append(HouseholdMember(ref, name[:80], relation[:40]))
    return tuple(members)


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
        window_fee = raw.get("window_fee")
        window_fee = window_fee if isinstance(window_fee, int) and window_fee >= 0 else None
        details = parse_option_details(raw.get("option_details"))
        offers.append(Offer(cert, available, reason, fee, max_copies, options, window_fee, details))
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


@dataclass(frozen=True)
class SignedIn:
    """The reply of ``POST /v2/signin``: the session and the resident's menu in one answer."""
    session: Session
    offers: list[Offer]
    household: tuple[HouseholdMember, ...] = ()

    @classmethod
    def parse(cls, data: Any) -> "SignedIn":
        menu = _field(data, "menu", dict, "sign-in")
        return cls(Session.parse(data), parse_menu(menu), parse_household(menu))


def parse_forms(data: Any) -> list[Form]:
    """The reply of ``GET /v1/applications/forms``: the e-applications offered, each a form described as data."""
    forms = []
    for raw in _field(data, "forms", list, "forms"):
        try:
            forms.append(Form.from_dict(raw))
        except ValueError as exc:
            raise ProtocolError(f"forms: {exc}") from None
    return forms


@dataclass(frozen=True)
class ApplicationQuote:
    """The reply of ``POST /v1/applications/quotes``: what the application costs, and how it is paid.  It stands
    where a certificate's :class:`Quote` stands in the visit: one receipt (``certificate``), ``total_fee`` taken."""
    quote_id: str
    service: str
    payment: Payment
    fee: int  # the items' fees in all
    total_fee: int  # what the kiosk takes
    stickers: tuple[tuple[int, int], ...]  # (value, count), stickers mode
    pages: int
    expires_at: str
    copies: int = 1

    @property
    def certificate(self) -> DocumentKind:
        return DocumentKind.APPLICATION_RECEIPT

    @classmethod
    def parse(cls, data: Any) -> "ApplicationQuote":
        try:
            payment = Payment(_field(data, "payment", str, "application quote"))
        except ValueError:
            raise ProtocolError("application quote: unknown payment") from None
        stickers = tuple((_field(x, "value", int, "sticker"), _field(x, "count", int, "sticker"))
                         for x in _field(data, "stickers", list, "application quote"))
        where = "application quote"
        quote = cls(_field(data, "quote_id", str, where), _field(data, "service", str, where), payment,
                    _field(data, "fee", int, where), _field(data, "total_fee", int, where), stickers,
                    _field(data, "pages", int, where), _field(data, "expires_at", str, where))
        taken = quote.fee if payment is Payment.CASH else 0
        if quote.fee < 0 or quote.total_fee != taken or quote.pages < 1:
            raise ProtocolError("application quote: fees, payment or pages are inconsistent")
        return quote
