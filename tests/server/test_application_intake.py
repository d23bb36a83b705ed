"""E-applications against the real server: forms as data, the quote, the idempotent intake, the receipt, the
refusals (bad answers, a date taken since), sticker mode, storage on both databases and the department's list."""
from __future__ import annotations

import base64
import csv
import json
import secrets
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from certs.envelope import check_pages, key_id, open_envelope
from server.models_applications import Application
from tests.server.test_server_issuance import page_texts
from tests.support.applications_config import write_applications_variant
from tests.support.server_process import REPO, _env, sign_in, start_server

JST = timezone(timedelta(hours=9))
PHONE = "090-4321-8765"


@pytest.fixture(scope="module")
def trusted(dev_dir):
    key = load_pem_public_key((dev_dir / "signing" / "document-pub.pem").read_bytes())
    return {key_id(key): key}


def headers(http, dev_dir, card="resident-a") -> dict:
    return {"Authorization": f"Bearer {sign_in(http, dev_dir, card)['session_token']}"}


def forms(http, h) -> dict:
    reply = http.get("/v1/applications/forms", headers=h)
    assert reply.status_code == 200, reply.text
    return {f["service"]: f for f in reply.json()["forms"]}


def first_date(form: dict, field: str = "collection_date") -> str:
    return next(f for f in form["fields"] if f["name"] == field)["choices"][0]["value"]


def bulky_answers(form, **changes) -> dict:
    day = changes.pop("collection_date", None) or first_date(form)
    return {"items": {"chair": 2, "bicycle": 1}, "collection_date": day, "phone": PHONE, **changes}


def apply(http, h, service, answers, paid=None):
    q = http.post("/v1/applications/quotes", headers=h, json={"service": service, "answers": answers})
    assert q.status_code == 200, q.text
    txn = secrets.token_hex(16)
    body = {"transaction_id": txn, "quote_id": q.json()["quote_id"],
            "amount_paid": q.json()["total_fee"] if paid is None else paid}
    return q.json(), txn, body, http.post("/v1/applications", headers=h, json=body)


def test_the_city_offers_both_seed_forms_with_its_items_and_the_districts_dates(http, dev_dir):
    offered = forms(http, headers(http, dev_dir))
    assert set(offered) == {"bulky_waste", "water_notice"}
    items = next(f for f in offered["bulky_waste"]["fields"] if f["name"] == "items")
    assert {"chair", "bicycle", "mattress"} <= {c["value"] for c in items["choices"]}
    dates = next(f for f in offered["bulky_waste"]["fields"] if f["name"] == "collection_date")["choices"]
    assert dates and all(c["label_ja"].endswith(("（月）", "（木）")) for c in dates)  # resident-a lives in "south"
    assert offered["bulky_waste"]["payment"] == "cash" and offered["water_notice"]["payment"] == "none"


def test_bulky_waste_intake_is_idempotent_and_its_receipt_verifies(http, dev_dir, trusted):
    h = headers(http, dev_dir)
    form = forms(http, h)["bulky_waste"]
    quote, txn, body, first = apply(http, h, "bulky_waste", bulky_answers(form))
    assert quote["fee"] == quote["total_fee"] == 1100 and quote["payment"] == "cash"
    assert first.status_code == 201
    again = http.post("/v1/applications", headers=h, json=body)
    assert again.status_code == 200 and again.content == first.content
    envelope = first.json()
    manifest, documents = open_envelope(envelope, trusted, transaction_id=txn,
                                        subject_ref=envelope["manifest"]["subject_ref"])
    assert [d.certificate for d in manifest.documents] == ["application_receipt"]
    texts = page_texts(documents[0].pdf)
    check_pages(manifest, documents[0].entry, texts)
    text = "".join(texts)
    assert f"E" in text and "いす" in text and "自転車" in text and "1,100円" in text and "収集日の朝" in text
    assert "4321" not in text  # the phone: only its last two digits
    assert "この受付票の背景" in text and "証明書" not in text  # a receipt, not a certificate, says its footer


def test_bad_answers_are_named_and_never_echoed(http, dev_dir):
    h = headers(http, dev_dir)
    form = forms(http, h)["bulky_waste"]
    cases = {"phone": bulky_answers(form, phone="090-12AB-5678"), "items": bulky_answers(form, items={}),
             "too_many": bulky_answers(form, items={"chair": 5, "desk": 5, "futon": 1})}
    for name, answers in cases.items():
        reply = http.post("/v1/applications/quotes", headers=h, json={"service": "bulky_waste", "answers": answers})
        assert reply.status_code == 400, name
        error = reply.json()["error"]
        assert error["code"] == "bad_answer" and "12AB" not in reply.text
        assert error["detail"]["problem"] == {"phone": "format", "items": "too_few", "too_many": "too_many"}[name]
    unknown = http.post("/v1/applications/quotes", headers=h, json={"service": "pet_tax", "answers": {}})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_service"


def test_a_water_stop_notice_is_free_and_the_customer_number_optional(http, dev_dir):
    h = headers(http, dev_dir)
    form = forms(http, h)["water_notice"]
    answers = {"notice": "stop", "date": first_date(form, "date"), "phone": "0312345678"}
    quote, _, _, reply = apply(http, h, "water_notice", answers)
    assert quote["total_fee"] == 0 and quote["payment"] == "none" and reply.status_code == 201


