"""The refund slip: the document a resident takes to the counter when the kiosk owes money it could not pay out.

    key = load_device_key(endpoint.client_key)                       # the kiosk's mTLS key (EC P-256 from devinit)
    slip = build_slip(txn, 1200, "kiosk-dev-01", datetime.now(timezone.utc), key)
    raster = await asyncio.to_thread(render_slip, slip, printer.width_dots, printer.dpi)
    await printer.print_page(raster); await printer.cut()

The slip names the amount, the date and time (JST), the kiosk, a short reference to read aloud
(:func:`certs.refund_slip.reference_for`) and a QR code with the signed slip code (:mod:`certs.refund_slip`),
which staff check with ``kiosk-server verify``.  Nothing personal is on it: no name, no address, no card.

:func:`render_slip` draws it with Pillow in the certificates' font (IPAex Gothic) at the printer's resolution
as a receipt-width column (72 mm, narrower printers get a scaled column) centred on the printable width.
It is CPU work of some tens of milliseconds: call it with ``asyncio.to_thread`` from the event loop.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import segno
from cryptography.hazmat.primitives import serialization
from PIL import Image, ImageDraw, ImageFont

from certs import refund_slip as code
from firmware.journal_schema import check_transaction_id
from hal.printer.contract import PageRaster

FONT_PATH = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")  # Debian fonts-ipaexfont-gothic
JST = timezone(timedelta(hours=9), "JST")
COLUMN_MM = 72.0  # the printable width of an 80 mm receipt
QR_MM = 34.0


class FontMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class RefundSlip:
    transaction_id: str
    amount: int  # yen
    kiosk_id: str
    issued_at: datetime  # aware UTC, whole seconds
    reference: str  # K7QM-4TXA-9PRC
    code: str  # the QR text, KRS1.<payload>.<signature>

    @property
    def label(self) -> str:
        """How the slip is named in logs and on the simulator's paper (ids only)."""
        return f"refund-slip {self.reference}"


def load_device_key(path: str | Path):
    """The kiosk's device private key (PEM, unencrypted, as devinit and enrolment write it)."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    code.sign_payload(b"", key)  # refuses a key type the slip cannot be signed with, before any visit needs it
    return key


def build_slip(txn: str, amount: int, kiosk_id: str, issued_at: datetime, signer) -> RefundSlip:
    """The slip for ``amount`` yen owed on ``txn``, signed with ``signer`` (the device private key, EC or RSA).

    ``issued_at`` must be timezone-aware; it is kept in UTC to the second.  ValueError for a bad argument."""
    check_transaction_id(txn)
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    issued = issued_at.astimezone(timezone.utc).replace(microsecond=0)
    fields = code.SlipPayload(txn, amount, kiosk_id, issued, code.reference_for(txn))
    return RefundSlip(txn, amount, kiosk_id, issued, fields.reference, code.encode(fields, signer))


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    if not FONT_PATH.exists():
        raise FontMissing(f"IPAex Gothic not found at {FONT_PATH} (install fonts-ipaexfont-gothic)")
    return ImageFont.truetype(str(FONT_PATH), size)


def slip_lines(slip: RefundSlip) -> dict[str, str]:
    """The slip's texts, by role (what :func:`render_slip` draws, for tests and the screen)."""
    local = slip.issued_at.astimezone(JST)
    return {
        "title_ja": "返金引換票",
        "title_en": "Refund slip",
        "amount": f"¥{slip.amount:,}",
        "amount_label": "返金額 Amount owed",
        "date": f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}  ({local:%Y-%m-%d %H:%M} JST)",
        "kiosk": f"端末 Kiosk: {slip.kiosk_id}",
        "transaction": f"取引 Txn: {slip.transaction_id}",
        "reference_label": "照合番号 Reference",
        "reference": slip.reference,
        "counter_ja": "この引換票を市役所の窓口にお持ちください。",
        "counter_ja_2": "窓口で返金いたします。",
        "counter_en": "Take this slip to the counter at the city office to receive your refund.",
        "keep_ja": "再発行はできません。大切にお持ちください。",
        "keep_en": "This slip cannot be reissued: keep it safe.",
    }


