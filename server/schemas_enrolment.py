"""Request and reply bodies of ``POST /v1/enrolment`` (docs/kiosk-server-protocol.md, "Enrolment")."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr


class EnrolmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: StrictStr = Field(pattern=r"^[A-Za-z0-9_-]{32,128}$", json_schema_extra={"format": "password"},
                             description="the one-time token `kiosk-server enrol-token` printed")
    csr: StrictStr = Field(min_length=64, max_length=16384, description="PEM PKCS#10 request, subject CN=<kiosk id>")
    wireguard_public_key: StrictStr | None = Field(
        default=None, pattern=r"^[A-Za-z0-9+/]{43}=$",
        description="the kiosk's WireGuard public key (base64); the server registers it and allocates an address")


class RenewalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csr: StrictStr = Field(min_length=64, max_length=16384, description="PEM PKCS#10 request for a new key")


class TunnelReply(BaseModel):
    address: str = Field(description="the kiosk's tunnel address, CIDR")
    server_public_key: str
    endpoint: str = Field(description="host:port of the server's WireGuard socket")
    routes: list[str] = Field(description="the networks routed into the tunnel (never a default route)")
    api_url: str = Field(description="the kiosk API through the tunnel")


class CaReply(BaseModel):
    ca_certificate: str = Field(description="PEM: the CA the enrolment payload's fingerprint pins")


class EnrolmentReply(BaseModel):
    kiosk_id: str
    certificate: str = Field(description="PEM device certificate (client authentication)")
    ca_certificate: str = Field(description="PEM certificate of the city's device CA that issued it")
    serial: str = Field(description="the certificate's serial number, lower-case hex")
    not_after: str
    document_keys: list[str] = Field(default_factory=list, description="PEM public keys that sign documents")
    vpn: TunnelReply | None = None
    update_root: str | None = Field(None, description="the city's current TUF root.json for kiosk updates (the "
                                    "kiosk pins it; trusted because this reply came over TLS to the pinned CA)")


class ReadinessReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ready: StrictBool
    report: StrictStr = Field(max_length=20000, description="the readiness table as text (no personal data)")
