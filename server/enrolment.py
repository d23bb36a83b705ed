"""Device enrolment and revocation: one-time tokens, CSR checks, device certificates signed by the city's CA.

Staff make a token for one kiosk id (``kiosk-server enrol-token``); only its SHA-256 is stored, it expires, and
the first successful enrolment spends it with one conditional UPDATE (so two server processes cannot both
accept it).  A refused CSR does not spend the token: the technician can fix the request and try again.

``POST /v1/enrolment`` is the only endpoint served to a connection without a client certificate.  Every other
endpoint asks :func:`refuse_if_revoked` about the certificate of the connection: a certificate issued here is
refused once its ``revoked_at`` is set; a certificate the server never issued (devinit's, a hand-made one) is
refused once its kiosk is revoked.  Re-enrolling a revoked kiosk needs a new token made after the revocation.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from certs.enrolment import KIOSK_ID
from server.db import iso, utcnow
from server.devinit import kiosk_certificate
from server.errors import ApiError
from server.models_admin import (EnrolmentToken, KioskCertificate, KioskCertificateCopy, KioskRecord,
                                 KioskTunnel)
from server.services import Services

log = logging.getLogger("server.enrolment")

CERTIFICATE_DAYS = 825
CLOCK_SKEW = timedelta(minutes=5)  # the new certificate is valid from a little before now
_CURVES = (ec.SECP256R1, ec.SECP384R1)
_RSA_BITS = (2048, 4096)


class AdminError(Exception):
    """A staff command was refused (unknown kiosk id, bad argument); the message says why."""


STAFF_ID = re.compile(r"^[A-Za-z0-9._-]{2,64}$")


def check_staff_id(staff_id: str) -> str:
    if not STAFF_ID.fullmatch(staff_id):
        raise AdminError("a staff id is 2-64 letters, digits, '.', '_' or '-' (an employee number, not a name)")
    return staff_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db: Session, kiosk_id: str, staff_id: str, valid_minutes: int = 24 * 60) -> tuple[str, str]:
    """A new one-time token for ``kiosk_id``: returns (token, expires_at ISO).  Only its hash is stored."""
    if not KIOSK_ID.fullmatch(kiosk_id):
        raise AdminError("a kiosk id is 'kiosk-' followed by 1-58 letters, digits or '-'")
    check_staff_id(staff_id)
    if not 1 <= valid_minutes <= 7 * 24 * 60:
        raise AdminError("a token is valid for 1 minute to 7 days")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(minutes=valid_minutes)
    db.add(EnrolmentToken(token_hash=token_hash(token), kiosk_id=kiosk_id, created_by=staff_id, created_at=now,
                          expires_at=expires, used_at=None, voided_at=None))
    db.commit()
    log.info("enrolment token made kiosk=%s staff=%s expires=%s", kiosk_id, staff_id, iso(expires))
    return token, iso(expires)


def _checked_csr(csr_pem: str, kiosk_id: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ApiError(400, "csr_invalid", "csr is not a PEM certificate signing request") from None
    key = csr.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        acceptable = isinstance(key.curve, _CURVES)
    else:
        acceptable = isinstance(key, rsa.RSAPublicKey) and _RSA_BITS[0] <= key.key_size <= _RSA_BITS[1]
    if not acceptable:
        raise ApiError(400, "csr_key_unsupported", "the key must be EC P-256/P-384 or RSA 2048-4096",
                       {"accepted": ["ec-p256", "ec-p384", "rsa-2048..4096"]})
    if not csr.is_signature_valid:
        raise ApiError(400, "csr_invalid", "the CSR's signature does not verify with its key")
    attributes = list(csr.subject)
    if (len(attributes) != 1 or attributes[0].oid != NameOID.COMMON_NAME or attributes[0].value != kiosk_id):
        raise ApiError(400, "csr_subject_mismatch", "the CSR's subject must be exactly CN=<the token's kiosk id>")
    return csr


def _device_ca(svc: Services):
    key_path = svc.config.device_ca_key
    if key_path is None or not key_path.is_file():
        raise ApiError(503, "enrolment_unavailable", "this server has no device CA key: enrolment is off")
    ca = x509.load_pem_x509_certificate(svc.config.client_ca.read_bytes())
    return ca, serialization.load_pem_private_key(key_path.read_bytes(), password=None)


def certificate_copy(certificate: x509.Certificate, source: str) -> KioskCertificateCopy:
    """The row that keeps a kiosk's device certificate whole (added by the caller)."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return KioskCertificateCopy(sha256=hashlib.sha256(der).hexdigest(), serial_hex=format(certificate.serial_number,
                                "x"), kiosk_id=str(names[0].value) if names else "", der=der, recorded_at=utcnow(),
                                source=source)


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _issued_before(db: Session, kiosk_id: str, csr: x509.CertificateSigningRequest) -> x509.Certificate | None:
    """The unrevoked certificate already issued to this kiosk for the CSR's key (a retried enrolment), if any."""
    wanted = _public_der(csr.public_key())
    revoked = set(db.scalars(select(KioskCertificate.serial_hex).where(KioskCertificate.kiosk_id == kiosk_id,
                                                                       KioskCertificate.revoked_at.is_not(None))))
    for copy in db.scalars(select(KioskCertificateCopy).where(KioskCertificateCopy.kiosk_id == kiosk_id,
                                                              KioskCertificateCopy.source == "enrolment")):
        cert = x509.load_der_x509_certificate(copy.der)
        if copy.serial_hex not in revoked and _public_der(cert.public_key()) == wanted:
            return cert
    return None


