"""The page furniture every certificate shares, and the one function that lays a certificate out on A4 pages.

A renderer describes its certificate as a title, a list of :class:`Block` (each knows its height and how to draw
itself) and its certifying statement.  :func:`render_document` paginates the blocks, then draws every page:

- the copy-deterrent background (地紋, ``server.render.ground``) with the latent word 「複写」,
- the header: 発行番号, the title and 「n／m 頁」,
- the blocks, then 「（次頁に続く）」 or, on the last page, 「以下余白」 and the certification: statement, date,
  「〈市〉長　〈氏名〉」 and the generated official seal,
- the footer: the binding line of ``certs.binding`` as real text, exactly once (the kiosk reads it back from
  every page before printing), and a QR code of the page's signed page code (``certs.page_code``).

Fonts, the background operators and the seal are built once per process or per document; nothing is parsed or
registered per call.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from certs.binding import PageBinding
from certs.page_code import PageCode
from server.render.content import DocumentIdentity, Issuer
from server.render.dates import wareki
from server.render.font_subsets import FURNITURE, reserve
from server.render.fonts import register_fonts
from server.render.ground import define_ground
from server.render.seal import SEAL_SIZE, define_seal, seal_text

WIDTH, HEIGHT = A4
LEFT, RIGHT = 18 * mm, WIDTH - 18 * mm
BODY_TOP = HEIGHT - 40 * mm
BODY_BOTTOM = 44 * mm
QR_SIZE = 26 * mm
CERTIFICATION_HEIGHT = 48 * mm  # statement, date, mayor and seal: at a fixed place above the footer
MARKER_HEIGHT = 7 * mm  # 「以下余白」 or 「（次頁に続く）」 under the last block of a page
GREY = Color(0.35, 0.35, 0.35)
RULE = Color(0.45, 0.45, 0.45)


@dataclass(frozen=True)
class Fonts:
    gothic: str
    mincho: str


@dataclass(frozen=True)
class Block:
    """A piece of a certificate that is never split across pages: ``draw(canvas, fonts, top)`` draws it between
    LEFT and RIGHT with its top edge at ``top`` and uses exactly ``height`` points."""
    height: float
    draw: Callable[[Canvas, Fonts, float], None]
    spacer: bool = False  # blank space only


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    pages: int


def fonts() -> Fonts:
    gothic, mincho = register_fonts()
    return Fonts(gothic, mincho)


def paginate(blocks: Sequence[Block]) -> list[list[Block]]:
    """Fill pages top to bottom, keeping room under the blocks for 「以下余白」/「（次頁に続く）」 and, on the last
    page, for the certification."""
    room = BODY_TOP - BODY_BOTTOM - MARKER_HEIGHT
    pages: list[list[Block]] = [[]]
    used = 0.0
    for block in blocks:
        if pages[-1] and used + block.height > room:
            if block.spacer:
                continue  # a page never starts with blank space
            pages.append([])
            used = 0.0
        pages[-1].append(block)
        used += block.height
    if used + CERTIFICATION_HEIGHT > room:  # the certification goes over, with the page's last entry
        carried: list[Block] = []
        while sum(not b.spacer for b in pages[-1]) > 1 and not any(not b.spacer for b in carried):
            carried.insert(0, pages[-1].pop())
        pages.append(carried)
    return pages


def render_document(title: str, blocks: Sequence[Block], statement: Sequence[str], issuer: Issuer,
                    identity: DocumentIdentity, signing_key: Ed25519PrivateKey) -> RenderedDocument:
    """Lay the blocks out on A4 pages with the shared furniture; returns the PDF and its page count."""
    pages = paginate(blocks)
    bindings = [PageBinding(identity.transaction_id, identity.subject_ref, identity.document_id, n, len(pages))
                for n in range(1, len(pages) + 1)]
    return render_pages(title, pages, statement, issuer, bindings, identity, signing_key)


def render_pages(title: str, pages: Sequence[Sequence[Block]], statement: Sequence[str], issuer: Issuer,
                 bindings: Sequence[PageBinding], identity: DocumentIdentity,
                 signing_key: Ed25519PrivateKey) -> RenderedDocument:
    """Draw pages already split by the caller, each with its own binding line and a QR code of the page code
    (signed with ``signing_key``) that names what that binding line names."""
    face = fonts()
    count = len(pages)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor(issuer.city)
    canvas.setCreator("kiosk reference certificate server")
    mincho, gothic = FURNITURE.get(identity.certificate, ("", ""))  # each font's first subset: the same in
    reserve(canvas._doc, face.mincho, mincho + issuer.city + issuer.mayor + seal_text(issuer.city))  # every PDF
    reserve(canvas._doc, face.gothic, gothic)  # of this type, so it is built once (server.render.font_subsets)
    ground = define_ground(canvas)
    seal = define_seal(canvas, issuer.city, face.mincho)
    for number, (page_blocks, binding) in enumerate(zip(pages, bindings, strict=True), start=1):
        canvas.doForm(ground)
        _header(canvas, face, title, issuer, number, count)
        y = BODY_TOP
        for block in page_blocks:
            block.draw(canvas, face, y)
            y -= block.height
        canvas.setFillColor(black)
        canvas.setFont(face.mincho, 9)
        canvas.drawString(LEFT, y - 5 * mm, "以下余白" if number == count else "（次頁に続く）")
        if number == count:
            _certification(canvas, face, statement, issuer, seal, BODY_BOTTOM + CERTIFICATION_HEIGHT)
        code = PageCode(binding.document_id, binding.page, binding.pages, binding.transaction_id,
                        binding.subject_ref, identity.certificate, issuer.issued_on).sign(signing_key)
        _footer(canvas, face, binding, code, _paper_noun(identity))
        canvas.showPage()
    canvas.save()
    return RenderedDocument(buffer.getvalue(), count)


def _header(canvas: Canvas, face: Fonts, title: str, issuer: Issuer, number: int, count: int) -> None:
    canvas.setFillColor(black)
    canvas.setFont(face.gothic, 9)
    canvas.drawString(LEFT, HEIGHT - 16 * mm, f"発行番号　{issuer.issue_number}")
    canvas.drawRightString(RIGHT, HEIGHT - 16 * mm, f"{number}／{count} 頁")
    canvas.setFont(face.mincho, 20)
    draw_fitted(canvas, WIDTH / 2, HEIGHT - 30 * mm, title, face.mincho, 20, RIGHT - LEFT - 40 * mm, align="centre")


def _certification(canvas: Canvas, face: Fonts, statement: Sequence[str], issuer: Issuer, seal: str,
                   top: float) -> None:
    canvas.setFillColor(black)
    canvas.setFont(face.mincho, 11)
    y = top - 6 * mm
    for line in statement:
        draw_fitted(canvas, LEFT + 6 * mm, y, line, face.mincho, 11, RIGHT - LEFT - 12 * mm)
        y -= 6 * mm
    canvas.setFont(face.mincho, 11)
    canvas.drawString(LEFT + 6 * mm, y - 2 * mm, wareki(issuer.issued_on))
    signer = f"{issuer.city}長　{issuer.mayor}"
    x_end = RIGHT - SEAL_SIZE - 2 * mm
    y_sign = y - 16 * mm
    draw_fitted(canvas, x_end, y_sign, signer, face.mincho, 14, x_end - LEFT - 60 * mm, align="right")
    canvas.saveState()
    canvas.translate(x_end + 1 * mm, y_sign - SEAL_SIZE / 2 + 2 * mm)  # the seal beside the name
    canvas.doForm(seal)
    canvas.restoreState()


def _paper_noun(identity: DocumentIdentity) -> str:
    """What the footer calls the paper: a receipt of an e-application is no 証明書."""
    return "受付票" if getattr(identity.certificate, "value", None) == "application_receipt" else "証明書"


def _footer(canvas: Canvas, face: Fonts, binding: PageBinding, code: str, noun: str = "証明書") -> None:
    x_qr, y_qr = RIGHT - QR_SIZE, 11 * mm
    draw_qr(canvas, code, x_qr, y_qr, QR_SIZE)
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.line(LEFT, 40 * mm, x_qr - 4 * mm, 40 * mm)
    canvas.setFillColor(GREY)
    canvas.setFont(face.gothic, 7)
    notice = f"この{noun}の背景には複写けん制の地紋があります。右の二次元コードで発行を確認できます。"
    draw_fitted(canvas, LEFT, 35 * mm, notice, face.gothic, 7, x_qr - 4 * mm - LEFT)
    line = binding.line()
    room = x_qr - 4 * mm - LEFT
    size = min(6.5, 6.5 * room / canvas.stringWidth(line, face.gothic, 6.5))  # one line, never under the QR
    canvas.setFont(face.gothic, size)
    canvas.drawString(LEFT, 14 * mm, line)


def qr_matrix(text: str) -> np.ndarray:
    """The QR symbol's modules (True = dark), level M, without the quiet zone."""
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    return np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128


def draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """Draw the QR as a 1-bit inline image on a white quiet zone (the background pattern must not reach it)."""
    dark = qr_matrix(text)
    modules = dark.shape[0]
    quiet = size * 4 / modules
    canvas.saveState()
    canvas.setFillColor(white)
    canvas.rect(x - quiet, y - quiet, size + 2 * quiet, size + 2 * quiet, stroke=0, fill=1)
    canvas.restoreState()
    data = np.packbits(~dark, axis=1).tobytes().hex()  # DeviceGray 1 bit: 1 is white
    canvas._code.append(f"q {size:.3f} 0 0 {size:.3f} {x:.3f} {y:.3f} cm BI /W {modules} /H {modules} /BPC 1 "
                        f"/CS /G /F /AHx ID {data}> EI Q")


def draw_fitted(canvas: Canvas, x: float, y: float, text: str, font: str, size: float, max_width: float,
                align: str = "left", min_size: float = 5.0) -> float:
    """Draw one line, shrinking the font (not below ``min_size``) so it never runs past ``max_width``."""
    width = canvas.stringWidth(text, font, size)
    if width > max_width:
        size = max(min_size, size * max_width / width)
    canvas.setFont(font, size)
    if align == "centre":
        canvas.drawCentredString(x, y, text)
    elif align == "right":
        canvas.drawRightString(x, y, text)
    else:
        canvas.drawString(x, y, text)
    return size


