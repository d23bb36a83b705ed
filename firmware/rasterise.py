"""Turn a page of a verified PDF into the 1-bit raster the printer prints, in memory only.

pdfium renders the page in grayscale at the printer's resolution, scaled so the page's width lands on the
printable width (never wider), and numpy thresholds it to packed bits.  Every use of pdfium in the firmware goes
through :data:`PDFIUM_LOCK`: pdfium is not thread-safe, and rendering runs in worker threads.
"""
from __future__ import annotations

import math
import threading

import numpy as np
import pypdfium2 as pdfium

from hal.printer.contract import PageRaster

PDFIUM_LOCK = threading.Lock()
"""Held around every pdfium call in the firmware (pdfium must not be entered from two threads at once)."""

BLACK_BELOW = 160
"""A grayscale pixel darker than this prints black.  Above mid-grey, so anti-aliased strokes keep their weight."""


def page_label(document_id: str, page_no: int, pages: int) -> str:
    """How a page is named in logs and on the simulator's paper: ids only, never content."""
    return f"{document_id} p{page_no}/{pages}"


def fit_scale(page_width_pt: float, dpi: int, width_dots: int) -> float:
    """The render scale: the printer's resolution, shrunk if needed so the page width fits the printable width."""
    scale = min(dpi / 72.0, width_dots / page_width_pt)
    while math.ceil(page_width_pt * scale) > width_dots:  # float rounding must never add a dot
        scale = math.nextafter(scale, 0.0)
    return scale


def rasterise(pdf_bytes: bytes, page_index: int, dpi: int, width_dots: int, *, document_id: str = "",
              threshold: int = BLACK_BELOW) -> PageRaster:
    """Render page ``page_index`` (from 0) of a PDF held in memory into a :class:`PageRaster`.

    Blocking and CPU-bound: call it from the event loop with ``asyncio.to_thread``.  ``document_id`` only names
    the page (``"<document_id> p<n>/<m>"``).
    """
    with PDFIUM_LOCK:
        document = pdfium.PdfDocument(pdf_bytes)
        try:
            pages = len(document)
            if not 0 <= page_index < pages:
                raise IndexError(f"page index {page_index} is outside a {pages}-page document")
            page = document[page_index]
            try:
                scale = fit_scale(page.get_width(), dpi, width_dots)
                bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=False)
                try:
                    gray = bitmap.to_numpy()  # a view into pdfium's buffer: pack it before the bitmap closes
                    height, width = gray.shape[:2]
                    rows = np.packbits(gray.reshape(height, width) < threshold, axis=1).tobytes()
                finally:
                    bitmap.close()
            finally:
                page.close()
        finally:
            document.close()
    return PageRaster(width=width, height=height, dpi=dpi, rows=rows,
                      label=page_label(document_id, page_index + 1, pages))
