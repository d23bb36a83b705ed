"""E-applications (電子申請) at the kiosk: the forms a resident is offered, the quote, and the intake.

The flow is the certificates' own: a quote (the checked answers and the fee, stored as a quote record), then one
issuance by transaction id (:func:`server.issuing.issue_once`: idempotent, the quote claimed once), whose
envelope holds the signed receipt and whose write stores the :class:`Application`.  The result report, the
settlement and the issuance log then treat the receipt like any document.

Validation: the answers against the form (:func:`certs.services.check_answers`), the choices against what the
city offers this resident now (the district comes from the registry's address, never from the kiosk).  A
collection date taken since the form was shown is refused at the quote and again at the intake
(``date_not_offered``): nothing is booked on a guess.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certs.catalog import IneligibleReason
from certs.envelope import DocumentEntry, Manifest, canonical_json, seal_envelope
from certs.services import (AnswerInvalid, Choice, DocumentKind, FieldKind, Form, Payment, check_answers, fee_of,
                            stickers_for)
from server.db import iso, utcnow
from server.errors import ApiError
from server.issuing import _resident, issue_once
from server.models import Household, QuoteRecord, Resident, SessionRecord
from server.models_applications import Application
from server.render.content import DocumentIdentity, Issuer
from server.render.receipt import ReceiptContent, render_receipt, service_day_label
from server.schemas import IssuanceRequest
from server.services import Services

log = logging.getLogger("server.applications")

QUOTE_PREFIX = "application:"
DATE_SOURCES = ("city.collection_dates", "calendar.days")
OUTSIDE = "-"  # the district of an address no district holds (such a resident is offered no collection date)


def _refusal(resident: Resident) -> IneligibleReason | None:
    """Who may apply: a resident registered here now (not moved out, not deceased)."""
    if resident.moved_out:
        return IneligibleReason.MOVED_OUT
    return IneligibleReason.DECEASED if resident.deceased else None


def _applicant(db: Session, session: SessionRecord) -> Resident:
    resident = _resident(db, session)
    reason = _refusal(resident)
    if reason is not None:
        raise ApiError(403, "not_eligible", "this resident cannot apply at a kiosk", {"reason": reason.value})
    return resident


def _address(db: Session, resident: Resident) -> str:
    return db.get(Household, resident.household_id).address


def _district(svc: Services, address: str) -> str:
    district = svc.config.applications.bulky_waste.district_of(address)
    return district.name if district else OUTSIDE


def _taken(db: Session, service: str, district: str, day: date) -> int:
    return db.scalar(select(func.count()).select_from(Application).where(
        Application.service == service, Application.district == district, Application.service_date == day)) or 0


def _collection_dates(svc: Services, db: Session, service: str, address: str) -> tuple[Choice, ...]:
    bulky = svc.config.applications.bulky_waste
    district = bulky.district_of(address)
    if district is None:
        return ()
    today, out = svc.today(), []
    for ahead in range(bulky.days_ahead_min, bulky.weeks_ahead * 7 + 1):
        day = today + timedelta(days=ahead)
        if day.weekday() in district.weekdays and _taken(db, service, district.name, day) < bulky.capacity_per_day:
            out.append(Choice(day.isoformat(), service_day_label(day)))
    return tuple(out)


def _calendar_days(svc: Services) -> tuple[Choice, ...]:
    today = svc.today()
    days = (today + timedelta(days=n) for n in range(1, svc.config.applications.water_days_ahead + 1))
    return tuple(Choice(d.isoformat(), service_day_label(d)) for d in days)


def resolved_form(svc: Services, db: Session, form: Form, address: str) -> Form:
    """The form with this resident's choices filled in, and the city's payment and notes."""
    settings, choices = svc.config.applications, {}
    for spec in form.fields:
        if spec.choices_from == "city.items":
            choices[spec.name] = settings.bulky_waste.items
        elif spec.choices_from == "city.collection_dates":
            choices[spec.name] = _collection_dates(svc, db, form.service, address)
        elif spec.choices_from == "calendar.days":
            choices[spec.name] = _calendar_days(svc)
        elif spec.choices_from is not None:
            choices[spec.name] = ()  # a source this server does not know: nothing to choose from
    uses_items = any(s.choices_from == "city.items" for s in form.fields)
    payment = settings.bulky_waste.payment if uses_items else None
    notes = (settings.bulky_waste.put_out_ja, *form.notes_ja) if uses_items else None
    return form.with_choices(choices, payment, notes)


def forms(svc: Services, db: Session, session: SessionRecord) -> dict:
    """Every application this city takes at kiosks, each with the signed-in resident's choices."""
    resident = _resident(db, session)
    if _refusal(resident) is not None:
        return {"forms": []}  # nothing to apply for here: the counter helps
    address, settings = _address(db, resident), svc.config.applications
    return {"forms": [resolved_form(svc, db, settings.forms[s], address).to_dict() for s in settings.enabled]}


