"""The print pipeline: verify the envelope, then print its pages one by one, and say exactly how far it got.

Nothing prints unverified (ARCHITECTURE.md, invariant 4).  :func:`verify_documents` is the only way to get a
:class:`VerifiedSet`, and :func:`print_verified` prints nothing else.  Verification checks the signed manifest
(:func:`certs.envelope.open_envelope`) and then reads the binding line back from every page of every PDF
(:func:`certs.envelope.check_pages`) before the first page is rasterised.  The PDFs stay in memory: they are
handed to pdfium as bytes and never written anywhere.

Printing stops at the first fault and never retries a page by itself: the report says how many pages printed and
what stopped the printer; refunds and alarms are the controller's business.

Cutting: the kiosk printer is roll-fed, and each A4 page becomes a sheet only when it is cut, so
:func:`print_verified` cuts after every page (as the KPM216H does, sheet by sheet).  Every page that printed
therefore lies in the outlet as a separate sheet, even if a later page fails, rather than hanging uncut in the
printer with someone's personal data on it.  A page counts as printed only once its sheet is cut and presented: a
cut that fails is a print failure, and the page it left hanging in the printer is not the resident's (nor charged).
"""
from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Mapping

import pypdfium2 as pdfium
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from certs.envelope import DocumentEntry, DocumentRejected, Manifest, RejectReason, check_pages, open_envelope
from firmware.rasterise import PDFIUM_LOCK, rasterise
from hal.printer.contract import Printer, PrinterFault, PrinterStatus

PagePrinted = Callable[[str, int], "None | Awaitable[None]"]
"""Called with (document_id, page_no from 1) after each page printed; may be a coroutine function."""

_ISSUED_BY_VERIFY = object()


@dataclass(frozen=True)
class VerifiedDocument:
    entry: DocumentEntry
    pdf: bytes = field(repr=False)

    @property
    def document_id(self) -> str:
        return self.entry.document_id

    @property
    def pages(self) -> int:
        return self.entry.pages


@dataclass(frozen=True)
class VerifiedSet:
    """Documents whose signature, transaction, resident, hashes and per-page bindings all checked out.

    Only :func:`verify_documents` makes one.  It holds the PDFs (personal data) in memory: drop it when the visit
    ends.
    """

    manifest: Manifest
    documents: tuple[VerifiedDocument, ...]
    _issuer: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self._issuer is not _ISSUED_BY_VERIFY:
            raise TypeError("a VerifiedSet comes only from verify_documents()")

    @property
    def total_pages(self) -> int:
        return sum(d.pages for d in self.documents)


@dataclass(frozen=True)
class PrintReport:
    pages_total: int
    pages_printed: int
    fault: PrinterStatus | None = None  # what stopped the printer; None when every page printed

    @property
    def complete(self) -> bool:
        return self.fault is None and self.pages_printed == self.pages_total


def page_texts(document_id: str, pdf: bytes) -> list[str]:
    """The text of every page of a PDF held in memory.  A PDF pdfium cannot read is MALFORMED."""
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(pdf)
        except pdfium.PdfiumError:
            raise DocumentRejected(RejectReason.MALFORMED, f"document {document_id} is not a readable PDF") from None
        try:
            texts = []
            for index in range(len(document)):
                page = document[index]
                try:
                    textpage = page.get_textpage()
                    try:
                        texts.append(textpage.get_text_range())
                    finally:
                        textpage.close()
                finally:
                    page.close()
            return texts
        except pdfium.PdfiumError:
            raise DocumentRejected(RejectReason.MALFORMED, f"document {document_id} is not a readable PDF") from None
        finally:
            document.close()


def verify_documents(envelope: object, trusted_keys: Mapping[str, Ed25519PublicKey], transaction_id: str,
                     subject_ref: str) -> VerifiedSet:
    """Check an envelope completely, or raise :class:`DocumentRejected` with the reason.

    Blocking (signature check, PDF parsing): from the event loop, call it with ``asyncio.to_thread``.
    """
    manifest, opened = open_envelope(envelope, trusted_keys, transaction_id=transaction_id, subject_ref=subject_ref)
    for document in opened:
        check_pages(manifest, document.entry, page_texts(document.entry.document_id, document.pdf))
    verified = tuple(VerifiedDocument(d.entry, d.pdf) for d in opened)
    return VerifiedSet(manifest, verified, _ISSUED_BY_VERIFY)


async def print_verified(verified: VerifiedSet, printer: Printer,
                         on_page_printed: PagePrinted | None = None) -> PrintReport:
    """Print every page of a verified set, in manifest order, cutting each sheet; stop at the first fault.

    Before each page the printer is asked for its status; a printer that cannot print stops the job before the
    page starts.  A :class:`PrinterFault` from ``print_page`` or ``cut`` stops it too.  A page counts as printed
    when ``print_page`` (which returns once the page is on paper) and then ``cut`` (once the sheet is presented)
    returned; ``on_page_printed`` is called then.  An exception from the callback (say, the journal could not record
    the page) stops printing and propagates.  (A crash between the cut and the callback leaves a delivered page
    out of the journal: recovery then refunds it, in the resident's favour.)
    """
    if not isinstance(verified, VerifiedSet):
        raise TypeError("print_verified prints only a VerifiedSet")
    total = verified.total_pages
    printed = 0
    for document in verified.documents:
        for index in range(document.pages):
            status = await printer.status()
            if not status.can_print:
                return PrintReport(total, printed, status)
            raster = await asyncio.to_thread(rasterise, document.pdf, index, printer.dpi, printer.width_dots,
                                             document_id=document.document_id)
            try:
                await printer.print_page(raster)
                await printer.cut()
            except PrinterFault as fault:
                return PrintReport(total, printed, fault.status)
            printed += 1
            if on_page_printed is not None:
                outcome = on_page_printed(document.document_id, index + 1)
                if inspect.isawaitable(outcome):
                    await outcome
    return PrintReport(total, printed, None)
