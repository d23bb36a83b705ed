"""The documents of one issuance: compose each certificate from the registry, render every copy, seal the envelope.

The content comes from :mod:`server.compose` (which persons, which fields), the PDF from
:mod:`server.render.documents` (layout, page furniture, binding line and signed page code on every page).  The
quote and the issuance compose the same content, so the page count quoted is the page count printed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid

from sqlalchemy.orm import Session

from certs.binding import PageBinding
from certs.catalog import CertificateType, IneligibleReason
from certs.envelope import DocumentEntry, Manifest, canonical_json, seal_envelope
from server.compose import compose
from server.db import iso, utcnow
from server.eligibility import certificate_reason, chosen_members
from server.errors import ApiError
from server.models import QuoteRecord, Resident, SessionRecord
from server.registry import other_resident
from server.render.content import DocumentIdentity, Issuer
from server.render.documents import LAYOUTS, count_pages, render_certificate
from server.render.furniture import paginate, render_pages
from server.services import Services

log = logging.getLogger("server.issuance_documents")


def content_for(svc: Services, db: Session, resident: Resident, kind: CertificateType, options: dict) -> object:
    """What one certificate shows, read from the registry now.  ``NotInHousehold`` if a chosen member is not in
    the household; ``403 not_eligible`` if the registry changed after eligibility was checked."""
    city, today = svc.config.city, svc.today()
    try:
        return compose(db, kind, resident, chosen_members(db, resident, options, svc.subject_ref), options,
                       my_number_allowed=city.my_number_allowed, today=today, tax_year_from=city.hours.tax_year_from)
    except LookupError:  # the registry changed since eligibility was checked (e.g. a seal abolished just now)
        reason = certificate_reason(db, city, resident, kind, today) or IneligibleReason.NOT_OFFERED
        raise ApiError(403, "not_eligible", "this certificate cannot be issued at a kiosk",
                       {"reason": reason.value}) from None


def pages_per_copy(svc: Services, db: Session, resident: Resident, kind: CertificateType, options: dict) -> int:
    return count_pages(content_for(svc, db, resident, kind, options))


def build_envelope(svc: Services, db: Session, session: SessionRecord, resident: Resident, quote: QuoteRecord,
                   txn: str, kiosk_id: str) -> bytes:
    city, kind = svc.config.city, CertificateType(quote.certificate)
    options = json.loads(quote.options_json)
    content = content_for(svc, db, resident, kind, options)
    entries, pdfs = [], {}
    fault = svc.config.fault
    copies = quote.copies + (1 if fault == "extra_copy" else 0)  # DEV FAULT: one copy more than was paid for
    if fault == "other_kiosk":  # DEV FAULT: the set names another kiosk (a mix-up between two kiosks' requests)
        kiosk_id = kiosk_id + "-other"
    if fault in ("extra_copy", "other_kiosk"):
        log.warning("DEV FAULT %s injected into txn=%s", fault, txn)
    for copy in range(1, copies + 1):
        identity = DocumentIdentity(txn, session.subject_ref, "doc-" + uuid.uuid4().hex, kind)
        issuer = Issuer(city.name, city.mayor, svc.today(), f"{txn[:8].upper()}-{copy}")
        if svc.config.fault == "wrong_subject_page" and copy == 1:
            pdf, pages = _with_wrong_subject_page(svc, db, resident, kind, options, content, issuer, identity)
        else:
            rendered = render_certificate(content, issuer, identity, svc.signing_key)
            pdf, pages = rendered.pdf, rendered.pages
        pdfs[identity.document_id] = pdf
        entries.append(DocumentEntry(identity.document_id, kind.value, copy, pages, hashlib.sha256(pdf).hexdigest()))
    manifest = Manifest(txn, session.subject_ref, kiosk_id, iso(utcnow()), tuple(entries))
    return canonical_json(seal_envelope(manifest, pdfs, svc.signing_key))


def _with_wrong_subject_page(svc: Services, db: Session, resident: Resident, kind: CertificateType, options: dict,
                             content: object, issuer: Issuer, identity: DocumentIdentity) -> tuple[bytes, int]:
    """DEV FAULT: the last page shows another resident and names them in its binding (the 2023 incidents)."""
    other = other_resident(db, resident)
    other_options = {**options, "scope": "self", "members": ""} if "scope" in options else options
    other_content = content_for(svc, db, other, kind, other_options)
    layout = LAYOUTS[type(content)]
    pages = paginate(layout.blocks(content))
    pages[-1] = paginate(layout.blocks(other_content))[0]
    count = len(pages)
    bindings = [PageBinding(identity.transaction_id, identity.subject_ref, identity.document_id, n, count)
                for n in range(1, count + 1)]
    bindings[-1] = PageBinding(identity.transaction_id, svc.subject_ref(other.resident_id), identity.document_id,
                               count, count)
    log.warning("DEV FAULT wrong_subject_page injected into txn=%s doc=%s", identity.transaction_id,
                identity.document_id)
    rendered = render_pages(layout.title(content), pages, layout.statement(content), issuer, bindings, identity,
                            svc.signing_key)
    return rendered.pdf, rendered.pages