class _Canvas:
    """A white column ``width`` dots wide that grows downward; sizes are given in millimetres."""

    def __init__(self, width: int, dpmm: float):
        self.width, self.dpmm = width, dpmm
        self.image = Image.new("L", (width, int(200 * dpmm)), 255)
        self.draw = ImageDraw.Draw(self.image)
        self.y = 0
        self.margin = round(2 * dpmm)

    def px(self, mm: float) -> int:
        return max(1, round(mm * self.dpmm))

    def space(self, mm: float) -> None:
        self.y += self.px(mm)

    def text(self, text: str, size_mm: float, *, centre: bool = False) -> None:
        font = _font(self.px(size_mm))
        for line in _wrap(text, font, self.width - 2 * self.margin):
            left, _, right, _ = font.getbbox(line)
            x = (self.width - (right - left)) // 2 - left if centre else self.margin
            self.draw.text((x, self.y), line, font=font, fill=0)
            self.y += round(font.size * 1.25)

    def spaced(self, text: str, size_mm: float) -> None:
        """A line drawn with wide letter spacing, hyphens padded, centred and shrunk to fit the column: the
        reference, easy to read aloud and to compare."""
        size = self.px(size_mm)
        while True:
            font = _font(size)
            track = round(size * 0.12)
            widths = [round(font.getlength(c)) + (3 * track if c == "-" else track) for c in text]
            if sum(widths) - track <= self.width - 2 * self.margin or size <= 8:
                break
            size -= 1
        x = (self.width - sum(widths) + track) // 2
        for char, width in zip(text, widths):
            pad = track if char == "-" else 0
            self.draw.text((x + pad, self.y), char, font=font, fill=0)
            x += width
        self.y += round(font.size * 1.3)

    def rule(self, thick_mm: float = 0.3) -> None:
        self.y += self.px(1.2)
        self.draw.rectangle((self.margin, self.y, self.width - self.margin, self.y + self.px(thick_mm) - 1), fill=0)
        self.y += self.px(thick_mm) + self.px(1.5)

    def qr(self, text: str, size_mm: float) -> None:
        matrix = np.array([list(row) for row in segno.make(text, error="m", micro=False).matrix], dtype=np.uint8)
        border = 4
        modules = matrix.shape[0] + 2 * border
        scale = max(3, min(self.px(size_mm), self.width - 2 * self.margin) // modules)
        dark = np.kron(np.pad(matrix, border), np.ones((scale, scale), dtype=np.uint8))
        tile = Image.fromarray(np.where(dark == 1, 0, 255).astype(np.uint8), "L")
        if tile.width > self.width:
            raise ValueError(f"a {self.width}-dot column is too narrow for the slip's QR code ({tile.width} dots)")
        self.image.paste(tile, ((self.width - tile.width) // 2, self.y))
        self.y += tile.height

    def finish(self) -> Image.Image:
        return self.image.crop((0, 0, self.width, self.y + self.px(4)))


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy wrap: Latin text breaks at spaces, Japanese anywhere (never before 。、)."""
    lines, line = [], ""
    for token in _tokens(text):
        trial = line + token
        if line and font.getlength(trial.rstrip()) > width and token.strip() and token not in "。、":
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line = trial
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _tokens(text: str) -> list[str]:
    tokens, word = [], ""
    for char in text:
        if char.isascii() and not char.isspace():
            word += char
            continue
        if word:
            tokens.append(word)
            word = ""
        tokens.append(char)
    if word:
        tokens.append(word)
    return tokens


def slip_image(slip: RefundSlip, width_dots: int, dpi: int) -> Image.Image:
    """The slip as a grayscale image ``width_dots`` wide (the column centred on it)."""
    if dpi <= 0 or width_dots <= 0:
        raise ValueError("the printer's resolution and width must be positive")
    dpmm = dpi / 25.4
    column = min(width_dots, round(COLUMN_MM * dpmm))
    scale = column / (COLUMN_MM * dpmm)  # below 1 only on a printer narrower than a receipt
    canvas = _Canvas(column, dpmm * scale)
    lines = slip_lines(slip)
    canvas.space(3)
    canvas.text(lines["title_ja"], 7.5, centre=True)
    canvas.text(lines["title_en"], 4.2, centre=True)
    canvas.rule(0.6)
    canvas.text(lines["amount_label"], 3.2)
    canvas.text(lines["amount"], 12, centre=True)
    canvas.rule()
    canvas.text(lines["date"], 3.0)
    canvas.text(lines["kiosk"], 3.0)
    canvas.text(lines["transaction"], 2.4)
    canvas.rule()
    canvas.text(lines["reference_label"], 3.2)
    canvas.spaced(lines["reference"], 8.0)
    canvas.space(1.5)
    canvas.qr(slip.code, QR_MM)
    canvas.rule()
    canvas.text(lines["counter_ja"], 3.3)
    canvas.text(lines["counter_ja_2"], 3.3)
    canvas.text(lines["counter_en"], 3.2)
    canvas.space(1)
    canvas.text(lines["keep_ja"], 2.6)
    canvas.text(lines["keep_en"], 2.6)
    column_image = canvas.finish()
    page = Image.new("L", (width_dots, column_image.height), 255)
    page.paste(column_image, ((width_dots - column) // 2, 0))
    return page


def render_slip(slip: RefundSlip, width_dots: int, dpi: int, *, threshold: int = 160) -> PageRaster:
    """The slip as the 1-bit page the printer prints (``hal.printer.contract.PageRaster``)."""
    gray = np.asarray(slip_image(slip, width_dots, dpi))
    height, width = gray.shape
    rows = np.packbits(gray < threshold, axis=1).tobytes()
    return PageRaster(width=width, height=height, dpi=dpi, rows=rows, label=slip.label)
