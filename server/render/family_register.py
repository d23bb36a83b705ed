"""戸籍全部事項証明書 and 戸籍個人事項証明書, in the computerised 全部事項証明 layout.

The page is a grid of three columns: the section (本籍, 氏名, 戸籍事項, 戸籍に記録されている者, 身分事項), the
kind of an entry (戸籍編製, 出生, 婚姻, …) and its items as 【label】value lines.  A person taken out of the
register (除籍) carries the 除籍 mark.  The 個人事項証明書 shows the same register with the chosen persons only.
The certifying statements are the ones 戸籍法施行規則 prescribes for the two certificates.
"""
from __future__ import annotations

from datetime import date
from typing import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.lib.colors import black
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from server.render.content import (DocumentIdentity, FamilyRegister, FamilyRegisterAll, FamilyRegisterIndividual,
                                   Issuer, RegisterEvent, RegisterMember)
from server.render.dates import wareki
from server.render.furniture import (LEFT, RIGHT, RULE, Block, Fonts, RenderedDocument, draw_fitted,
                                     gap_block, render_document)

TITLE_ALL = "戸籍全部事項証明書"
TITLE_INDIVIDUAL = "戸籍個人事項証明書"
STATEMENT_ALL = "これは、戸籍に記録されている事項の全部を証明した書面である。"
STATEMENT_INDIVIDUAL = "これは、戸籍中の一部の者について記録されている事項を証明した書面である。"
SECTION_W = 36 * mm
KIND_W = 22 * mm
LINE = 5.6 * mm
PAD = 1.6 * mm


def value_text(value: str | date) -> str:
    return wareki(value) if isinstance(value, date) else value


def grid_block(section: str, kind: str, lines: Sequence[str], *, rule_above: bool = True, mark: str = "") -> Block:
    """One entry of the grid: section label (blank when continuing a section), kind, and its item lines."""
    height = max(1, len(lines)) * LINE + 2 * PAD

    def draw(canvas: Canvas, face: Fonts, top: float) -> None:
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(LEFT, top, LEFT, top - height)
        canvas.line(RIGHT, top, RIGHT, top - height)
        canvas.line(LEFT + SECTION_W, top, LEFT + SECTION_W, top - height)
        if rule_above:
            canvas.line(LEFT if section else LEFT + SECTION_W, top, RIGHT, top)
        canvas.setFillColor(black)
        if section:
            draw_fitted(canvas, LEFT + 2 * mm, top - PAD - 4 * mm, section, face.gothic, 9.5, SECTION_W - 4 * mm)
        if mark:
            canvas.setStrokeColor(black)
            canvas.rect(LEFT + 2 * mm, top - PAD - 12 * mm, 14 * mm, 6 * mm, stroke=1, fill=0)
            draw_fitted(canvas, LEFT + 9 * mm, top - PAD - 10.3 * mm, mark, face.gothic, 9, 12 * mm, align="centre")
        if kind:
            draw_fitted(canvas, LEFT + SECTION_W + 2 * mm, top - PAD - 4 * mm, kind, face.mincho, 10, KIND_W - 3 * mm)
        x = LEFT + SECTION_W + (KIND_W if kind else 2 * mm)
        for index, line in enumerate(lines):
            draw_fitted(canvas, x, top - PAD - 4 * mm - index * LINE, line, face.mincho, 10, RIGHT - x - 2 * mm)

    return Block(height, draw)


def closing_rule() -> Block:
    def draw(canvas: Canvas, face: Fonts, top: float) -> None:
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(LEFT, top, RIGHT, top)
    return Block(1, draw)


def _event_blocks(section: str, events: Sequence[RegisterEvent]) -> list[Block]:
    result = []
    for index, event in enumerate(events):
        lines = [f"【{label}】{value_text(value)}" for label, value in event.items]
        result.append(grid_block(section if index == 0 else "", event.kind, lines))
    return result


def _member_blocks(member: RegisterMember) -> list[Block]:
    born = f"【生年月日】{wareki(member.birth_date)}"
    if member.spouse_role:
        born += f"　　【配偶者区分】{member.spouse_role}"
    lines = [f"【名】{member.name}", born, f"【父】{member.father}", f"【母】{member.mother}",
             f"【続柄】{member.relationship}"]
    result = [grid_block("戸籍に記録されている者", "", lines, mark="除　籍" if member.removed else "")]
    result += _event_blocks("身分事項", member.events)
    return result


def register_blocks(register: FamilyRegister, members: Sequence[RegisterMember]) -> list[Block]:
    result = [grid_block("本　　籍", "", [register.domicile]), grid_block("氏　　名", "", [register.head_name])]
    result += _event_blocks("戸籍事項", register.register_events)
    for member in members:
        result += _member_blocks(member)
    result.append(closing_rule())
    result.append(gap_block(2 * mm))
    return result


def blocks_all(content: FamilyRegisterAll) -> list[Block]:
    return register_blocks(content.register, content.register.members)


def blocks_individual(content: FamilyRegisterIndividual) -> list[Block]:
    members = [content.register.members[i] for i in content.member_indexes]
    if not members:
        raise ValueError("a 戸籍個人事項証明書 needs at least one person")
    return register_blocks(content.register, members)


def render_family_register_all(content: FamilyRegisterAll, issuer: Issuer, identity: DocumentIdentity,
                               signing_key: Ed25519PrivateKey) -> RenderedDocument:
    return render_document(TITLE_ALL, blocks_all(content), (STATEMENT_ALL,), issuer, identity, signing_key)


def render_family_register_individual(content: FamilyRegisterIndividual, issuer: Issuer,
                                      identity: DocumentIdentity, signing_key: Ed25519PrivateKey) -> RenderedDocument:
    return render_document(TITLE_INDIVIDUAL, blocks_individual(content), (STATEMENT_INDIVIDUAL,), issuer, identity,
                           signing_key)
