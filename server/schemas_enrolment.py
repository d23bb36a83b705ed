"""Request and reply bodies of ``POST /v1/enrolment`` (docs/kiosk-server-protocol.md, "Enrolment")."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class EnrolmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: StrictStr = Field(pattern=r"^[A-Za-z0-9_-]{32,128}$", json_schema_extra={"format": "password"},
                             description="the one-time token `kiosk-server enrol-token` printed")
    csr: StrictStr = Field(min_length=64, max_length=16384, description="PEM PKCS#10 request, subject CN=<kiosk id>")


class EnrolmentReply(BaseModel):
    kiosk_id: str
    certificate: str = Field(description="PEM device certificate (client authentication)")
    ca_certificate: str = Field(description="PEM certificate of the city's device CA that issued it")
    serial: str = Field(description="the certificate's serial number, lower-case hex")
    not_after: str
