"""One entry point for every certificate: content dataclass in, signed A4 PDF out.

``render_certificate(content, issuer, identity, signing_key)`` picks the renderer by the content's class
(``server.render.content``), checks that the identity names the same certificate type, and returns the PDF
with its page count.  ``count_pages(content)`` gives the page count without drawing (for quotes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.render import (family_register, family_register_annex, residence_items, residence_record, resident_tax,
                           seal_registration)
from server.render.content import (CONTENT_TYPES, DocumentIdentity, FamilyRegisterAll, FamilyRegisterAnnex,
                                   FamilyRegisterIndividual, Issuer, ResidenceRecord, ResidenceRecordItems,
                                   ResidentTaxRecord, SealRegistration)
from server.render.furniture import Block, RenderedDocument, paginate, render_document


@dataclass(frozen=True)
class Layout:
    title: Callable[[object], str]
    blocks: Callable[[object], list[Block]]
    statement: Callable[[object], Sequence[str]]


def _fixed(text: str) -> Callable[[object], str]:
    return lambda content: text


LAYOUTS: dict[type, Layout] = {
    ResidenceRecord: Layout(_fixed(residence_record.TITLE), residence_record.blocks,
                            lambda c: (residence_record.statement(c),)),
    ResidenceRecordItems: Layout(_fixed(residence_items.TITLE), residence_items.blocks, residence_items.statement),
    SealRegistration: Layout(_fixed(seal_registration.TITLE), seal_registration.blocks, seal_registration.statement),
    FamilyRegisterAll: Layout(_fixed(family_register.TITLE_ALL), family_register.blocks_all,
                              lambda c: (family_register.STATEMENT_ALL,)),
    FamilyRegisterIndividual: Layout(_fixed(family_register.TITLE_INDIVIDUAL), family_register.blocks_individual,
                                     lambda c: (family_register.STATEMENT_INDIVIDUAL,)),
    FamilyRegisterAnnex: Layout(_fixed(family_register_annex.TITLE), family_register_annex.blocks,
                                family_register_annex.statement),
    ResidentTaxRecord: Layout(resident_tax.title, resident_tax.blocks, resident_tax.statement),
}


def _layout(content: object) -> Layout:
    layout = LAYOUTS.get(type(content))
    if layout is None:
        raise TypeError(f"no renderer for {type(content).__name__}")
    return layout


def render_certificate(content: object, issuer: Issuer, identity: DocumentIdentity,
                       signing_key: Ed25519PrivateKey) -> RenderedDocument:
    layout = _layout(content)
    if CONTENT_TYPES[type(content)] is not identity.certificate:
        raise ValueError(f"{type(content).__name__} is not a {identity.certificate.value} certificate")
    return render_document(layout.title(content), layout.blocks(content), layout.statement(content), issuer,
                           identity, signing_key)


def count_pages(content: object) -> int:
    """How many pages ``render_certificate`` will produce for this content."""
    return len(paginate(_layout(content).blocks(content)))
