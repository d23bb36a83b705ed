"""E-applications end to end: the kiosk (simulated devices, real journal) against the real server over HTTPS.

粗大ごみ paid with coins, receipt printed and its signed QR verified; the same city selling stickers takes no money
(the journal's totals say so); a 水道 stop notice; a date taken since the form was refused after payment with
everything given back; bad answers said on the form; the intake retried with the same transaction id; and no
phone number anywhere in the kiosk's files, logs or audit afterwards.
"""
from __future__ import annotations

import asyncio
import logging
import secrets

import pytest
import zxingcpp
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from PIL import Image

from certs.page_code import verify_page_code
from certs.services import DocumentKind
from tests.support.applications_config import write_applications_variant
from tests.support.kiosk_session import KioskSession
from tests.support.server_process import sign_in, start_server

PHONE = "090-7777-3141"
WATER_PHONE = "0445556789"


@pytest.fixture(scope="module")
def sticker_server(dev_world):
    process = start_server(dev_world, config=write_applications_variant(dev_world, "e2e-stickers", payment="stickers"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def one_slot_server(dev_world):
    process = start_server(dev_world, config=write_applications_variant(dev_world, "e2e-one-slot", capacity=1))
    yield process
    process.stop()


def run(kiosk_config, tmp_path, visit, url=None):
    async def main():
        async with KioskSession(kiosk_config(url, **{"kiosk.applications": True}), tmp_path) as k:
            await k.wait("idle", 10)
            return await visit(k)
    return asyncio.run(main())


async def open_form(k, service: str) -> dict:
    await k.sign_in()
    for _ in range(500):  # the forms arrive just after the menu (a tap while they load does nothing)
        if k.kiosk.view.services and not k.kiosk.view.busy:
            break
        await asyncio.sleep(0.01)
    await k.do("service", service=service)
    await k.wait("options")
    return k.kiosk.view.form


def choices(form: dict, field: str) -> list[str]:
    return [c["value"] for c in next(f for f in form["fields"] if f["name"] == field)["choices"]]


async def finish(k, items=("document",)) -> None:
    await k.wait("return_card")
    await k.do("lift_card")
    await k.wait("take_items")
    assert set(k.kiosk.view.items_to_take) == set(items)
    if "document" in items:
        await k.do("take_document")
    if "change" in items:
        await k.do("take_change")
    await k.wait("idle")


def receipt_code(page_path, dev_world):
    key = load_pem_public_key((dev_world / "signing" / "document-pub.pem").read_bytes())
    found = zxingcpp.read_barcodes(Image.open(page_path).convert("L"))
    codes = [b.text for b in found if b.text.startswith("KC1:")]
    assert len(codes) == 1
    return verify_page_code(codes[0], [key])


def test_bulky_waste_paid_with_coins_prints_a_verified_receipt(kiosk_config, tmp_path, dev_world):
    async def visit(k):
        form = await open_form(k, "bulky_waste")
        assert k.kiosk.view.problem_field is None and form["payment"] == "cash"
        answers = {"items": {"chair": 1, "bicycle": 1}, "collection_date": choices(form, "collection_date")[0],
                   "phone": PHONE}
        await k.do("form", answers=answers)
        await k.wait("confirm")
        assert k.kiosk.view.fee == 800 and k.kiosk.view.answers["phone"] == "…41"
        await k.do("confirm")
        await k.wait("paying")
        for coin in (500, 100, 100, 100):
            await k.do("insert_coin", value=coin)
        txn = k.kiosk.visit.txn
        await finish(k)
        for _ in range(500):  # the result report, sent from the journal's outbox like a certificate's
            if k.journal.result(txn).delivered_at:
                break
            await asyncio.sleep(0.01)
        return txn, k.journal.balance(txn), k.devices.printer.pages, k.journal.result(txn).delivery

    txn, balance, pages, delivery = run(kiosk_config, tmp_path, visit)
    assert balance.credited == 800 and balance.fee_collected == 800 and balance.unaccounted == 0
    assert delivery == "acknowledged"  # the server settled it (ledger, issuance log) like any issuance
    assert len(pages) == 1 and not pages[0].partial
    code = receipt_code(pages[0].path, dev_world)
    assert code.certificate is DocumentKind.APPLICATION_RECEIPT and code.transaction_id == txn


def test_sticker_mode_takes_no_money(kiosk_config, tmp_path, sticker_server):
    async def visit(k):
        form = await open_form(k, "bulky_waste")
        assert form["payment"] == "stickers"
        await k.do("form", answers={"items": {"mattress": 1}, "collection_date": choices(form, "collection_date")[0],
                                    "phone": PHONE})
        await k.wait("confirm")
        view = k.kiosk.view
        assert view.fee == 0 and view.application_fee == 800 and view.stickers == ((500, 1), (300, 1))
        await k.do("confirm")
        await finish(k)
        return k.journal.totals(), k.devices.printer.pages

    totals, pages = run(kiosk_config, tmp_path, visit, url=sticker_server.url)
    kinds = totals["kinds"]
    assert "credit" not in kinds and kinds.get("fee_collected", {"amount": 0})["amount"] == 0
    assert totals["open_transactions"] == 0 and len(pages) == 1


def test_water_stop_notice_is_free_and_printed(kiosk_config, tmp_path, dev_world):
    async def visit(k):
        form = await open_form(k, "water_notice")
        await k.do("form", answers={"notice": "stop", "date": choices(form, "date")[2], "phone": WATER_PHONE})
        await k.wait("confirm")
        assert k.kiosk.view.fee == 0 and k.kiosk.view.payment == "none"
        await k.do("confirm")
        await finish(k)
        return k.journal.totals(), k.devices.printer.pages

    totals, pages = run(kiosk_config, tmp_path, visit)
    assert "credit" not in totals["kinds"] and len(pages) == 1
    assert receipt_code(pages[0].path, dev_world).certificate is DocumentKind.APPLICATION_RECEIPT


def test_bad_answers_are_said_on_the_form_and_nothing_is_sent(kiosk_config, tmp_path):
    async def visit(k):
        form = await open_form(k, "bulky_waste")
        day = choices(form, "collection_date")[0]
        seen = []
        for answers in ({"items": {"chair": 1}, "collection_date": day, "phone": "090-12AB-5678"},
                        {"items": {}, "collection_date": day, "phone": PHONE},
                        {"items": {"chair": 5, "desk": 5, "futon": 1}, "collection_date": day, "phone": PHONE}):
            await k.do("form", answers=answers)
            await k.kiosk.idle()
            seen.append((k.kiosk.view.state.value, k.kiosk.view.message, k.kiosk.view.problem_field))
        return seen

    assert run(kiosk_config, tmp_path, visit) == [("options", "form.format", "phone"),
                                                  ("options", "form.too_few", "items"),
                                                  ("options", "form.too_many", "items")]


def test_a_date_taken_after_the_quote_is_refused_and_the_coins_given_back(kiosk_config, tmp_path, dev_world,
                                                                         one_slot_server):
    async def visit(k):
        form = await open_form(k, "bulky_waste")
        day = choices(form, "collection_date")[0]
        answers = {"items": {"chair": 1}, "collection_date": day, "phone": PHONE}
        await k.do("form", answers=answers)
        await k.wait("confirm")
        with one_slot_server.client() as http:  # another resident takes the last slot of that day meanwhile
            h = {"Authorization": f"Bearer {sign_in(http, dev_world, 'resident-a')['session_token']}"}
            q = http.post("/v1/applications/quotes", headers=h, json={"service": "bulky_waste", "answers": answers})
            body = {"transaction_id": secrets.token_hex(16), "quote_id": q.json()["quote_id"], "amount_paid": 300}
            assert http.post("/v1/applications", headers=h, json=body).status_code == 201
        await k.do("confirm")
        await k.wait("paying")
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card")
        message, txn = k.kiosk.view.message, k.kiosk.visit.txn
        await k.do("lift_card")
        await k.wait("take_items")
        await k.do("take_change")
        await k.wait("idle")
        return message, k.journal.balance(txn), k.devices.printer.pages

    message, balance, pages = run(kiosk_config, tmp_path, visit, url=one_slot_server.url)
    assert message == "server.date_not_offered"
    assert balance.credited == 300 and balance.refund_paid == 300 and balance.fee_collected == 0
    assert pages == []


def test_a_date_taken_while_the_form_was_open_is_said_on_the_form_and_nothing_is_taken(kiosk_config, tmp_path,
                                                                                      dev_world, one_slot_server):
    async def visit(k):
        form = await open_form(k, "bulky_waste")
        day = choices(form, "collection_date")[1]  # (the first may be gone: another test took it)
        answers = {"items": {"desk": 1}, "collection_date": day, "phone": PHONE}
        with one_slot_server.client() as http:  # someone else takes that day's one place meanwhile
            h = {"Authorization": f"Bearer {sign_in(http, dev_world, 'resident-a')['session_token']}"}
            q = http.post("/v1/applications/quotes", headers=h, json={"service": "bulky_waste", "answers": answers})
            body = {"transaction_id": secrets.token_hex(16), "quote_id": q.json()["quote_id"], "amount_paid": 500}
            assert http.post("/v1/applications", headers=h, json=body).status_code == 201
        await k.do("form", answers=answers)
        for _ in range(300):
            if k.kiosk.view.message and not k.kiosk.view.busy:
                break
            await asyncio.sleep(0.01)
        await k.kiosk.idle()
        view = k.kiosk.view
        return view.state.value, view.message, view.problem_field, choices(view.form, "collection_date"), day, \
            k.journal.totals()

    state, message, field, offered, day, totals = run(kiosk_config, tmp_path, visit, url=one_slot_server.url)
    assert (state, message, field) == ("options", "form.date_taken", "collection_date")
    assert day not in offered  # the form was fetched again: the day is no longer offered
    assert set(totals["kinds"]) == {"hopper_stock"} and totals["open_transactions"] == 0  # no transaction, no money


def test_the_intake_retried_with_the_same_transaction_id_returns_the_same_application(server, dev_world):
    with server.client() as http:
        h = {"Authorization": f"Bearer {sign_in(http, dev_world, 'resident-a')['session_token']}"}
        form = next(f for f in http.get("/v1/applications/forms", headers=h).json()["forms"]
                    if f["service"] == "water_notice")
        q = http.post("/v1/applications/quotes", headers=h, json={"service": "water_notice", "answers": {
            "notice": "start", "date": choices(form, "date")[0], "phone": WATER_PHONE}}).json()
        body = {"transaction_id": secrets.token_hex(16), "quote_id": q["quote_id"], "amount_paid": 0}
        first, second = (http.post("/v1/applications", headers=h, json=body) for _ in range(2))
    assert (first.status_code, second.status_code) == (201, 200) and first.content == second.content


def test_no_phone_number_in_the_kiosks_files_logs_or_audit_after_applications(kiosk_config, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)

    async def visit(k):
        form = await open_form(k, "bulky_waste")
        await k.do("form", answers={"items": {"futon": 1}, "collection_date": choices(form, "collection_date")[0],
                                    "phone": PHONE})
        await k.wait("confirm")
        await k.do("confirm")
        await k.wait("paying")
        for _ in range(2):
            await k.do("insert_coin", value=100)
        await finish(k)
        form = await open_form(k, "water_notice")
        await k.do("form", answers={"notice": "start", "date": choices(form, "date")[0], "phone": WATER_PHONE})
        await k.wait("confirm")
        await k.do("confirm")
        await finish(k)
        return repr(k.audit.events) if hasattr(k.audit, "events") else repr(k.audit.ids())

    audit = run(kiosk_config, tmp_path, visit)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "kiosk").rglob("*") if p.is_file())
    assert stored  # the journal is there
    texts = caplog.text + audit
    for phone in (PHONE, PHONE.replace("-", ""), WATER_PHONE, "7777-3141", "77773141", "5556789"):
        assert phone not in texts, phone
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert phone.encode(encoding) not in stored, (phone, encoding)
