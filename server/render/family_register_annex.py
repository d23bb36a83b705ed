"""戸籍の附票の写し: the register's 本籍 and 筆頭者, and for each person the history of their addresses.

Laid out in the same grid as the 戸籍 certificates: 本籍, 氏名 (筆頭者), then per person 【名】, 【生年月日】 and
【性別】 and every 【住所】 with its 【住所を定めた年月日】, oldest first.
"""
from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.lib.units import mm

from server.render.content import AnnexPerson, DocumentIdentity, FamilyRegisterAnnex, Issuer
from server.render.dates import wareki
from server.render.family_register import closing_rule, grid_block
from server.render.furniture import Block, RenderedDocument, gap_block, render_document

TITLE = "戸籍の附票の写し"
STATEMENT = "この写しは、戸籍の附票の原本と相違ないことを証明する。"


def _person_blocks(person: AnnexPerson) -> list[Block]:
    lines = [f"【名】{person.name}", f"【生年月日】{wareki(person.birth_date)}　　【性別】{person.sex}"]
    result = [grid_block("附票に記録されている者", "", lines, mark="消　除" if person.removed else "")]
    for index, entry in enumerate(person.addresses):
        result.append(grid_block("住所の履歴" if index == 0 else "", "住　所",
                                 [f"【住所】{entry.address}", f"【住所を定めた年月日】{wareki(entry.set_on)}"]))
    return result


def blocks(annex: FamilyRegisterAnnex) -> list[Block]:
    result = [grid_block("本　　籍", "", [annex.domicile]), grid_block("氏　　名", "", [annex.head_name])]
    for person in annex.persons:
        result += _person_blocks(person)
    result.append(closing_rule())
    result.append(gap_block(2 * mm))
    return result


def statement(annex: FamilyRegisterAnnex) -> tuple[str, ...]:
    return (STATEMENT,)


def render_family_register_annex(annex: FamilyRegisterAnnex, issuer: Issuer, identity: DocumentIdentity,
                                 signing_key: Ed25519PrivateKey) -> RenderedDocument:
    return render_document(TITLE, blocks(annex), statement(annex), issuer, identity, signing_key)
