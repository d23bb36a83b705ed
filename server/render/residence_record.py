"""住民票の写し (copy of the residence record) as an A4 PDF.

Fields follow 住民基本台帳法 第7条 as municipal kiosks print them (domain-facts §3.3): 氏名, 生年月日, 性別,
続柄 and 世帯主 (if chosen), 住民となった年月日, 住所 and 住所を定めた年月日, 届出年月日 and 従前の住所,
本籍・筆頭者 (if chosen), 個人番号 (only if chosen and the city allows it).  The 住民票コード is never printed.
The certifying statement, date, mayor and seal close the last page.  Every page carries, in its footer, the
binding line of ``certs.binding`` as real text (exactly once) and a QR code of the same line.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Sequence

import segno
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from certs.binding import PageBinding
from server.render.content import Issuer, PersonEntry, ResidenceRecord
from server.render.dates import wareki
from server.render.fonts import register_fonts
from server.render.seal import SEAL_SIZE, define_seal

PERSONS_PER_PAGE = 3
TITLE = "住民票の写し"
STATEMENT_SELF = "この写しは、住民票の原本と相違ないことを証明する。"
STATEMENT_HOUSEHOLD = "この写しは、世帯全員の住民票の原本と相違ないことを証明する。"
_GREY = Color(0.35, 0.35, 0.35)
_RULE = Color(0.55, 0.55, 0.55)


@dataclass(frozen=True)
class PageContent:
    """One sheet: whose record, which persons, and the binding line it carries."""
    record: ResidenceRecord
    persons: tuple[PersonEntry, ...]
    binding: PageBinding


def page_slices(persons: Sequence[PersonEntry]) -> list[tuple[PersonEntry, ...]]:
    return [tuple(persons[i:i + PERSONS_PER_PAGE]) for i in range(0, len(persons), PERSONS_PER_PAGE)] or [()]


def pages_needed(person_count: int) -> int:
    return max(1, -(-person_count // PERSONS_PER_PAGE))


def _qr_image(text: str) -> ImageReader:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=3, border=2)
    buffer.seek(0)
    return ImageReader(buffer)


def render_residence_record_copy(pages: Sequence[PageContent], issuer: Issuer) -> bytes:
    """Draw the pages; returns the PDF bytes (deterministic for the same input)."""
    gothic, mincho = register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(TITLE)
    canvas.setCreator("kiosk reference certificate server")
    seal = define_seal(canvas, issuer.city, mincho)
    for number, page in enumerate(pages, start=1):
        _draw_page(canvas, page, issuer, number, len(pages), gothic, mincho,
                   seal if number == len(pages) else None)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_page(canvas: Canvas, page: PageContent, issuer: Issuer, number: int, count: int, gothic: str,
               mincho: str, seal: str | None) -> None:
    width, height = A4
    left, right = 18 * mm, width - 18 * mm
    record = page.record
    canvas.setFillColor(black)
    canvas.setFont(gothic, 9)
    canvas.drawString(left, height - 15 * mm, f"発行番号 {issuer.issue_number}")
    canvas.drawRightString(right, height - 15 * mm, f"{number}/{count} 頁")
    canvas.setFont(mincho, 20)
    canvas.drawCentredString(width / 2, height - 28 * mm, TITLE)

    y = height - 42 * mm
    y = _row(canvas, left, right, y, (("住所", record.address, 1.0),), gothic, mincho)
    y = _row(canvas, left, right, y, (("住所を定めた年月日", wareki(record.address_set_on), 0.5),
                                      ("世帯主", record.head_name if record.show_head else "（省略）", 0.5)),
             gothic, mincho)
    y = _row(canvas, left, right, y, (("従前の住所", record.previous_address, 1.0),), gothic, mincho)
    y -= 4 * mm
    for person in page.persons:
        y = _person(canvas, left, right, y, person, record, gothic, mincho)
        y -= 3 * mm
    canvas.setFont(mincho, 9)
    canvas.drawString(left, y - 2 * mm, "以下余白" if number == count else "（次頁に続く）")

    if seal is not None:
        _certify(canvas, width, left, record, issuer, mincho, seal)
    _footer(canvas, left, right, page.binding, gothic)


def _row(canvas: Canvas, left: float, right: float, top: float, cells, gothic: str, mincho: str,
         height: float = 11 * mm) -> float:
    """A ruled row of (label, value, width share) cells; returns the y below it."""
    x = left
    canvas.setStrokeColor(_RULE)
    canvas.setLineWidth(0.5)
    for label, value, share in cells:
        cell = (right - left) * share
        canvas.rect(x, top - height, cell, height, stroke=1, fill=0)
        canvas.setFillColor(_GREY)
        canvas.setFont(gothic, 6.5)
        canvas.drawString(x + 1.5 * mm, top - 3.2 * mm, label)
        canvas.setFillColor(black)
        canvas.setFont(mincho, 10.5)
        canvas.drawString(x + 3 * mm, top - 8.6 * mm, value)
        x += cell
    return top - height


def _person(canvas: Canvas, left: float, right: float, top: float, person: PersonEntry,
            record: ResidenceRecord, gothic: str, mincho: str) -> float:
    y = _row(canvas, left, right, top, (
        ("氏名", person.name, 0.4), ("生年月日", wareki(person.birth_date), 0.3), ("性別", person.sex, 0.1),
        ("続柄", person.relationship if record.show_head else "（省略）", 0.2)), gothic, mincho)
    y = _row(canvas, left, right, y, (("住民となった年月日", wareki(person.became_resident_on), 0.5),
                                      ("届出年月日", wareki(person.notified_on), 0.5)), gothic, mincho)
    if record.show_domicile:
        y = _row(canvas, left, right, y, (("本籍", person.domicile, 0.65), ("筆頭者", person.domicile_head, 0.35)),
                 gothic, mincho)
    if person.my_number is not None:
        y = _row(canvas, left, right, y, (("個人番号", person.my_number, 1.0),), gothic, mincho)
    return y


def _certify(canvas: Canvas, width: float, left: float, record: ResidenceRecord, issuer: Issuer, mincho: str,
             seal: str) -> None:
    canvas.setFillColor(black)
    canvas.setFont(mincho, 11)
    statement = STATEMENT_HOUSEHOLD if record.household_scope else STATEMENT_SELF
    canvas.drawString(left + 6 * mm, 72 * mm, statement)
    canvas.drawString(left + 6 * mm, 64 * mm, wareki(issuer.issued_on))
    signer = f"{issuer.city}長　{issuer.mayor}"
    canvas.setFont(mincho, 13)
    x_end = width - 45 * mm
    canvas.drawRightString(x_end, 52 * mm, signer)
    canvas.saveState()
    canvas.translate(x_end + 3 * mm, 52 * mm - SEAL_SIZE / 2 + 2 * mm)
    canvas.doForm(seal)
    canvas.restoreState()


def _footer(canvas: Canvas, left: float, right: float, binding: PageBinding, gothic: str) -> None:
    qr = 17 * mm
    canvas.drawImage(_qr_image(binding.line()), right - qr, 12 * mm, qr, qr)
    canvas.setStrokeColor(_RULE)
    canvas.line(left, 31 * mm, right - qr - 3 * mm, 31 * mm)
    canvas.setFillColor(_GREY)
    line = binding.line()
    room = right - qr - 3 * mm - left
    size = min(6.5, 6.5 * room / canvas.stringWidth(line, gothic, 6.5))  # one line, never under the QR code
    canvas.setFont(gothic, size)
    canvas.drawString(left, 14 * mm, line)
