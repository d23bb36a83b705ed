"""The rules of docs/kiosk-server-protocol.md that need a running server, checked over the real HTTPS server with
mTLS: the body limit, the optional challenge body, 400 or 422, member_ref, what belongs to which kiosk, the
transaction's life, the result's enumerations, and how a test learns the port of ``serve --port 0``."""
from __future__ import annotations

import json
import re
import secrets

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from server.devinit import issue_kiosk_certificate
from server.errors import MAX_BODY
from tests.support.server_process import sign_in

OTHER_KIOSK = "kiosk-rules-02"
RESIDENCE = "residence_record_copy"


def error(reply, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code
    return reply.json()["error"]


def bearer(session: dict) -> dict:
    return {"Authorization": f"Bearer {session['session_token']}"}


@pytest.fixture(scope="module")
def other_kiosk(server, dev_dir):
    tls = dev_dir / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca-key.pem").read_bytes(), password=None)
    issue_kiosk_certificate(tls, OTHER_KIOSK, ca, ca_key)
    with server.client(kiosk_id=OTHER_KIOSK) as client:
        yield client


def test_the_body_limit_is_65536_bytes_inclusive(http):
    assert MAX_BODY == 65536
    headers = {"content-type": "application/json"}
    exact = b'{"pad": "' + b"x" * (MAX_BODY - 11) + b'"}'
    assert len(exact) == MAX_BODY
    error(http.post("/v1/signin/challenge", content=exact, headers=headers), 422, "bad_request")  # read, then judged
    error(http.post("/v1/signin/challenge", content=exact + b" ", headers=headers), 413, "payload_too_large")


def test_the_challenge_body_is_optional(http):
    assert http.post("/v1/signin/challenge").status_code == 200
    assert http.post("/v1/signin/challenge", json={}).status_code == 200
    error(http.post("/v1/signin/challenge", json={"kiosk": "x"}), 422, "bad_request")


def test_400_when_the_body_is_not_json_422_when_json_does_not_fit(http):
    body = json.dumps({"method": "citizen_card", "card_id": "C0000001", "password": "2580"})
    error(http.post("/v1/signin", content=body, headers={"content-type": "text/plain"}), 400, "bad_request")
    error(http.post("/v1/signin", data={"method": "citizen_card"}), 400, "bad_request")  # a form
    error(http.post("/v1/signin", content=b"{\"method\": ", headers={"content-type": "application/json"}), 400,
          "bad_request")
    error(http.post("/v1/signin", json={"method": "citizen_card", "card_id": "C0000001"}), 422, "bad_request")
    nonce = http.post("/v1/signin/challenge", json={}).json()["nonce"]
    refused = error(http.post("/v1/signin", json={"method": "jpki", "nonce": nonce, "certificate": "MIIB" * 4 + "!",
                                                  "signature": "A" * 344}), 422, "bad_request")
    assert refused["detail"] == {"fields": ["certificate"]}


def test_the_residents_own_member_ref_is_their_subject_ref(http, dev_dir):
    session = sign_in(http, dev_dir, "resident-a")
    household = http.get("/v1/menu", headers=bearer(session)).json()["household"]
    assert len(household) > 1
    assert session["subject_ref"] in [member["member_ref"] for member in household]


def test_session_quote_and_transaction_belong_to_one_kiosk(http, other_kiosk, dev_dir):
    session = sign_in(http, dev_dir, "resident-a")
    quote = http.post("/v1/quotes", headers=bearer(session), json={"certificate": RESIDENCE, "copies": 1}).json()
    error(other_kiosk.get("/v1/menu", headers=bearer(session)), 401, "unauthenticated")
    own = sign_in(other_kiosk, dev_dir, "resident-a", OTHER_KIOSK)
    error(other_kiosk.post("/v1/issuances", headers=bearer(own), json={
        "transaction_id": secrets.token_hex(16), "quote_id": quote["quote_id"], "amount_paid": 300}), 404,
        "quote_unknown")
    txn = secrets.token_hex(16)
    assert http.post("/v1/issuances", headers=bearer(session), json={
        "transaction_id": txn, "quote_id": quote["quote_id"], "amount_paid": 300}).status_code == 201
    report = {"outcome": "printed", "pages_printed": 1, "fee_collected": 300, "refund_owed": 0}
    error(other_kiosk.post(f"/v1/issuances/{txn}/result", json=report), 404, "transaction_unknown")
    own_quote = other_kiosk.post("/v1/quotes", headers=bearer(own), json={"certificate": RESIDENCE, "copies": 1}).json()
    error(other_kiosk.post("/v1/issuances", headers=bearer(own), json={
        "transaction_id": txn, "quote_id": own_quote["quote_id"], "amount_paid": 300}), 409, "transaction_conflict")


def test_a_replay_after_settlement_returns_the_same_envelope_and_a_new_session_cannot(http, dev_dir):
    session = sign_in(http, dev_dir, "resident-a")
    quote = http.post("/v1/quotes", headers=bearer(session), json={"certificate": RESIDENCE, "copies": 1}).json()
    request = {"transaction_id": secrets.token_hex(16), "quote_id": quote["quote_id"], "amount_paid": 300}
    first = http.post("/v1/issuances", headers=bearer(session), json=request)
    assert first.status_code == 201
    settled = http.post(f"/v1/issuances/{request['transaction_id']}/result", json={
        "outcome": "printed", "pages_printed": quote["pages"], "fee_collected": 300, "refund_owed": 0})
    assert settled.json() == {"settled": True}
    again = http.post("/v1/issuances", headers=bearer(session), json=request)
    assert (again.status_code, again.content) == (200, first.content)
    later = sign_in(http, dev_dir, "resident-a")  # the session lost: a new one cannot fetch the set
    error(http.post("/v1/issuances", headers=bearer(later), json=request), 409, "transaction_conflict")
    http.post("/v1/signout", headers=bearer(session), json={})
    error(http.post("/v1/issuances", headers=bearer(session), json=request), 401, "unauthenticated")


def test_a_result_reason_outside_the_enumeration_is_refused(http, dev_dir):
    session = sign_in(http, dev_dir, "resident-a")
    quote = http.post("/v1/quotes", headers=bearer(session), json={"certificate": RESIDENCE, "copies": 1}).json()
    txn = secrets.token_hex(16)
    http.post("/v1/issuances", headers=bearer(session), json={
        "transaction_id": txn, "quote_id": quote["quote_id"], "amount_paid": 300}).raise_for_status()
    refund = {"outcome": "refunded", "pages_printed": 0, "fee_collected": 0, "refund_owed": 300}
    error(http.post(f"/v1/issuances/{txn}/result", json={**refund, "reason": "printer_fault"}), 422, "bad_request")
    error(http.post(f"/v1/issuances/{txn}/result", json={**refund, "outcome": "lost"}), 422, "bad_request")
    assert http.post(f"/v1/issuances/{txn}/result", json={**refund, "reason": "timeout_issuing"}).json() == {
        "settled": True}


def test_serve_port_0_announces_its_url_on_the_first_line(server):
    assert re.fullmatch(r"https://127\.0\.0\.1:(\d+)", server.url)
    assert int(server.url.rsplit(":", 1)[1]) == server.port > 0
    assert server.client().get("/v1/health").json()["status"] == "ok"
