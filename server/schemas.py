"""Request and reply bodies of the wire contract (docs/kiosk-server-protocol.md), as pydantic models.

Requests are strict: unknown fields are refused, numbers must be numbers.  The models also give the OpenAPI
document (docs/openapi.json) its schemas.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from certs.wire import RESULT_REASONS, ResultOutcome
from server.error_codes import ERROR_CODES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Empty(_Strict):
    pass


ErrorCode = Literal[tuple(ERROR_CODES)]  # type: ignore[valid-type]  # server.error_codes: the one catalogue


class ErrorBody(BaseModel):
    code: ErrorCode = Field(description="the error code; docs/kiosk-server-protocol.md, Error codes")
    message: str
    detail: dict[str, Any] = {}


class ErrorDocument(BaseModel):
    error: ErrorBody


class OpeningHours(BaseModel):
    open: bool = Field(description="the kiosks may serve residents now")
    closes_in_s: int | None = Field(description="while open: seconds until the service closes (an all-day service: "
                                                "at its next closed day; null if none within 400 days)")
    opens_at: str | None = Field(description="while closed: when service starts again (local time, ISO 8601)")
    opens_in_s: int | None = Field(description="while closed: seconds until then (the kiosk's clock may be off)")
    service: str = Field(description="the daily service hours, e.g. 06:30-23:00")


class Health(BaseModel):
    status: Literal["ok"]
    server_time: str
    protocol_versions: list[int] = Field(description="the protocol versions this server speaks")
    hours: OpeningHours | None = Field(None, description="kiosk-wide opening hours (server/opening.py)")


class ChallengeReply(BaseModel):
    nonce: str
    expires_at: str
    expires_in_s: int = Field(description="the nonce's lifetime in seconds from this reply (no clock to compare)")


class JpkiSignin(_Strict):
    method: Literal["jpki"]
    nonce: StrictStr = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    certificate: StrictStr = Field(min_length=16, max_length=16384, description="base64 DER")
    signature: StrictStr = Field(min_length=16, max_length=4096, description="base64")


class CitizenCardSignin(_Strict):
    method: Literal["citizen_card"]
    card_id: StrictStr = Field(pattern=r"^[A-Z0-9]{4,16}$")
    password: StrictStr = Field(pattern=r"^[0-9]{4}$", json_schema_extra={"format": "password"})


SigninRequest = Annotated[Union[JpkiSignin, CitizenCardSignin], Field(discriminator="method")]


class SessionReply(BaseModel):
    session_token: str
    subject_ref: str
    expires_at: str


class SignedOut(BaseModel):
    signed_out: bool


class OptionDetail(BaseModel):
    """How the kiosk shows one option: its label, default and choices (None: a yes/no, or a member list)."""
    name: str
    label_ja: str
    default: str | bool
    choices: list[str] | None = None
    free_text: bool = False


class Offer(BaseModel):
    certificate: str
    available: bool
    reason: str | None = Field(description="an IneligibleReason code when not available")
    fee: int = Field(description="yen per copy at the kiosk")
    window_fee: int | None = Field(default=None, description="yen per copy at the counter (shows a kiosk discount)")
    max_copies: int
    options: list[str]
    option_details: list[OptionDetail] = Field(default_factory=list, description="the options named in options")


class HouseholdMember(BaseModel):
    """A living member of the resident's household, for 住民票 scope=selected (``members``: member_ref, …)."""
    member_ref: str
    name: str
    relationship: str


class Menu(BaseModel):
    offers: list[Offer]
    household: list[HouseholdMember] = []


class SessionMenuReply(SessionReply):
    """``POST /v2/signin``: the session and the menu (what ``GET /v1/menu`` answers) in one reply."""
    menu: Menu


class QuoteRequest(_Strict):
    certificate: StrictStr = Field(max_length=64)
    options: dict[str, StrictStr | StrictBool] = Field(default_factory=dict, max_length=16)
    copies: StrictInt


class QuoteReply(BaseModel):
    quote_id: str
    certificate: str
    copies: int
    fee_per_copy: int
    total_fee: int
    pages: int
    expires_at: str


class IssuanceRequest(_Strict):
    transaction_id: StrictStr = Field(pattern=r"^[0-9a-f]{32}$")
    quote_id: StrictStr = Field(min_length=1, max_length=64)
    amount_paid: StrictInt = Field(ge=0, le=10_000_000)


class ManifestDocument(BaseModel):
    document_id: str
    certificate: str
    copy_: int = Field(alias="copy")
    pages: int
    sha256: str


class ManifestModel(BaseModel):
    version: int
    transaction_id: str
    subject_ref: str
    kiosk_id: str
    issued_at: str
    documents: list[ManifestDocument]


class EnvelopeDocument(BaseModel):
    document_id: str
    pdf: str


class Envelope(BaseModel):
    manifest: ManifestModel
    key_id: str
    signature: str
    documents: list[EnvelopeDocument]


class ResultRequest(_Strict):
    outcome: Literal[ResultOutcome.ORDER] = Field(  # type: ignore[valid-type]
        description="printed: every page printed, the fee is earned; partially_printed: some pages printed, the "
                    "fee is held for the reprint the counter owes; refunded: nothing printed, the money went back "
                    "or is owed back (refund_owed); failed: nothing printed because the kiosk rejected the "
                    "documents, refunded as for refunded")
    pages_printed: StrictInt = Field(ge=0, le=10_000)
    fee_collected: StrictInt = Field(ge=0, le=10_000_000)
    refund_owed: StrictInt = Field(ge=0, le=10_000_000)
    reason: Literal[RESULT_REASONS] | None = Field(  # type: ignore[valid-type]
        default=None, description="why a visit did not end as printed (none for printed); certs.wire.RESULT_REASONS")


class Settled(BaseModel):
    settled: bool
