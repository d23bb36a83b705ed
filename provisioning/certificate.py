"""The device certificate's life: when it was issued, when it expires, and whether it is due for renewal (after
2/3 of its life), in words a technician reads at the kiosk."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509

RENEW_AFTER = 2 / 3


@dataclass(frozen=True)
class CertificateLife:
    not_before: datetime
    not_after: datetime

    @classmethod
    def of(cls, path: Path) -> "CertificateLife":
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        return cls(cert.not_valid_before_utc, cert.not_valid_after_utc)

    @property
    def renew_from(self) -> datetime:
        return self.not_before + (self.not_after - self.not_before) * RENEW_AFTER

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(timezone.utc)) >= self.not_after

    def due(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(timezone.utc)) >= self.renew_from

    def words(self, now: datetime | None = None) -> str:
        now = now or datetime.now(timezone.utc)
        if self.expired(now):
            return (f"the device certificate EXPIRED on {self.not_after:%Y-%m-%d}: the kiosk cannot reach the server. "
                    "Ask staff for a new enrolment payload (kiosk-server enrol-token) and run "
                    "`kiosk-provision --redo enrol --payload …`")
        if self.due(now):
            return (f"the device certificate expires on {self.not_after:%Y-%m-%d}: renew it now "
                    "(`kiosk-provision renew`)")
        return f"the device certificate is valid until {self.not_after:%Y-%m-%d} (renewal from {self.renew_from:%Y-%m-%d})"