def _form(svc: Services, service: str) -> Form:
    form = svc.config.applications.form(service)
    if form is None:
        raise ApiError(400, "unknown_service", "this city takes no such application at kiosks")
    return form


def _checked(form: Form, answers: dict) -> dict:
    try:
        return check_answers(form, answers)
    except AnswerInvalid as exc:
        if exc.problem == "not_a_choice" and form.field(exc.field).choices_from in DATE_SOURCES:
            raise ApiError(409, "date_not_offered", "the date chosen is no longer offered: choose another",
                           {"field": exc.field}) from None
        raise ApiError(400, "bad_answer", f"the answer to {exc.field!r} is not acceptable ({exc.problem})",
                       {"field": exc.field, "problem": exc.problem}) from None


def _charges(form: Form, answers: dict, sticker_values: tuple[int, ...]) -> tuple[int, int, dict[int, int]]:
    """(the items' fee, what the kiosk takes, the stickers to buy)."""
    fee = fee_of(form, answers)
    if form.payment is Payment.STICKERS and fee:
        item_fees = []
        for spec in form.fields:
            fees = {c.value: c.fee for c in spec.choices}
            for code, count in answers.get(spec.name, {}).items() if spec.kind is FieldKind.COUNTS else ():
                item_fees += [fees[code]] * count
        return fee, 0, stickers_for(item_fees, sticker_values)
    return fee, (fee if form.payment is Payment.CASH else 0), {}


def _resolved(svc: Services, db: Session, resident: Resident, service: str) -> tuple[Form, str]:
    address = _address(db, resident)
    return resolved_form(svc, db, _form(svc, service), address), address


def quote(svc: Services, db: Session, session: SessionRecord, service: str, answers: dict) -> dict:
    resident = _applicant(db, session)
    form, _ = _resolved(svc, db, resident, service)
    checked = _checked(form, answers)
    fee, taken, stickers = _charges(form, checked, svc.config.applications.bulky_waste.sticker_values)
    record = QuoteRecord(quote_id="q-" + secrets.token_hex(16), session_id=session.session_id,
                         certificate=QUOTE_PREFIX + service, options_json=json.dumps(checked, sort_keys=True),
                         copies=1, fee_per_copy=taken, total_fee=taken, pages=1,
                         expires_at=utcnow() + timedelta(seconds=svc.config.lifetimes.quote_s), transaction_id=None)
    db.add(record)
    db.commit()
    return {"quote_id": record.quote_id, "service": service, "payment": form.payment.value, "fee": fee,
            "total_fee": taken, "stickers": [{"value": v, "count": n} for v, n in stickers.items()], "pages": 1,
            "expires_at": iso(record.expires_at)}


def _service_date(form: Form, answers: dict) -> date | None:
    for spec in form.fields:
        if spec.choices_from in DATE_SOURCES and spec.name in answers:
            return date.fromisoformat(answers[spec.name])
    return None


