"""住民票記載事項証明書: the chosen items of the chosen persons' residence records, certified as recorded.

A municipality issues it (often for an employer or a pension office) instead of a full 住民票の写し: it shows the
address, 住所を定めた年月日, 世帯主 (if chosen), and per person 氏名, 生年月日, 性別, 続柄 (if chosen) and
本籍・筆頭者 (if chosen) — never the 個人番号 or the 住民票コード — and, where the city prints it, the purpose.
"""
from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.lib.units import mm

from server.render.content import DocumentIdentity, Issuer, PersonEntry, ResidenceRecordItems
from server.render.furniture import Block, RenderedDocument, gap_block, render_document, row_block
from server.render.residence_record import household_blocks, person_blocks

TITLE = "住民票記載事項証明書"
STATEMENT = "上記のとおり住民票に記載されていることを証明する。"


def blocks(items: ResidenceRecordItems) -> list[Block]:
    result = household_blocks(items.address, items.address_set_on, items.head_name, items.show_head, None)
    result.append(gap_block(4 * mm))
    for person in items.persons:
        shown = person if person.my_number is None else _without_my_number(person)
        result += person_blocks(shown, items.show_head, items.show_domicile, dates=False)
    if items.purpose:
        result.append(row_block((("使用目的", items.purpose, 1.0),)))
    return result


def _without_my_number(person: PersonEntry) -> PersonEntry:
    return replace(person, my_number=None)  # the 個人番号 is never part of this certificate


def statement(items: ResidenceRecordItems) -> tuple[str, ...]:
    return (STATEMENT,)


def render_residence_items(items: ResidenceRecordItems, issuer: Issuer, identity: DocumentIdentity,
                           signing_key: Ed25519PrivateKey) -> RenderedDocument:
    return render_document(TITLE, blocks(items), statement(items), issuer, identity, signing_key)