def _reply(svc: Services, kiosk_id: str, cert: x509.Certificate, ca: x509.Certificate, vpn: dict | None) -> dict:
    body = {"kiosk_id": kiosk_id, "certificate": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            "ca_certificate": ca.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            "serial": format(cert.serial_number, "x"),
            "not_after": iso(cert.not_valid_after_utc.replace(tzinfo=None)),
            "document_keys": [svc.signing_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")]}
    if vpn is not None:
        body["vpn"] = vpn
    repository = svc.config.updates_repository
    if repository is not None and (repository / "metadata" / "root.json").is_file():
        body["update_root"] = (repository / "metadata" / "root.json").read_text(encoding="utf-8")
    return body


def _issue(svc: Services, db: Session, kiosk_id: str, csr: x509.CertificateSigningRequest, now, ca, ca_key):
    cert = kiosk_certificate(kiosk_id, csr.public_key(), ca, ca_key, not_before=now - CLOCK_SKEW,
                             days=CERTIFICATE_DAYS)
    db.add(KioskCertificate(serial_hex=format(cert.serial_number, "x"), kiosk_id=kiosk_id, sha256=hashlib.sha256(
        cert.public_bytes(serialization.Encoding.DER)).hexdigest(), issued_at=now,
        not_after=cert.not_valid_after_utc.replace(tzinfo=None)))
    db.add(certificate_copy(cert, "enrolment"))  # what its refund slips are checked with
    return cert


def _tunnel(svc: Services, db: Session, kiosk_id: str, wireguard_public_key: str | None) -> dict | None:
    from server import vpn

    if wireguard_public_key is None:
        return None
    return vpn.register_peer(db, svc.config, kiosk_id, wireguard_public_key)


def enrol(svc: Services, token: str, csr_pem: str, wireguard_public_key: str | None = None) -> dict:
    """Check token and CSR, spend the token, sign the certificate, register the WireGuard peer; the reply body.

    The same token with a CSR for the key it already enrolled (a provisioning run killed before it stored the
    answer) gets the same certificate again: one enrolment per token, whatever the retries."""
    hashed = token_hash(token)
    now = utcnow()
    with svc.sessions() as db:
        row = db.get(EnrolmentToken, hashed)
        if row is None:
            raise ApiError(401, "enrolment_token_invalid", "this enrolment token is not known")
        if row.used_at is not None and row.voided_at is None:
            csr = _checked_csr(csr_pem, row.kiosk_id)
            again = _issued_before(db, row.kiosk_id, csr)
            if again is not None:
                ca, _ = _device_ca(svc)
                vpn = _tunnel(svc, db, row.kiosk_id, wireguard_public_key)
                db.commit()
                log.info("kiosk enrolment repeated kiosk=%s serial=%x", row.kiosk_id, again.serial_number)
                return _reply(svc, row.kiosk_id, again, ca, vpn)
        if row.used_at is not None or row.voided_at is not None:
            raise ApiError(409, "enrolment_token_used", "this enrolment token was already used or withdrawn")
        if row.expires_at < now:
            raise ApiError(410, "enrolment_token_expired", "this enrolment token has expired: staff make a new one")
        kiosk_id = row.kiosk_id
        csr = _checked_csr(csr_pem, kiosk_id)
        ca, ca_key = _device_ca(svc)
        spent = db.execute(update(EnrolmentToken).where(
            EnrolmentToken.token_hash == hashed, EnrolmentToken.used_at.is_(None),
            EnrolmentToken.voided_at.is_(None), EnrolmentToken.expires_at >= now).values(used_at=now))
        if spent.rowcount != 1:
            db.rollback()
            raise ApiError(409, "enrolment_token_used", "this enrolment token was already used or withdrawn")
        vpn = _tunnel(svc, db, kiosk_id, wireguard_public_key)
        cert = _issue(svc, db, kiosk_id, csr, now, ca, ca_key)
        db.commit()
        if vpn is not None:
            from server.vpn import sync_interface

            sync_interface(svc.config, db)
    log.info("kiosk enrolled kiosk=%s serial=%x", kiosk_id, cert.serial_number)
    return _reply(svc, kiosk_id, cert, ca, vpn)


def renew(svc: Services, kiosk_id: str, csr_pem: str) -> dict:
    """A new certificate for the kiosk of a valid, unrevoked connection certificate (the caller checked it)."""
    from server import vpn

    now = utcnow()
    with svc.sessions() as db:
        csr = _checked_csr(csr_pem, kiosk_id)
        ca, ca_key = _device_ca(svc)
        cert = _issue(svc, db, kiosk_id, csr, now, ca, ca_key)
        tunnel = db.get(KioskTunnel, kiosk_id)
        reply_vpn = vpn.tunnel_reply(svc.config, tunnel) if tunnel is not None and svc.config.vpn else None
        db.commit()
    log.info("kiosk certificate renewed kiosk=%s serial=%x", kiosk_id, cert.serial_number)
    return _reply(svc, kiosk_id, cert, ca, reply_vpn)


def revoke_kiosk(db: Session, kiosk_id: str, staff_id: str, reason: str) -> int:
    """Refuse every certificate of this kiosk from now on, and withdraw its unused tokens.  Returns how many
    enrolled certificates were revoked (a kiosk with none, e.g. devinit's, is revoked all the same)."""
    if not KIOSK_ID.fullmatch(kiosk_id):
        raise AdminError("a kiosk id is 'kiosk-' followed by 1-58 letters, digits or '-'")
    check_staff_id(staff_id)
    now = utcnow()
    kiosk = db.get(KioskRecord, kiosk_id)
    if kiosk is None:
        db.add(KioskRecord(kiosk_id=kiosk_id, revoked_at=now, revoked_by=staff_id, revoked_reason=reason[:200]))
    else:
        kiosk.revoked_at, kiosk.revoked_by, kiosk.revoked_reason = now, staff_id, reason[:200]
    revoked = db.execute(update(KioskCertificate).where(KioskCertificate.kiosk_id == kiosk_id,
                                                        KioskCertificate.revoked_at.is_(None)).values(revoked_at=now))
    db.execute(update(EnrolmentToken).where(EnrolmentToken.kiosk_id == kiosk_id, EnrolmentToken.used_at.is_(None),
                                            EnrolmentToken.voided_at.is_(None)).values(voided_at=now))
    db.commit()
    log.info("kiosk revoked kiosk=%s staff=%s certificates=%d", kiosk_id, staff_id, revoked.rowcount)
    return revoked.rowcount


_CERTIFICATE = select(KioskCertificate).where(KioskCertificate.serial_hex == bindparam("serial_hex"))
_REVOCATION = select(  # one round trip, built once: the certificate's row if any, else the kiosk's
    _CERTIFICATE.with_only_columns(KioskCertificate.kiosk_id).scalar_subquery(),
    _CERTIFICATE.with_only_columns(KioskCertificate.revoked_at).scalar_subquery(),
    select(KioskRecord.revoked_at).where(KioskRecord.kiosk_id == bindparam("kiosk_id")).scalar_subquery())


def refuse_if_revoked(db: Session, kiosk_id: str, serial_hex: str) -> None:
    """403 ``kiosk_revoked`` for a certificate this server must no longer accept."""
    row = db.execute(_REVOCATION, {"serial_hex": serial_hex, "kiosk_id": kiosk_id}).one()
    if row[0] is not None:
        refused = row[0] != kiosk_id or row[1] is not None
    else:
        refused = row[2] is not None
    if refused:
        raise ApiError(403, "kiosk_revoked", "this kiosk's certificate has been revoked")
