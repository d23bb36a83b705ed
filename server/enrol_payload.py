"""``kiosk-server enrol-token``'s output: a one-time token wrapped in the enrolment payload (certs/enrolment_payload.py)
with the server's URL and the fingerprint of the CA kiosks must see, as text and as a QR code."""
from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import TextIO

import segno
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from certs.enrolment_payload import EnrolmentPayload
from server import enrolment
from server.config import ServerConfig


def ca_fingerprint(config: ServerConfig) -> str:
    ca = x509.load_pem_x509_certificate(config.client_ca.read_bytes())
    return hashlib.sha256(ca.public_bytes(serialization.Encoding.DER)).hexdigest()


def make(db: Session, config: ServerConfig, kiosk_id: str, staff_id: str, valid_minutes: int,
         url: str | None = None) -> str:
    if url is not None and not url.startswith("https://"):
        raise enrolment.AdminError("--url must be an https:// URL")
    token, expires = enrolment.create_token(db, kiosk_id, staff_id, valid_minutes)
    url = url or f"https://{config.host}:{config.port}"
    return EnrolmentPayload(url, ca_fingerprint(config), kiosk_id, token, datetime.fromisoformat(expires)).text()


def print_qr(text: str, out: TextIO) -> None:
    segno.make(text, error="m").terminal(out=out, compact=True, border=2)


def write_png(text: str, path: Path) -> None:
    segno.make(text, error="m").save(str(path), kind="png", scale=6, border=4)
