"""市県民税 課税・非課税証明書 of the latest fiscal year (年度): the income of the previous calendar year, the
deductions, and the tax (市民税 and 県民税, each 均等割 and 所得割) — or 「非課税」 when no tax is levied.

The address printed is the one of 1 January of the fiscal year (the 賦課期日), as tax certificates show it.
"""
from __future__ import annotations

from datetime import date
from typing import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.lib.colors import black
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from server.render.content import Amount, DocumentIdentity, Issuer, ResidentTaxRecord
from server.render.dates import wareki
from server.render.furniture import (GREY, LEFT, RIGHT, RULE, Block, Fonts, RenderedDocument, draw_fitted,
                                     gap_block, heading_block, render_document, row_block)

TITLE_TAXABLE = "市県民税 課税証明書"
TITLE_EXEMPT = "市県民税 非課税証明書"
STATEMENT = "上記のとおり証明する。"
AMOUNT_ROW = 7 * mm


def fiscal_year_name(year: int) -> str:
    """2026 → 「令和8年度」 (the era of 1 April of that year)."""
    era = wareki(date(year, 4, 1))
    return era[:era.index("年")] + "年度"


def income_year_name(year: int) -> str:
    era = wareki(date(year - 1, 12, 31))
    return era[:era.index("年")] + "年分"


def yen(value: int) -> str:
    return f"{value:,}円"


def amounts_block(amounts: Sequence[Amount], unit: str = "yen", total_last: bool = False) -> Block:
    """A two-column table of label | right-aligned amount, two entries per row."""
    rows = -(-len(amounts) // 2)
    height = rows * AMOUNT_ROW
    half = (RIGHT - LEFT) / 2

    def draw(canvas: Canvas, face: Fonts, top: float) -> None:
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        for index, amount in enumerate(amounts):
            row, column = divmod(index, 2)
            x, y = LEFT + column * half, top - row * AMOUNT_ROW
            canvas.rect(x, y - AMOUNT_ROW, half, AMOUNT_ROW, stroke=1, fill=0)
            bold = total_last and index == len(amounts) - 1
            canvas.setFillColor(GREY if not bold else black)
            draw_fitted(canvas, x + 2 * mm, y - AMOUNT_ROW + 2.2 * mm, amount.label, face.gothic, 8.5, half * 0.55)
            canvas.setFillColor(black)
            text = yen(amount.yen) if unit == "yen" else f"{amount.yen}{unit}"
            draw_fitted(canvas, x + half - 3 * mm, y - AMOUNT_ROW + 2.2 * mm, text, face.mincho, 10.5, half * 0.4,
                        align="right")
        if len(amounts) % 2:
            canvas.rect(LEFT + half, top - height, half, AMOUNT_ROW, stroke=1, fill=0)

    return Block(height, draw)


def _exempt_block() -> Block:
    height = 14 * mm

    def draw(canvas: Canvas, face: Fonts, top: float) -> None:
        canvas.setStrokeColor(RULE)
        canvas.rect(LEFT, top - height, RIGHT - LEFT, height, stroke=1, fill=0)
        canvas.setFillColor(black)
        draw_fitted(canvas, (LEFT + RIGHT) / 2, top - height + 4.5 * mm, "非　課　税", face.mincho, 18, 80 * mm,
                    align="centre")

    return Block(height, draw)


def blocks(record: ResidentTaxRecord) -> list[Block]:
    result = [row_block((("年度", f"{fiscal_year_name(record.fiscal_year)}（{income_year_name(record.fiscal_year)}"
                                   "の所得）", 0.5),
                         ("課税区分", "課税" if record.taxable else "非課税", 0.5))),
              row_block((("住所（" + wareki(date(record.fiscal_year, 1, 1)) + "現在）", record.address, 1.0),)),
              row_block((("氏名", record.name, 0.6), ("生年月日", wareki(record.birth_date), 0.4))),
              gap_block(3 * mm), heading_block("所得の状況"), amounts_block(record.incomes, total_last=True),
              gap_block(3 * mm), heading_block("所得控除"), amounts_block(record.deductions, total_last=True)]
    if record.dependents:
        result += [gap_block(3 * mm), heading_block("控除対象配偶者・扶養親族"),
                   amounts_block(record.dependents, unit="人")]
    result += [gap_block(3 * mm), heading_block("税額")]
    if record.taxable:
        taxes = [Amount(f"市民税 {a.label}", a.yen) for a in record.city_tax]
        taxes += [Amount(f"県民税 {a.label}", a.yen) for a in record.prefectural_tax]
        taxes.append(Amount("年税額 合計", record.total_tax))
        result.append(amounts_block(taxes, total_last=True))
    else:
        result.append(_exempt_block())
    return result


def title(record: ResidentTaxRecord) -> str:
    return f"{fiscal_year_name(record.fiscal_year)} {TITLE_TAXABLE if record.taxable else TITLE_EXEMPT}"


def statement(record: ResidentTaxRecord) -> tuple[str, ...]:
    return (STATEMENT,)


def render_resident_tax(record: ResidentTaxRecord, issuer: Issuer, identity: DocumentIdentity,
                        signing_key: Ed25519PrivateKey) -> RenderedDocument:
    return render_document(title(record), blocks(record), statement(record), issuer, identity, signing_key)
