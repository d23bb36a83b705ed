"""印鑑登録証明書: the registered seal's impression (印影) with 登録番号, 氏名, 生年月日, 性別 and 住所.

The reference registry has no scanned impressions, so the impression is generated: a ring (round, oval or
square) with the seal's text in vertical columns, inked unevenly the way a real stamp prints.  It is a raster
image drawn as a red stencil mask (1 bit per pixel), made once per seal and reused.  A registry that holds real
scans passes them as PNG in ``SealImpression.png``.
"""
from __future__ import annotations

import functools
import hashlib
import io

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from reportlab.lib.colors import black
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from server.render.content import DocumentIdentity, Issuer, SealImpression, SealRegistration
from server.render.dates import wareki
from server.render.fonts import MINCHO_PATH, GOTHIC_PATH
from server.render.furniture import (GREY, LEFT, RIGHT, RULE, Block, Fonts, RenderedDocument, draw_fitted,
                                     render_document)
from server.render.seal import SEAL_RED

TITLE = "印鑑登録証明書"
STATEMENT = "この写しは、登録されている印影と相違ないことを証明する。"
_BOX = 42 * mm  # the 印影 frame
_PIXELS_PER_MM = 16  # about 400 dpi: crisp on a 600 dpi printer, small as 1-bit data


@functools.lru_cache(maxsize=256)
def impression_stencil(impression: SealImpression) -> tuple[int, int, str]:
    """(width px, height px, hex of the 1-bit rows; 0 = ink) of the impression, made once per seal."""
    if impression.png is not None:
        image = Image.open(io.BytesIO(impression.png)).convert("L")
        ink = np.asarray(image) < 128
    else:
        ink = _synthetic(impression.text, impression.shape, impression.size_mm)
    return ink.shape[1], ink.shape[0], np.packbits(~ink, axis=1).tobytes().hex()


def _synthetic(text: str, shape: str, size_mm: float) -> np.ndarray:
    side = round(size_mm * _PIXELS_PER_MM)
    width = side if shape != "oval" else round(side * 0.72)
    image = Image.new("L", (width, side), 255)
    draw = ImageDraw.Draw(image)
    ring = max(3, side // 16)
    box = (ring // 2, ring // 2, width - 1 - ring // 2, side - 1 - ring // 2)
    if shape == "square":
        draw.rectangle(box, outline=0, width=ring)
    else:
        draw.ellipse(box, outline=0, width=ring)
    chars = text[:4] or "印"
    columns = 1 if len(chars) <= 2 or shape == "oval" else 2
    rows = -(-len(chars) // columns)
    inner = (side - 4 * ring) / rows
    size = int(min(inner, (width - 4 * ring) / columns) * 0.95)
    path = str(MINCHO_PATH if MINCHO_PATH.exists() else GOTHIC_PATH)
    font = ImageFont.truetype(path, size)
    for index, char in enumerate(chars):  # columns right to left, top to bottom
        column, row = divmod(index, rows)
        cx = width / 2 + (columns / 2 - column - 0.5) * (width - 4 * ring) / columns
        cy = 2 * ring + (row + 0.5) * inner
        draw.text((cx, cy), char, font=font, fill=0, anchor="mm", stroke_width=max(1, size // 28), stroke_fill=0)
    # uneven ink: a fixed, seal-specific speckle pattern lifts some ink, blurred so edges stay organic
    seed = int.from_bytes(hashlib.sha256(f"{text}|{shape}".encode()).digest()[:4], "big")
    noise = np.random.default_rng(seed).random((side, width))
    speckle = Image.fromarray((noise > 0.93).astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(2.2))
    lifted = np.asarray(speckle) > 60
    return (np.asarray(image) < 128) & ~lifted


def _draw_impression(canvas: Canvas, impression: SealImpression, x: float, y: float, box: float) -> None:
    width_px, height_px, data = impression_stencil(impression)
    height = impression.size_mm * mm
    width = height * width_px / height_px
    canvas.saveState()
    canvas._code.append(f"{SEAL_RED.red} {SEAL_RED.green} {SEAL_RED.blue} rg q {width:.3f} 0 0 {height:.3f} "
                        f"{x + (box - width) / 2:.3f} {y + (box - height) / 2:.3f} cm BI /W {width_px} "
                        f"/H {height_px} /IM true /BPC 1 /F /AHx ID {data}> EI Q")
    canvas.restoreState()


def blocks(seal: SealRegistration) -> list[Block]:
    rows = [("印鑑登録番号", seal.registration_number), ("氏名", seal.name)]
    if seal.alias:
        rows.append(("通称", seal.alias))
    rows.append(("生年月日", wareki(seal.birth_date)))
    if seal.show_sex:
        rows.append(("性別", seal.sex))
    rows.append(("住所", seal.address))
    height = max(_BOX, len(rows) * 10 * mm)

    def draw(canvas: Canvas, face: Fonts, top: float) -> None:
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.6)
        canvas.rect(LEFT, top - height, _BOX, height, stroke=1, fill=0)
        canvas.setFillColor(GREY)
        canvas.setFont(face.gothic, 7)
        canvas.drawString(LEFT + 1.5 * mm, top - 3.5 * mm, "印影")
        _draw_impression(canvas, seal.impression, LEFT, top - height + (height - _BOX) / 2, _BOX)
        x, row_height, y = LEFT + _BOX, height / len(rows), top
        for label, value in rows:
            canvas.setStrokeColor(RULE)
            canvas.rect(x, y - row_height, 28 * mm, row_height, stroke=1, fill=0)
            canvas.rect(x + 28 * mm, y - row_height, RIGHT - x - 28 * mm, row_height, stroke=1, fill=0)
            canvas.setFillColor(GREY)
            draw_fitted(canvas, x + 2 * mm, y - row_height / 2 - 1.2 * mm, label, face.gothic, 8.5, 25 * mm)
            canvas.setFillColor(black)
            draw_fitted(canvas, x + 31 * mm, y - row_height / 2 - 1.5 * mm, value, face.mincho, 11,
                        RIGHT - x - 33 * mm)
            y -= row_height

    return [Block(height, draw)]


def statement(seal: SealRegistration) -> tuple[str, ...]:
    return (STATEMENT,)


def render_seal_registration(seal: SealRegistration, issuer: Issuer, identity: DocumentIdentity,
                             signing_key: Ed25519PrivateKey) -> RenderedDocument:
    return render_document(TITLE, blocks(seal), statement(seal), issuer, identity, signing_key)
