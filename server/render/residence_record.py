"""住民票の写し (copy of the residence record) on the shared page furniture.

Fields follow 住民基本台帳法 第7条 as municipal kiosks print them (domain-facts §3.3): 氏名 (and 旧氏 / 通称),
生年月日, 性別, 続柄 and 世帯主 (if chosen), 住民となった年月日, 住所 and 住所を定めた年月日, 届出年月日 and
従前の住所, 本籍・筆頭者 (if chosen, Japanese nationals only), 個人番号 (only if chosen and the city allows it);
for foreign residents 国籍・地域, 在留資格, 在留期間, 在留カード等の番号 and the 第30条の45 区分.  The 住民票コード
is never printed.  The certifying statement, date, mayor and seal close the last page.
"""
from __future__ import annotations

from typing import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.lib.units import mm

from server.render.content import DocumentIdentity, Issuer, PersonEntry, ResidenceRecord
from server.render.dates import wareki
from server.render.furniture import Block, RenderedDocument, gap_block, render_document, row_block

__all__ = ["Issuer", "PersonEntry", "ResidenceRecord", "render_residence_record", "person_blocks",
           "household_blocks"]

TITLE = "住民票の写し"
STATEMENT_SELF = "この写しは、住民票の原本と相違ないことを証明する。"
STATEMENT_HOUSEHOLD = "この写しは、世帯全員の住民票の原本と相違ないことを証明する。"
OMITTED = "（省略）"


def household_blocks(address: str, address_set_on, head_name: str, show_head: bool,
                     previous_address: str | None) -> list[Block]:
    blocks = [row_block((("住所", address, 1.0),)),
              row_block((("住所を定めた年月日", wareki(address_set_on), 0.5),
                         ("世帯主", head_name if show_head else OMITTED, 0.5)))]
    if previous_address is not None:
        blocks.append(row_block((("従前の住所", previous_address, 1.0),)))
    return blocks


def _name(person: PersonEntry) -> str:
    extra = [f"旧氏 {person.former_surname}"] if person.former_surname else []
    extra += [f"通称 {person.alias}"] if person.alias else []
    return person.name + (f"（{'・'.join(extra)}）" if extra else "")


def person_blocks(person: PersonEntry, show_head: bool, show_domicile: bool, *, dates: bool = True) -> list[Block]:
    """The rows of one person, as one block so a person is never split across pages."""
    rows = [row_block((("氏名", _name(person), 0.4), ("生年月日", wareki(person.birth_date), 0.3),
                       ("性別", person.sex, 0.1), ("続柄", person.relationship if show_head else OMITTED, 0.2)))]
    if dates:
        rows.append(row_block((("住民となった年月日", wareki(person.became_resident_on), 0.5),
                               ("届出年月日", wareki(person.notified_on), 0.5))))
    if person.nationality is not None:
        rows.append(row_block((("国籍・地域", person.nationality, 0.3), ("在留資格", person.residence_status or "", 0.35),
                               ("在留期間等", person.residence_period or "", 0.35))))
        rows.append(row_block((("在留カード等の番号", person.residence_card_number or "", 0.5),
                               ("法第30条の45に規定する区分", person.section_30_45 or "", 0.5))))
    elif show_domicile:
        rows.append(row_block((("本籍", person.domicile, 0.65), ("筆頭者", person.domicile_head, 0.35))))
    if person.my_number is not None:
        rows.append(row_block((("個人番号", person.my_number, 1.0),)))
    return [_stack(rows), gap_block(3 * mm)]


def _stack(rows: Sequence[Block]) -> Block:
    def draw(canvas, face, top):
        for row in rows:
            row.draw(canvas, face, top)
            top -= row.height
    return Block(sum(r.height for r in rows), draw)


def statement(record: ResidenceRecord) -> str:
    return STATEMENT_HOUSEHOLD if record.household_scope else STATEMENT_SELF


def blocks(record: ResidenceRecord, persons: Sequence[PersonEntry] | None = None) -> list[Block]:
    result = household_blocks(record.address, record.address_set_on, record.head_name, record.show_head,
                              record.previous_address)
    result.append(gap_block(4 * mm))
    for person in record.persons if persons is None else persons:
        result += person_blocks(person, record.show_head, record.show_domicile)
    return result


def render_residence_record(record: ResidenceRecord, issuer: Issuer, identity: DocumentIdentity,
                            signing_key: Ed25519PrivateKey) -> RenderedDocument:
    """The 住民票の写し of ``record``, paginated, every page bound and carrying its signed page code."""
    return render_document(TITLE, blocks(record), (statement(record),), issuer, identity, signing_key)