ROW_HEIGHT = 10 * mm


def row_block(cells: Sequence[tuple[str, str, float]], height: float = ROW_HEIGHT) -> Block:
    """A ruled row of (label, value, share of the width) cells: small grey label, value below it."""
    def draw(canvas: Canvas, face: Fonts, top: float) -> None:
        x = LEFT
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        for label, value, share in cells:
            cell = (RIGHT - LEFT) * share
            canvas.rect(x, top - height, cell, height, stroke=1, fill=0)
            canvas.setFillColor(GREY)
            draw_fitted(canvas, x + 1.5 * mm, top - 3.2 * mm, label, face.gothic, 6.5, cell - 3 * mm)
            canvas.setFillColor(black)
            draw_fitted(canvas, x + 3 * mm, top - height + 2.6 * mm, value, face.mincho, 10.5, cell - 5 * mm)
            x += cell
    return Block(height, draw)


def gap_block(height: float) -> Block:
    return Block(height, lambda canvas, face, top: None, spacer=True)


def heading_block(text: str, height: float = 8 * mm) -> Block:
    """A section heading: bold-looking gothic text over a thin rule."""
    def draw(canvas: Canvas, face: Fonts, top: float) -> None:
        canvas.setFillColor(black)
        draw_fitted(canvas, LEFT, top - height + 2.5 * mm, text, face.gothic, 10.5, RIGHT - LEFT)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.8)
        canvas.line(LEFT, top - height + 1 * mm, RIGHT, top - height + 1 * mm)
    return Block(height, draw)
