"""Request and reply bodies of the e-application endpoints (docs/kiosk-server-protocol.md, "E-applications")."""
from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, Field, StrictInt, StrictStr

from server.schemas import _Strict

Answer = Union[StrictStr, dict[StrictStr, StrictInt]]


class FormsReply(BaseModel):
    forms: list[dict[str, Any]] = Field(description="each form as certs.services.Form.to_dict(), with this "
                                                    "resident's choices filled in")


class ApplicationQuoteRequest(_Strict):
    service: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    answers: dict[StrictStr, Answer] = Field(max_length=20)


class StickerCount(BaseModel):
    value: int
    count: int


class ApplicationQuoteReply(BaseModel):
    quote_id: str
    service: str
    payment: str = Field(description="none | cash | stickers")
    fee: int = Field(description="the items' fees in all (yen)")
    total_fee: int = Field(description="what the kiosk takes (0 with stickers or no fee)")
    stickers: list[StickerCount] = Field(description="stickers mode: the 処理券 to buy")
    pages: int
    expires_at: str
