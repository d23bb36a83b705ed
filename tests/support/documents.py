"""Real signed test envelopes: A4 PDFs with embedded Japanese text and a binding line on every page.

The documents are drawn with reportlab and IPAex Gothic (embedded as a TrueType subset, as the server does), carry
a few lines of synthetic 住民票-like data (made up: no real person), and end each page with the binding line in the
footer.  :func:`make_envelope` seals them with a fresh Ed25519 key and returns everything a test needs.  Its
keyword arguments break one thing at a time, so each rejection path can be tested with a real PDF.
"""
from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from certs.binding import PageBinding
from certs.envelope import DocumentEntry, Manifest, key_id, seal_envelope

FONT_PATH = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
FONT_NAME = "IPAexGothic"

PageRef = tuple[int, int]  # (document index from 0, page number from 1)

_SYNTHETIC_LINES = (
    "住民票の写し",
    "住所　　東京都架空市見本町一丁目２番３号",
    "氏名　　見本　太郎（みほん　たろう）",
    "生年月日　昭和六十年一月一日　　性別　男",
    "続柄　　世帯主",
    "住民となった日　平成二十年四月一日",
    "本籍　　（省略）",
    "この写しは、住民票の原本と相違ないことを証明する。",
    "令和八年十一月二十六日　　架空市長　見本　花子",
)

_FILLER = ("世帯員の記載事項：前住所　架空県見本郡見本町、転入届出日　令和元年五月一日、",
           "備考：この欄には異動の経過と証明の対象となる事項を記載します。")


def _register_font() -> None:
    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, FONT_PATH))


def render_pdf(footers: Sequence[Sequence[str]], title: str = "住民票の写し",
               order: Sequence[int] | None = None, filler_lines: int = 0) -> bytes:
    """An A4 PDF with one page per entry of ``footers``; each page ends with those footer lines (0, 1 or more).
    ``order`` (page indexes) draws the pages in another order, body and footer together; ``filler_lines`` adds
    that many lines of small print (up to about 40) to make a dense page."""
    _register_font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(title)
    width, height = A4
    for index in order if order is not None else range(len(footers)):
        number, footer_lines = index + 1, footers[index]
        pdf.setFont(FONT_NAME, 20)
        pdf.drawCentredString(width / 2, height - 72, _SYNTHETIC_LINES[0])
        pdf.setFont(FONT_NAME, 12)
        y = height - 120
        for line in _SYNTHETIC_LINES[1:]:
            pdf.drawString(56, y, line)
            y -= 24
        pdf.drawString(56, y - 12, f"（{number}／{len(footers)}枚目）")
        pdf.rect(48, y - 30, width - 96, height - 100 - (y - 30))
        pdf.setFont(FONT_NAME, 9)
        for line_no in range(min(filler_lines, int((y - 110) // 12))):
            pdf.drawString(56, y - 50 - 12 * line_no, (_FILLER[line_no % 2] + _FILLER[1 - line_no % 2])[:56])
        pdf.setFont(FONT_NAME, 7)
        for offset, line in enumerate(footer_lines):
            pdf.drawString(56, 40 - 10 * offset, line)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


@dataclass
class TestEnvelope:
    """What a test gets: the envelope as the server would send it, and what the kiosk should expect."""

    __test__ = False  # not a pytest test class

    envelope: dict
    trusted_keys: dict[str, Ed25519PublicKey]
    transaction_id: str
    subject_ref: str
    manifest: Manifest
    pdfs: dict[str, bytes] = field(repr=False)


def new_transaction_id() -> str:
    return secrets.token_hex(16)


def new_subject_ref() -> str:
    return secrets.token_hex(8)


def make_envelope(
    pages: Sequence[int] = (2,),
    *,
    transaction_id: str | None = None,
    subject_ref: str | None = None,
    signing_key: Ed25519PrivateKey | None = None,
    other_subject_on: PageRef | None = None,
    missing_binding_on: PageRef | None = None,
    double_binding_on: PageRef | None = None,
    swap_pages_in: int | None = None,
    page_transaction_id: str | None = None,
    drop_last_page_of: int | None = None,
    filler_lines: int = 0,
    pdf_override: Mapping[int, bytes] | None = None,
    certificate: str = "residence_record_copy",
    kiosk_id: str = "kiosk-test-01",
) -> TestEnvelope:
    """Seal an envelope of ``len(pages)`` documents with ``pages[i]`` pages each.

    Breaking one thing: ``other_subject_on`` binds that page to another resident; ``missing_binding_on`` leaves
    the page without a binding line; ``double_binding_on`` prints two; ``swap_pages_in`` swaps pages 1 and 2 of
    that document; ``page_transaction_id`` writes another transaction into every binding line (the manifest keeps
    the right one); ``drop_last_page_of`` leaves out that document's last page (the manifest still counts it);
    ``filler_lines`` makes dense pages (for benchmarks); ``pdf_override`` replaces a document's bytes before
    sealing (a garbage PDF, signed).  Document ``i`` is copy ``i + 1`` of ``certificate``, issued for ``kiosk_id``.
    """
    transaction_id = transaction_id or new_transaction_id()
    subject_ref = subject_ref or new_subject_ref()
    signing_key = signing_key or Ed25519PrivateKey.generate()
    pdfs: dict[str, bytes] = {}
    entries = []
    for doc_index, page_count in enumerate(pages):
        document_id = f"doc-{secrets.token_hex(6)}"
        footers = []
        for number in range(1, page_count + 1):
            here = (doc_index, number)
            subject = new_subject_ref() if here == other_subject_on else subject_ref
            binding = PageBinding(page_transaction_id or transaction_id, subject, document_id, number, page_count)
            lines = [binding.line()]
            if here == missing_binding_on:
                lines = ["（照合行なし）"]
            elif here == double_binding_on:
                lines = [binding.line(), binding.line()]
            footers.append(lines)
        order = list(range(page_count))
        if swap_pages_in == doc_index:
            order[0], order[1] = order[1], order[0]
        if drop_last_page_of == doc_index:
            order.pop()
        pdf = render_pdf(footers, order=order, filler_lines=filler_lines)
        if pdf_override and doc_index in pdf_override:
            pdf = pdf_override[doc_index]
        pdfs[document_id] = pdf
        entries.append(DocumentEntry(document_id, certificate, doc_index + 1, page_count,
                                     hashlib.sha256(pdf).hexdigest()))
    manifest = Manifest(transaction_id, subject_ref, kiosk_id, "2026-11-26T10:00:00+09:00", tuple(entries))
    envelope = seal_envelope(manifest, pdfs, signing_key)
    trusted = {key_id(signing_key.public_key()): signing_key.public_key()}
    return TestEnvelope(envelope, trusted, transaction_id, subject_ref, manifest, pdfs)