def submit(svc: Services, db: Session, session: SessionRecord, kiosk_id: str,
           request: IssuanceRequest) -> tuple[int, bytes]:
    """The intake: (HTTP status, receipt envelope); 201 the first time, 200 with the same bytes on a retry."""
    def application(quote: QuoteRecord, resident: Resident) -> tuple[bytes, list]:
        if not quote.certificate.startswith(QUOTE_PREFIX):
            raise ApiError(404, "quote_unknown", "no such application quote in this session")
        service = quote.certificate[len(QUOTE_PREFIX):]
        _applicant(db, session)
        form, address = _resolved(svc, db, resident, service)
        answers = _checked(form, json.loads(quote.options_json))  # the date may have been taken since
        fee, taken, stickers = _charges(form, answers, svc.config.applications.bulky_waste.sticker_values)
        txn, today = request.transaction_id, svc.today()
        number = f"E{today:%y%m%d}-{txn[:10].upper()}"  # 40 bits of the random id: no clash in a day
        content = ReceiptContent(form, number, answers, address, fee, taken, stickers)
        with svc.render_turn:  # one document drawn at a time in this process (server.services.RENDERS_AT_ONCE)
            envelope = _receipt_envelope(svc, session, content, txn, kiosk_id)
        day, district = _service_date(form, answers), _district(svc, address)
        uses_places = any(s.choices_from == "city.collection_dates" for s in form.fields)
        slot = None
        if uses_places and day:  # place n of the day (0-based): unique, and below the day's capacity
            taken = _taken(db, service, district, day)
            if taken >= svc.config.applications.bulky_waste.capacity_per_day:
                field = next(s.name for s in form.fields if s.choices_from == "city.collection_dates")
                raise ApiError(409, "date_not_offered", "the date chosen is no longer offered: choose another",
                               {"field": field})
            slot = f"{service}:{district}:{day}:{taken}"
        row = Application(application_no=number, slot=slot, transaction_id=txn, service=service, channel="kiosk",
                          kiosk_id=kiosk_id, resident_id=resident.resident_id, district=district, service_date=day,
                          answers_json=json.dumps(answers, sort_keys=True),
                          total_fee=fee, payment=form.payment.value, received_at=utcnow())
        log.info("application txn=%s service=%s no=%s", txn, service, number)
        return envelope, [row]

    return issue_once(db, session, kiosk_id, request, application,
                      contended=ApiError(503, "busy", "another application took that day's place at this moment: send "
                                                      "the same request again"))


def _receipt_envelope(svc: Services, session: SessionRecord, content: ReceiptContent, txn: str,
                      kiosk_id: str) -> bytes:
    kind = DocumentKind.APPLICATION_RECEIPT
    identity = DocumentIdentity(txn, session.subject_ref, "doc-" + secrets.token_hex(16), kind)
    city = svc.config.city
    rendered = render_receipt(content, Issuer(city.name, city.mayor, svc.today(), content.application_no), identity,
                              svc.signing_key)
    entry = DocumentEntry(identity.document_id, kind.value, 1, rendered.pages, hashlib.sha256(rendered.pdf).hexdigest())
    manifest = Manifest(txn, session.subject_ref, kiosk_id, iso(utcnow()), (entry,))
    return canonical_json(seal_envelope(manifest, {identity.document_id: rendered.pdf}, svc.signing_key))


def day_list(db: Session, day: date, service: str | None = None) -> list[dict[str, Any]]:
    """The applications received on ``day`` (UTC+9), for the department that handles them; with the phone."""
    begin = datetime.combine(day - timedelta(days=1), time(15, 0))  # 00:00 in Japan, as naive UTC
    rows = db.scalars(select(Application).where(Application.received_at >= begin,
                                                Application.received_at < begin + timedelta(days=1))
                      .order_by(Application.received_at)).all()
    out = []
    for row in rows:
        if service and row.service != service:
            continue
        resident = db.get(Resident, row.resident_id)
        address = db.get(Household, resident.household_id).address if resident else ""
        out.append({"application_no": row.application_no, "service": row.service, "channel": row.channel,
                    "received_at": iso(row.received_at), "district": row.district,
                    "service_date": row.service_date.isoformat() if row.service_date else "",
                    "name": f"{resident.family_name} {resident.given_name}" if resident else "",
                    "address": address, "answers": json.loads(row.answers_json), "total_fee": row.total_fee,
                    "payment": row.payment, "kiosk_id": row.kiosk_id})
    return out
