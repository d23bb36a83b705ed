"""The copy-deterrent background (地紋) with the latent word 「複写」 (けん制文字), built once per process.

The technique is the one anti-copy paper uses: the page is covered with a fine pattern of thin hairlines, and
inside the outline of the word the pattern is replaced by coarse dots of the same average coverage.  On the
original both read as the same faint tint, so the word is barely visible.  A copier blurs fine detail away and
then thresholds: the hairlines melt into a tint below its threshold and vanish, while each coarse dot keeps a
core dark enough to survive, so the word stands out on the copy.

Everything is computed once per process, as one string of PDF operators: the hairlines, and for each copy of
the word a clipping path made of its glyph outlines (IPAex Gothic, read with fontTools: paths, not text, so the
word never shows in the page's text) filled with dotted rows.  Each PDF defines it once as a form XObject and
draws that form on every page, so a page costs one ``Do`` and a document one (cached) compressed stream.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from fontTools.pens.basePen import BasePen
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from server.render.fonts import GOTHIC_PATH

WORD = "複写"
FORM_NAME = "copy-ground"
INK = (0.66, 0.72, 0.82)  # a light blue-grey tint (RGB)
LINE_PITCH = 1.6  # pt between hairlines of the background
LINE_WIDTH = 0.32  # pt: coverage 0.32 / 1.6 = 20 %
DOT_PITCH = 4.4  # pt between dots inside the word
DOT_SIZE = 2.3  # pt, round: coverage π/4 · (2.3 / 4.4)² ≈ 21 % (hairlines render a little heavier than their width)
WORD_SIZE = 130.0  # pt (46 mm) per character
MARGIN = 8 * 72 / 25.4  # the pattern stops 8 mm from the paper's edge (printers' unprintable border)
BASELINES = ((60.0, 660.0), (300.0, 470.0), (60.0, 280.0), (300.0, 90.0))  # where each 「複写」 sits (pt)


def _f(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def hairlines() -> str:
    """The background: horizontal hairlines over the whole printable area (one path, stroked once)."""
    width, height = A4
    rows, y = [], MARGIN
    while y <= height - MARGIN:
        rows.append(f"{_f(MARGIN)} {_f(y)} m {_f(width - MARGIN)} {_f(y)} l")
        y += LINE_PITCH
    return f"{INK[0]} {INK[1]} {INK[2]} RG {_f(LINE_WIDTH)} w 0 J\n" + "\n".join(rows) + "\nS"


class _PdfPathPen(BasePen):
    """Glyph outlines as PDF path operators, scaled and placed (quadratic curves become cubic ones)."""

    def __init__(self, glyphs, scale: float, x: float, y: float):
        super().__init__(glyphs)
        self.ops: list[str] = []
        self.scale, self.x, self.y = scale, x, y

    def _p(self, point) -> str:
        return f"{_f(self.x + point[0] * self.scale)} {_f(self.y + point[1] * self.scale)}"

    def _moveTo(self, p0):
        self.ops.append(f"{self._p(p0)} m")

    def _lineTo(self, p1):
        self.ops.append(f"{self._p(p1)} l")

    def _curveToOne(self, p1, p2, p3):
        self.ops.append(f"{self._p(p1)} {self._p(p2)} {self._p(p3)} c")

    def _closePath(self):
        self.ops.append("h")


@functools.cache
def _glyphs():
    """(glyph set, names of the word's glyphs, units per em) of the embedded Gothic, read once."""
    font = TTFont(str(GOTHIC_PATH), lazy=True)
    cmap = font.getBestCmap()
    return font.getGlyphSet(), tuple(cmap[ord(c)] for c in WORD), float(font["head"].unitsPerEm)


def _advance() -> float:
    glyphs, names, _ = _glyphs()
    return sum(glyphs[name].width for name in names)


def word_clip(x: float, y: float) -> str:
    """A clipping path of the word's glyphs with the baseline starting at (x, y)."""
    glyphs, names, units = _glyphs()
    scale = WORD_SIZE / units
    ops, advance = [], 0.0
    for name in names:
        pen = _PdfPathPen(glyphs, scale, x + advance * scale, y)
        glyphs[name].draw(pen)
        ops += pen.ops
        advance += glyphs[name].width
    return "\n".join(ops) + "\nW n"


def word_box(x: float, y: float) -> tuple[float, float, float, float]:
    """The box 「複写」 occupies when its baseline starts at (x, y): (x0, y0, x1, y1) in pt."""
    return x, y - 0.14 * WORD_SIZE, x + _advance() * WORD_SIZE / _glyphs()[2], y + 0.90 * WORD_SIZE


def _dots(box: tuple[float, float, float, float]) -> str:
    """White out the box (inside the clip, i.e. the glyphs) and fill it with staggered round dots."""
    x0, y0, x1, y1 = box
    ops = [f"1 g {_f(x0)} {_f(y0)} {_f(x1 - x0)} {_f(y1 - y0)} re f",
           f"{INK[0]} {INK[1]} {INK[2]} RG {_f(DOT_SIZE)} w 1 J"]
    y = DOT_PITCH * math.ceil(y0 / DOT_PITCH)
    while y <= y1:
        shift = DOT_PITCH / 2 if round(y / DOT_PITCH) % 2 else 0.0
        first = shift + DOT_PITCH * math.ceil((x0 - shift) / DOT_PITCH)
        ops.append(f"[0 {_f(DOT_PITCH)}] 0 d {_f(first)} {_f(y)} m {_f(x1)} {_f(y)} l S")
        y += DOT_PITCH
    return "\n".join(ops)


@functools.cache
def operators() -> str:
    """The whole background as one string of PDF operators: hairlines, then each word clipped and dotted."""
    parts = ["q", hairlines()]
    for x, y in BASELINES:
        parts += ["q", word_clip(x, y), _dots(word_box(x, y)), "Q"]
    parts.append("Q")
    return "\n".join(parts)


def define_ground(canvas: Canvas) -> str:
    """Put the background form into this PDF (once); returns its name for ``doForm``.  The form's content is
    the precomputed operator string: no drawing calls, no text (so 「複写」 never shows in the page's text)."""
    width, height = A4
    canvas.beginForm(FORM_NAME, lowerx=0, lowery=0, upperx=width, uppery=height)
    canvas._code.append(operators())
    canvas.endForm()
    return FORM_NAME


def word_mask(font_path: str, scale: float) -> np.ndarray:
    """Where the word's glyphs are on the page, as a bool image [row, col] at ``scale`` px per pt (row 0 at the
    top): what a test compares the rendered page against.  Drawn with PIL from the same font file."""
    width, height = A4
    image = Image.new("1", (round(width * scale), round(height * scale)), 0)
    draw = ImageDraw.Draw(image)
    pil_font = ImageFont.truetype(font_path, round(WORD_SIZE * scale))
    for x, y in BASELINES:
        draw.text((x * scale, (height - y) * scale), WORD, font=pil_font, fill=1, anchor="ls")
    return np.array(image, dtype=bool)
