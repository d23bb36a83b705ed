"""Is this saved PDF, or this scanned page, a certificate this server issued, unaltered?

For a PDF every page must carry exactly one binding line (``certs.binding``) and one QR code whose page code
(``certs.page_code``) is signed by the server's document key and names the same document, page, transaction
and resident as the binding line, and every page must name the resident the issuance record names (as the kiosk
checks before printing); then the whole file must be, byte for byte, a document of the issuance record
(its SHA-256 is in the signed manifest the server stored).  A scanned page image (PNG, JPEG, …) cannot be
hashed, so its QR codes are checked for the signature and against the issuance record's document list.

``kiosk-server verify`` (``server.cli_verify``) runs this.  The report names the document id, certificate
type, page and issue date: never the resident.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Iterable

import pypdfium2 as pdfium
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image, UnidentifiedImageError
from sqlalchemy.orm import Session, sessionmaker

from certs.binding import find_bindings
from certs.catalog import CATALOG
from certs.envelope import DocumentEntry, DocumentRejected, Manifest
from certs.page_code import PREFIX, PageCode, PageCodeInvalid, verify_page_code
from server.models import Issuance

SCAN_DPI = 200
_SUBJECT_CHECKED = "every page names the resident of the issuance record"  # a 26 mm QR of 49 modules is 4 px a module at this resolution


class NotADocument(Exception):
    """The input is neither a PDF nor an image (a usage error, not an invalid certificate)."""


@dataclass
class Verdict:
    valid: bool = True
    problems: list[str] = field(default_factory=list)
    pages: list[PageCode] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def fail(self, problem: str) -> "Verdict":
        self.valid = False
        self.problems.append(problem)
        return self

    def lines(self) -> list[str]:
        """The report: what was verified, never who the certificate is about."""
        out = [("VALID" if self.valid else "INVALID")]
        for code in self.pages:
            out.append(f"  document {code.document_id}  {code.certificate.value} ({_label(code.certificate)})"
                       f"  page {code.page}/{code.pages}  issued {code.issued_on.isoformat()}")
        out += [f"  checked: {c}" for c in self.checks]
        out += [f"  problem: {p}" for p in self.problems]
        return out


def page_codes_in(image: Image.Image) -> list[str]:
    """The texts of the kiosk page codes found in an image (other QR codes are ignored)."""
    results = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in results if r.valid and r.text.startswith(PREFIX)]


def verify_file(data: bytes, keys: Iterable[Ed25519PublicKey], sessions: sessionmaker[Session] | None) -> Verdict:
    """Verify a PDF or a page image given as bytes."""
    if data.startswith(b"%PDF-"):
        return verify_pdf(data, keys, sessions)
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise NotADocument("the file is neither a PDF nor an image") from None
    return verify_image(image, keys, sessions)


def verify_image(image: Image.Image, keys: Iterable[Ed25519PublicKey],
                 sessions: sessionmaker[Session] | None) -> Verdict:
    verdict = Verdict()
    texts = page_codes_in(image)
    if not texts:
        return verdict.fail("no kiosk page code (QR) found in the image")
    keys = list(keys)
    for text in texts:
        try:
            verdict.pages.append(verify_page_code(text, keys))
        except PageCodeInvalid as exc:
            verdict.fail(f"a page code does not verify ({exc.problem.value}: {exc.detail})")
    if verdict.valid:
        verdict.checks.append("page code signature (server document key)")
        if sessions is not None:
            for code in verdict.pages:
                issued = _issued_entry(sessions, code)
                if issued is None:
                    verdict.fail(f"page {code.page}: no issuance record of this document on this server")
                elif code.subject_ref != issued[0].subject_ref:
                    verdict.fail(f"page {code.page}: the page belongs to another resident than its issuance record's")
            if verdict.valid:
                verdict.checks.append("issuance record lists the document (a scan cannot be compared byte for byte)")
                verdict.checks.append(_SUBJECT_CHECKED)
    return verdict


def verify_pdf(pdf: bytes, keys: Iterable[Ed25519PublicKey], sessions: sessionmaker[Session] | None) -> Verdict:
    verdict = Verdict()
    keys = list(keys)
    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError:
        return verdict.fail("the PDF cannot be read")
    try:
        count = len(document)
        for index in range(count):
            page = document[index]
            text = page.get_textpage().get_text_range()
            image = page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil()
            _check_page(verdict, index + 1, count, text, page_codes_in(image), keys)
    finally:
        document.close()
    if not verdict.valid:
        return verdict
    verdict.checks.append("page code signature on every page (server document key)")
    verdict.checks.append("binding line on every page matches its page code")
    if len({c.document_id for c in verdict.pages}) != 1 or len({c.transaction_id for c in verdict.pages}) != 1:
        return verdict.fail("the pages belong to different documents")
    if len({c.subject_ref for c in verdict.pages}) != 1:
        return verdict.fail("the pages belong to different residents: a page belongs to another resident")
    if sessions is not None:
        _check_record(verdict, sessions, verdict.pages[0], hashlib.sha256(pdf).hexdigest())
    return verdict


def _check_page(verdict: Verdict, number: int, count: int, text: str, codes: list[str],
                keys: list[Ed25519PublicKey]) -> None:
    bindings = find_bindings(text)
    if len(bindings) != 1:
        verdict.fail(f"page {number} carries {len(bindings)} binding lines (expected 1)")
        return
    if len(codes) != 1:
        verdict.fail(f"page {number} carries {len(codes)} readable page codes (expected 1)")
        return
    try:
        code = verify_page_code(codes[0], keys)
    except PageCodeInvalid as exc:
        verdict.fail(f"page {number}: page code does not verify ({exc.problem.value}: {exc.detail})")
        return
    binding = bindings[0]
    if (code.page, code.pages) != (number, count):
        verdict.fail(f"page {number}: its page code says page {code.page}/{code.pages} of a {count}-page file")
    elif (binding.transaction_id, binding.subject_ref, binding.document_id, binding.page, binding.pages) != (
            code.transaction_id, code.subject_ref, code.document_id, code.page, code.pages):
        verdict.fail(f"page {number}: the binding line does not match the signed page code")
    else:
        verdict.pages.append(code)


def _issued_entry(sessions: sessionmaker[Session], code: PageCode) -> tuple[Manifest, DocumentEntry] | None:
    """The issuance record's manifest and its entry for the page code's document, if it lists it with the same
    type and page count."""
    with sessions() as db:
        issuance = db.get(Issuance, code.transaction_id)
    if issuance is None:
        return None
    try:
        manifest = Manifest.from_dict(json.loads(issuance.envelope)["manifest"])
    except (ValueError, KeyError, TypeError, DocumentRejected):
        return None
    entry = next((d for d in manifest.documents if d.document_id == code.document_id), None)
    if entry is None or entry.certificate != code.certificate.value or entry.pages != code.pages:
        return None
    return manifest, entry


def _check_record(verdict: Verdict, sessions: sessionmaker[Session], code: PageCode, sha256: str) -> None:
    """The file against the issuance record: every page's resident (as the kiosk checks before printing: the
    record's byte-for-byte match alone would pass a page the server itself bound to someone else), then the hash."""
    issued = _issued_entry(sessions, code)
    if issued is None:
        verdict.fail("no issuance record of this document on this server")
        return
    manifest, entry = issued
    strangers = [c.page for c in verdict.pages if c.subject_ref != manifest.subject_ref]
    if strangers:
        verdict.fail(f"page {strangers[0]}: the page belongs to another resident than its issuance record's")
    elif entry.sha256 != sha256:
        verdict.fail("the PDF differs from the document issued (SHA-256 mismatch): it was altered after issue")
    else:
        verdict.checks.append(_SUBJECT_CHECKED)
        verdict.checks.append("issuance record: the file is byte for byte the issued document (SHA-256)")


def _label(kind) -> str:
    """The Japanese name of a certificate type, or of an application's receipt."""
    return CATALOG[kind].name_ja if kind in CATALOG else "電子申請の受付票"
