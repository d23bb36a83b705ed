"""The copy-deterrent background (地紋) with the latent word 「複写」 (けん制文字), built once per process.

A line screen with a latent image: the page is covered with fine hairlines, and inside the outline of the word
they give way to coarse lines of the same average coverage (20 %).  On the original both read as the same
faint tint, so the word is barely visible.  A copier blurs fine detail away and then thresholds: the hairlines
melt into a tint below its threshold and vanish, while each coarse line keeps a core dark enough to survive, so
the word stands out on the copy.

Everything is computed once per process: the word's shape (PIL draws it from the same IPAex Gothic the
documents embed), then every line segment (hairlines broken around the word, coarse lines inside it) as one
string of PDF operators.  Plain stroked segments only (no clipping path, no dashes, no text: the word never
shows in the page's text, and the page rasterises quickly on the kiosk).  Each PDF defines the string once as a
form XObject and draws that form on every page: a page costs one ``Do``, a document one stream, encoded and
compressed once per process.
"""
from __future__ import annotations

import functools
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.pdfdoc import xObjectName
from reportlab.pdfgen.canvas import Canvas

from server.render.fonts import GOTHIC_PATH
from server.render.reportlab_tuning import Deflated

WORD = "複写"
FORM_NAME = "copy-ground"
INK = (0.66, 0.72, 0.82)  # a light blue-grey tint (RGB)
FINE_PITCH, FINE_WIDTH = 1.6, 0.32  # pt: hairlines everywhere, coverage 20 %
COARSE_PITCH, COARSE_WIDTH = 4.4, 0.98  # pt: the word's lines at a third of the frequency; 22 % (hairlines print heavier)
WORD_SIZE = 130.0  # pt (46 mm) per character
MARGIN = 8 * 72 / 25.4  # the pattern stops 8 mm from the paper's edge (printers' unprintable border)
BASELINES = ((60.0, 660.0), (300.0, 470.0), (60.0, 280.0), (300.0, 90.0))  # where each 「複写」 sits (pt)
_SCALE = 4  # mask pixels per pt
_GAP = 2  # mask pixels kept clear above and below the word by the hairlines


def word_mask(scale: float) -> np.ndarray:
    """Where the word's glyphs are on the page: a bool image [row, col] at ``scale`` px per pt, row 0 at the top
    (what the background is built from, and what a test compares a rendered page against)."""
    width, height = A4
    image = Image.new("1", (round(width * scale), round(height * scale)), 0)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(GOTHIC_PATH), round(WORD_SIZE * scale))
    for x, y in BASELINES:
        draw.text((x * scale, (height - y) * scale), WORD, font=font, fill=1, anchor="ls")
    return np.array(image, dtype=bool)


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) column pairs of the True runs in a boolean row."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], row, [False])).astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _f(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _rows(where: np.ndarray, pitch: float) -> list[str]:
    """Horizontal segments every ``pitch`` pt wherever ``where`` is True, within the margins."""
    width, height = A4
    first, last = round(MARGIN * _SCALE), round((width - MARGIN) * _SCALE)
    segments, y = [], MARGIN
    while y <= height - MARGIN:
        row = where[min(where.shape[0] - 1, int((height - y) * _SCALE)), first:last]
        for start, end in _runs(row):
            segments.append(f"{_f(MARGIN + start / _SCALE)} {_f(y)} m {_f(MARGIN + end / _SCALE)} {_f(y)} l")
        y += pitch
    return segments


@functools.cache
def operators() -> str:
    """The whole background as one string of PDF operators."""
    mask = word_mask(_SCALE)
    kept_clear = mask | np.roll(mask, _GAP, axis=0) | np.roll(mask, -_GAP, axis=0)
    return "\n".join([
        "q", f"{INK[0]} {INK[1]} {INK[2]} RG 0 J", f"{_f(FINE_WIDTH)} w", *_rows(~kept_clear, FINE_PITCH), "S",
        f"{_f(COARSE_WIDTH)} w", *_rows(mask, COARSE_PITCH), "S", "Q"])


@functools.cache
def _form_stream(preamble: str) -> tuple[bytes, bytes]:
    """The form's content stream as reportlab's ``endForm`` encodes it, and deflated: both once per process."""
    content = pdfdoc.pdfdocEnc("\n".join([preamble, operators()]))
    return content, zlib.compress(content)


def define_ground(canvas: Canvas) -> str:
    """Put the background form into this PDF (once); returns its name for ``doForm``.  The form object is
    reportlab's own; only its content stream, the same bytes in every document, is encoded and compressed once
    (Flate, as every stream: server.render.reportlab_tuning)."""
    width, height = A4
    canvas.beginForm(FORM_NAME, lowerx=0, lowery=0, upperx=width, uppery=height)
    content, deflated = _form_stream(canvas._preamble)
    canvas.endForm()
    form = canvas._doc.idToObject[xObjectName(FORM_NAME)]
    form.stream = content
    form.Contents = pdfdoc.PDFStream(content=content, filters=[Deflated(deflated)] if form.compression else None)
    form.compression = 0  # the filter is set above
    return FORM_NAME
