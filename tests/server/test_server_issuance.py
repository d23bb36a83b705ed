"""Menu, quotes, issuance (envelope, pages, idempotency) and result reports against the real server."""
from __future__ import annotations

import base64
import secrets

import pypdfium2 as pdfium
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from certs.envelope import DocumentRejected, RejectReason, check_pages, key_id, open_envelope
from certs.wire import Quote, parse_menu
from tests.support.server_process import sign_in

RESIDENCE = "residence_record_copy"


def auth(session: dict) -> dict:
    return {"Authorization": f"Bearer {session['session_token']}"}


@pytest.fixture(scope="module")
def trusted(dev_dir):
    key = load_pem_public_key((dev_dir / "signing" / "document-pub.pem").read_bytes())
    return {key_id(key): key}


def quote(http, headers, options=None, copies=1) -> Quote:
    reply = http.post("/v1/quotes", headers=headers,
                      json={"certificate": RESIDENCE, "options": options or {}, "copies": copies})
    assert reply.status_code == 200, reply.text
    return Quote.parse(reply.json())


def page_texts(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def issue(http, headers, quote_id, amount, txn=None):
    txn = txn or secrets.token_hex(16)
    return txn, http.post("/v1/issuances", headers=headers,
                          json={"transaction_id": txn, "quote_id": quote_id, "amount_paid": amount})


def test_menu_offers_all_seven_to_an_eligible_resident(http, session_a):
    offers = {o.certificate.value: o for o in parse_menu(http.get("/v1/menu", headers=session_a[1]).json())}
    assert len(offers) == 7
    assert offers[RESIDENCE].available and offers[RESIDENCE].fee == 300 and offers[RESIDENCE].max_copies == 5
    assert "my_number" not in offers[RESIDENCE].options  # the city does not allow it
    assert all(o.available and o.reason is None for o in offers.values())  # resident-a may get every one


def test_child_under_15_is_not_eligible(http, dev_dir):
    headers = auth(sign_in(http, dev_dir, "child"))
    offers = {o.certificate.value: o for o in parse_menu(http.get("/v1/menu", headers=headers).json())}
    assert not offers[RESIDENCE].available and offers[RESIDENCE].reason.value == "under_15"
    reply = http.post("/v1/quotes", headers=headers, json={"certificate": RESIDENCE, "copies": 1})
    assert reply.status_code == 403
    assert reply.json()["error"] == {"code": "not_eligible", "message": reply.json()["error"]["message"],
                                     "detail": {"reason": "under_15"}}


def test_quote_prices_copies_and_pages(http, session_a):
    q = quote(http, session_a[1], {"scope": "household", "household_head": True}, copies=3)
    assert (q.copies, q.fee_per_copy, q.total_fee, q.pages) == (3, 300, 900, 3)


@pytest.mark.parametrize("body, status, code", [
    ({"certificate": "passport", "copies": 1}, 400, "unknown_certificate"),
    ({"certificate": RESIDENCE, "copies": 1, "options": {"resident_code": True}}, 400, "bad_option"),
    ({"certificate": RESIDENCE, "copies": 0}, 400, "bad_copies"),
    ({"certificate": RESIDENCE, "copies": 6}, 400, "bad_copies"),
    ({"certificate": RESIDENCE, "copies": 1, "options": {"my_number": True}}, 400, "bad_option"),
    ({"certificate": RESIDENCE, "copies": 1, "options": {"scope": "everyone"}}, 400, "bad_option"),
    ({"certificate": RESIDENCE, "copies": "1"}, 422, "bad_request"),
])
def test_quote_refusals(http, session_a, body, status, code):
    reply = http.post("/v1/quotes", headers=session_a[1], json=body)
    assert reply.status_code == status
    assert reply.json()["error"]["code"] == code


def test_issuance_envelope_verifies_and_every_page_is_bound(http, session_a, trusted):
    session, headers = session_a
    q = quote(http, headers, {"scope": "household", "household_head": True, "domicile": True}, copies=2)
    txn, reply = issue(http, headers, q.quote_id, 600)
    assert reply.status_code == 201
    manifest, documents = open_envelope(reply.json(), trusted, transaction_id=txn,
                                        subject_ref=session["subject_ref"])
    assert manifest.kiosk_id == "kiosk-dev-01"
    assert [d.entry.copy for d in documents] == [1, 2] and manifest.total_pages == q.pages
    assert len({d.entry.document_id for d in documents}) == 2
    for document in documents:
        texts = page_texts(document.pdf)
        check_pages(manifest, document.entry, texts)
        whole = "".join(texts)
        assert "住民票の写し" in whole and "世帯全員の住民票の原本と相違ないことを証明する" in whole
        assert "試験 太郎" in whole and "試験 花子" in whole and "架空市長" in whole
        assert "個人番号" not in whole and "住民票コード" not in whole
        assert b"/FontFile2" in document.pdf  # the Japanese font is embedded


def test_replay_returns_identical_bytes_and_conflicts_are_refused(http, session_a):
    headers = session_a[1]
    q1, q2 = quote(http, headers), quote(http, headers)
    txn, first = issue(http, headers, q1.quote_id, 300)
    assert first.status_code == 201
    _, again = issue(http, headers, q1.quote_id, 300, txn)
    assert again.status_code == 200 and again.content == first.content
    _, other_quote = issue(http, headers, q2.quote_id, 300, txn)
    assert other_quote.status_code == 409 and other_quote.json()["error"]["code"] == "transaction_conflict"
    _, reused_quote = issue(http, headers, q1.quote_id, 300)  # a paid quote buys one transaction only
    assert reused_quote.status_code == 409 and reused_quote.json()["error"]["code"] == "transaction_conflict"


def test_same_transaction_from_another_session_conflicts(http, session_a, dev_dir):
    headers = session_a[1]
    txn, first = issue(http, headers, quote(http, headers).quote_id, 300)
    assert first.status_code == 201
    other = auth(sign_in(http, dev_dir, "resident-b"))
    _, reply = issue(http, other, quote(http, other).quote_id, 300, txn)
    assert reply.status_code == 409 and reply.json()["error"]["code"] == "transaction_conflict"


def test_payment_below_the_fee_is_refused_and_spends_nothing(http, session_a):
    headers = session_a[1]
    q = quote(http, headers, copies=2)
    txn, short = issue(http, headers, q.quote_id, 599)
    assert short.status_code == 402
    assert short.json()["error"]["detail"] == {"total_fee": 600, "amount_paid": 599}
    _, paid = issue(http, headers, q.quote_id, 600, txn)
    assert paid.status_code == 201


def test_unknown_quote(http, session_a):
    _, reply = issue(http, session_a[1], "q-" + "0" * 32, 300)
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "quote_unknown"


def test_issuance_needs_a_session(http):
    _, reply = issue(http, {}, "q-x", 300)
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "unauthenticated"


def test_result_report_settles_once(http, session_a):
    headers = session_a[1]
    txn, reply = issue(http, headers, quote(http, headers).quote_id, 300)
    assert reply.status_code == 201
    report = {"outcome": "printed", "pages_printed": 1, "fee_collected": 300, "refund_owed": 0, "reason": None}
    path = f"/v1/issuances/{txn}/result"
    assert http.post(path, json=report).json() == {"settled": True}  # mTLS only, no session
    assert http.post(path, json=report).json() == {"settled": True}
    conflict = http.post(path, json={**report, "outcome": "refunded", "refund_owed": 300})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "result_conflict"
    unknown = http.post(f"/v1/issuances/{secrets.token_hex(16)}/result", json=report)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "transaction_unknown"


def test_wrong_subject_fault_is_signed_but_caught_by_the_page_check(fault_server, dev_dir, trusted):
    with fault_server.client() as http:
        session = sign_in(http, dev_dir, "resident-a")
        headers = auth(session)
        txn, reply = issue(http, headers, quote(http, headers).quote_id, 300)
    assert reply.status_code == 201
    manifest, documents = open_envelope(reply.json(), trusted, transaction_id=txn, subject_ref=session["subject_ref"])
    texts = page_texts(documents[0].pdf)
    assert "試験 太郎" not in "".join(texts)  # another resident's data
    with pytest.raises(DocumentRejected) as caught:
        check_pages(manifest, documents[0].entry, texts)
    assert caught.value.reason is RejectReason.PAGE_BINDING_MISMATCH
    assert base64.b64decode(reply.json()["documents"][0]["pdf"]) == documents[0].pdf