def test_a_date_taken_since_the_form_is_refused_at_the_intake(dev_dir):
    server = start_server(dev_dir, config=write_applications_variant(dev_dir, "apps-capacity", capacity=1))
    try:
        with server.client() as http:
            mine, theirs = headers(http, dev_dir), headers(http, dev_dir)  # two visits, one household
            form = forms(http, mine)["bulky_waste"]
            quote = http.post("/v1/applications/quotes", headers=mine,
                              json={"service": "bulky_waste", "answers": bulky_answers(form)}).json()
            assert apply(http, theirs, "bulky_waste", bulky_answers(form))[3].status_code == 201  # took the day
            refused = http.post("/v1/applications", headers=mine, json={
                "transaction_id": secrets.token_hex(16), "quote_id": quote["quote_id"], "amount_paid": 1100})
            assert refused.status_code == 409 and refused.json()["error"]["code"] == "date_not_offered"
            assert first_date(forms(http, mine)["bulky_waste"]) != first_date(form)  # no longer offered
    finally:
        server.stop()


def test_sticker_mode_takes_no_money_and_says_which_stickers(dev_dir):
    server = start_server(dev_dir, config=write_applications_variant(dev_dir, "apps-stickers", payment="stickers"))
    try:
        with server.client() as http:
            h = headers(http, dev_dir)
            form = forms(http, h)["bulky_waste"]
            answers = bulky_answers(form, items={"mattress": 1, "chair": 1})
            quote, _, _, reply = apply(http, h, "bulky_waste", answers)
            assert quote["payment"] == "stickers" and quote["total_fee"] == 0 and quote["fee"] == 1100
            assert quote["stickers"] == [{"value": 500, "count": 1}, {"value": 300, "count": 2}]
            assert reply.status_code == 201
            envelope = reply.json()
            pdf = base64.b64decode(envelope["documents"][0]["pdf"])
            text = "".join(page_texts(pdf))
            assert "処理券" in text and "500円券 1枚" in text and "300円券 2枚" in text and "受領" not in text
    finally:
        server.stop()


def test_applications_are_stored_on_both_databases(store, dev_dir):
    server, sessions = store
    with server.client() as http:
        h = headers(http, dev_dir)
        _, txn, _, reply = apply(http, h, "bulky_waste", bulky_answers(forms(http, h)["bulky_waste"]))
    assert reply.status_code == 201
    with sessions() as db:
        row = db.query(Application).filter_by(transaction_id=txn).one()
    assert row.service == "bulky_waste" and row.channel == "kiosk" and row.total_fee == 1100
    assert json.loads(row.answers_json)["phone"] == PHONE.replace("-", "")  # the city's database holds it


def test_the_department_lists_the_days_applications_as_csv(http, dev_dir, tmp_path):
    h = headers(http, dev_dir)
    _, txn, _, reply = apply(http, h, "bulky_waste", bulky_answers(forms(http, h)["bulky_waste"]))
    issued = datetime.fromisoformat(reply.json()["manifest"]["issued_at"])  # UTC; the number carries Japan's date
    number = f"E{issued.astimezone(JST):%y%m%d}-{txn[:10].upper()}"
    out = tmp_path / "day.csv"
    run = subprocess.run([sys.executable, "-m", "server.cli", "applications", "--config", str(dev_dir / "server.toml"),
                          "--service", "bulky_waste", "--csv", str(out)], cwd=REPO, env=_env(), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    mine = [r for r in rows if r["application_no"] == number]
    assert len(mine) == 1 and mine[0]["service"] == "bulky_waste" and "chair×2" in mine[0]["answers"]


def test_racing_intakes_never_take_more_places_than_the_day_has(dev_dir):
    """Eight residents' intakes for one day with three places, released at one instant: three are taken; a loser
    of a race for one place is told to send again (503 busy) and then gets the next place or a clear refusal."""
    from tests.support.storm import release_together

    server = start_server(dev_dir, config=write_applications_variant(dev_dir, "apps-race", capacity=3))
    try:
        with server.client() as http:
            sessions = [headers(http, dev_dir) for _ in range(8)]
            day = first_date(forms(http, sessions[0])["bulky_waste"])
            quotes = [http.post("/v1/applications/quotes", headers=h, json={
                "service": "bulky_waste", "answers": bulky_answers({}, collection_date=day)}).json()["quote_id"]
                for h in sessions]

        def intake(i):
            body = {"transaction_id": secrets.token_hex(16), "quote_id": quotes[i], "amount_paid": 1100}
            with server.client() as client:
                for _ in range(10):
                    reply = client.post("/v1/applications", headers=sessions[i], json=body)
                    if reply.status_code != 503:
                        return reply.status_code, reply.json().get("error", {}).get("code")
            return 503, "busy"

        results = release_together(8, intake)
    finally:
        server.stop()
    assert sorted(results, key=str).count((201, None)) == 3, results
    assert all(r in ((201, None), (409, "date_not_offered")) for r in results), results


def test_a_resident_who_moved_out_is_offered_no_application(http, dev_dir):
    h = headers(http, dev_dir, "moved-out")
    assert forms(http, h) == {}
    refused = http.post("/v1/applications/quotes", headers=h, json={"service": "water_notice", "answers": {
        "notice": "stop", "date": "2030-01-01", "phone": PHONE}})
    assert refused.status_code == 403 and refused.json()["error"] == {
        "code": "not_eligible", "message": "this resident cannot apply at a kiosk", "detail": {"reason": "moved_out"}}
