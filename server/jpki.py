"""JPKI user-authentication: the card's signature over the sign-in message, the chain, validity and the CRL.

The card signs DigestInfo(SHA-256(message)) with its RSA key, which is exactly a PKCS#1 v1.5 signature with
SHA-256 of the message.  The certificate must be issued by the configured JPKI CA (development CA here), be in
its validity period and not be on the CA's CRL.  The result is the certificate's (issuer, serial), which the
registry maps to a resident; the certificate carries no name.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from server.errors import ApiError


class JpkiVerifier:
    def __init__(self, ca_path: Path, crl_path: Path):
        self.ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        crl = x509.load_pem_x509_crl(crl_path.read_bytes())
        if crl.issuer != self.ca.subject or not crl.is_signature_valid(self.ca.public_key()):
            raise ValueError("the JPKI CRL is not signed by the configured JPKI CA")
        self.crl = crl

    def verify(self, certificate_der: bytes, signature: bytes, message: bytes,
               now: datetime | None = None) -> tuple[str, str]:
        """Check everything; returns (issuer RFC 4514, serial hex) or raises :class:`ApiError` (401)."""
        now = now or datetime.now(timezone.utc)
        try:
            cert = x509.load_der_x509_certificate(certificate_der)
            public_key = cert.public_key()
        except ValueError:
            raise ApiError(401, "certificate_invalid", "the card's certificate cannot be read") from None
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ApiError(401, "certificate_invalid", "the card's certificate has no RSA key")
        try:
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ApiError(401, "bad_signature", "the card's signature does not verify") from None
        try:
            cert.verify_directly_issued_by(self.ca)
        except (ValueError, TypeError, InvalidSignature):
            raise ApiError(401, "certificate_invalid", "the card's certificate is not from the JPKI CA") from None
        if self._is_ca(cert):
            raise ApiError(401, "certificate_invalid", "a CA certificate cannot sign in")
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise ApiError(401, "certificate_expired", "the card's certificate is outside its validity period")
        if self.crl.next_update_utc is not None and now > self.crl.next_update_utc:
            raise ApiError(503, "revocation_unknown", "the revocation list is out of date")
        if self.crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise ApiError(401, "certificate_revoked", "the card's certificate is revoked")
        return cert.issuer.rfc4514_string(), format(cert.serial_number, "x")

    @staticmethod
    def _is_ca(cert: x509.Certificate) -> bool:
        try:
            return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            return False
