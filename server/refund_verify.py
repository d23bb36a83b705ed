"""Is this refund slip genuine, and what do the server's books say about it?  (``kiosk-server verify`` on a slip.)

A slip is genuine when its code (:mod:`certs.refund_slip`) is signed by the device key of the kiosk it names,
checked with a certificate of that kiosk the server holds whole (:class:`server.models_admin.KioskCertificateCopy`:
stored at enrolment and from the connection of every result report owing a refund) or given by staff
(``--certificate``, accepted only if the city's device CA issued it).  A certificate revoked since makes the
signature worthless (a stolen key can sign anything), and one that was not valid at the slip's issue time too.
Then the books: is the refund owed (the kiosk's result report), for the same amount, and has it been paid?
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from certs.refund_slip import PREFIX, SlipInvalid, SlipPayload, parse, signature_valid
from server import refunds
from server.db import iso
from server.models_admin import KioskCertificate, KioskRecord

JST = timezone(timedelta(hours=9), "JST")


@dataclass
class SlipVerdict:
    genuine: bool = False
    fields: SlipPayload | None = None
    books: refunds.Refund | None = None
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def payable(self) -> bool:
        """Genuine, not yet paid, and the books (if they hold it) owe the same amount to the same kiosk."""
        if not self.genuine or self.fields is None:
            return False
        if self.books is None:
            return True
        return not self.books.paid and (self.books.amount, self.books.kiosk_id) == (self.fields.amount,
                                                                                    self.fields.kiosk_id)

    def lines(self) -> list[str]:
        out = ["GENUINE refund slip" if self.genuine else "NOT GENUINE: do not pay this refund slip"]
        if self.fields is not None:
            f = self.fields
            say = "" if self.genuine else " (as the slip claims)"
            out += [f"  amount     {f.amount} yen{say}", f"  kiosk      {f.kiosk_id}",
                    f"  txn        {f.transaction_id}", f"  reference  {f.reference}",
                    f"  issued     {f.issued_at.astimezone(JST):%Y-%m-%d %H:%M} JST"]
        if self.genuine or self.books is not None:
            out.append(f"  books      {self._books_line()}")
        if self.fields is not None:
            out.append(f"  payable    {'yes' if self.payable else 'NO'}")
        out += [f"  checked: {c}" for c in self.checks]
        out += [f"  problem: {p}" for p in self.problems]
        return out

    def _books_line(self) -> str:
        b = self.books
        if b is None:
            return ("not in the books yet: the kiosk has not reported this refund (offline?), or its issue request "
                    "never reached the server; pay on the slip with kiosk-server refund-paid --slip")
        if b.paid:
            return f"ALREADY PAID at {iso(b.paid_at)} by {b.paid_by}: do not pay again"
        if (b.amount, b.kiosk_id) != (self.fields.amount, self.fields.kiosk_id):
            return f"the books owe {b.amount} yen from {b.kiosk_id}, not what the slip says: do not pay"
        return f"owed, not yet paid (reported {iso(b.reported_at)})"


class SlipCodesUnreadable(Exception):
    """The file is not an image (a usage error)."""


def slip_codes_in(data: bytes) -> list[str]:
    """The refund slip codes in a photo or scan (other QR codes are ignored)."""
    import io

    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise SlipCodesUnreadable("the file is neither a PDF nor an image (nor a refund slip's code)") from None
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in found if r.valid and r.text.startswith(PREFIX)]


def _revoked_at(db: Session, kiosk_id: str, certificate: x509.Certificate) -> datetime | None:
    """When this certificate stopped counting, the way :func:`server.enrolment.refuse_if_revoked` judges it."""
    enrolled = db.get(KioskCertificate, format(certificate.serial_number, "x"))
    if enrolled is not None:
        return enrolled.revoked_at
    return db.scalar(select(KioskRecord.revoked_at).where(KioskRecord.kiosk_id == kiosk_id))


def _issued_by_city(certificate: x509.Certificate, device_ca: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(device_ca)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def _kiosk_of(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if len(names) == 1 else None


def verify_slip(db: Session, text: str, device_ca: x509.Certificate,
                given: x509.Certificate | None = None) -> SlipVerdict:
    verdict = SlipVerdict()
    try:
        fields, payload, signature = parse(text)
    except SlipInvalid as exc:
        verdict.problems.append(str(exc))
        return verdict
    verdict.fields = fields
    candidates = refunds.certificates_of(db, fields.kiosk_id)
    if given is not None:
        if not _issued_by_city(given, device_ca):
            verdict.problems.append("the certificate given was not issued by the city's device CA: ignored")
        elif _kiosk_of(given) != fields.kiosk_id:
            verdict.problems.append(f"the certificate given is not {fields.kiosk_id}'s: ignored")
        else:
            candidates.insert(0, given)
    if not candidates:
        verdict.problems.append(f"the server holds no certificate of {fields.kiosk_id} (it keeps one at enrolment "
                                "and when the kiosk reports a refund): give it with --certificate")
        return verdict
    signer = next((c for c in candidates if signature_valid(payload, signature, c.public_key())), None)
    if signer is None:
        verdict.problems.append(f"the signature does not match the slip's contents: it was altered, or "
                                f"{fields.kiosk_id} did not sign it")
        return verdict
    serial = format(signer.serial_number, "x")
    revoked = _revoked_at(db, fields.kiosk_id, signer)
    if revoked is not None:
        verdict.problems.append(f"signed with {fields.kiosk_id}'s certificate {serial}, revoked at "
                                f"{iso(revoked)}: a slip signed with it proves nothing; pay only what the books owe")
        verdict.books = refunds.find(db, txn=fields.transaction_id)
        return verdict
    if not signer.not_valid_before_utc <= fields.issued_at <= signer.not_valid_after_utc:
        verdict.problems.append(f"the slip's issue time lies outside the validity of certificate {serial}")
        return verdict
    verdict.genuine = True
    verdict.checks.append(f"signature by {fields.kiosk_id}'s device certificate (serial {serial})")
    verdict.books = refunds.find(db, txn=fields.transaction_id)
    return verdict
