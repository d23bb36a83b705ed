"""The storage-heavy half of the contract on BOTH databases: SQLite (the default) and PostgreSQL (production).

Each database gets its own server process over HTTPS with mTLS; the PostgreSQL one runs in the session's
throw-away cluster (tests/support/postgres.py).  Concurrency is real: requests are released together by a
barrier, and the database alone must decide who wins (single-use nonces, one document set per transaction).
"""
from __future__ import annotations

import secrets

from sqlalchemy import func, select

from server.models import Issuance, Nonce, QuoteRecord
from tests.support.server_process import jpki_signin_body, load_card, sign_in
from tests.support.storm import release_together

RESIDENCE = "residence_record_copy"


def auth(session: dict) -> dict:
    return {"Authorization": f"Bearer {session['session_token']}"}


def new_quote(http, headers, copies: int = 1) -> dict:
    reply = http.post("/v1/quotes", headers=headers, json={"certificate": RESIDENCE, "copies": copies})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_sign_in_menu_and_quote(store, dev_dir):
    server, _ = store
    with server.client() as http:
        session = sign_in(http, dev_dir, "resident-a")
        headers = auth(session)
        offers = {o["certificate"]: o for o in http.get("/v1/menu", headers=headers).json()["offers"]}
        assert offers[RESIDENCE]["available"]
        quote = new_quote(http, headers, copies=2)
        assert (quote["total_fee"], quote["copies"]) == (600, 2)
        assert http.post("/v1/signout", headers=headers, json={}).json() == {"signed_out": True}
        assert http.get("/v1/menu", headers=headers).status_code == 401


def test_nonce_is_spent_once_even_by_simultaneous_sign_ins(store, dev_dir):
    server, sessions = store
    with server.client() as http:
        nonce = http.post("/v1/signin/challenge", json={}).json()["nonce"]
    body = jpki_signin_body(load_card(dev_dir, "resident-b"), nonce)

    def attempt(_):
        with server.client() as client:
            reply = client.post("/v1/signin", json=body)
            return reply.status_code, reply.json()

    results = release_together(6, attempt)
    assert sorted(status for status, _ in results) == [200] + [401] * 5, results
    assert {doc["error"]["code"] for status, doc in results if status == 401} == {"nonce_reused"}
    with sessions() as db:
        assert db.get(Nonce, nonce).used_at is not None


def test_simultaneous_identical_issuances_make_one_document_set(store, dev_dir):
    server, sessions = store
    with server.client() as http:
        headers = auth(sign_in(http, dev_dir, "resident-a"))
        quote = new_quote(http, headers)
    request = {"transaction_id": secrets.token_hex(16), "quote_id": quote["quote_id"], "amount_paid": 300}

    def attempt(_):
        with server.client() as client:
            return client.post("/v1/issuances", headers=headers, json=request)

    replies = release_together(4, attempt)
    assert sorted(r.status_code for r in replies) == [200, 200, 200, 201], [r.text for r in replies]
    assert len({r.content for r in replies}) == 1  # the very same bytes for everyone
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Issuance)
                         .where(Issuance.transaction_id == request["transaction_id"])) == 1
        assert db.get(QuoteRecord, quote["quote_id"]).transaction_id == request["transaction_id"]


def test_simultaneous_different_requests_with_one_transaction_id(store, dev_dir):
    server, sessions = store
    with server.client() as http:
        headers = auth(sign_in(http, dev_dir, "resident-a"))
        quotes = [new_quote(http, headers) for _ in range(2)]
    txn = secrets.token_hex(16)

    def attempt(i):
        with server.client() as client:
            return client.post("/v1/issuances", headers=headers,
                               json={"transaction_id": txn, "quote_id": quotes[i]["quote_id"], "amount_paid": 300})

    replies = release_together(2, attempt)
    assert sorted(r.status_code for r in replies) == [201, 409], [r.text for r in replies]
    loser = next(r for r in replies if r.status_code == 409)
    assert loser.json()["error"]["code"] == "transaction_conflict"
    with sessions() as db:
        stored = db.get(Issuance, txn)
        winner = next(r for r in replies if r.status_code == 201)
        assert stored.envelope == winner.content


def test_one_quote_buys_one_transaction_even_when_raced(store, dev_dir):
    server, sessions = store
    with server.client() as http:
        headers = auth(sign_in(http, dev_dir, "resident-b"))
        quote = new_quote(http, headers)
    txns = [secrets.token_hex(16) for _ in range(3)]

    def attempt(i):
        with server.client() as client:
            return client.post("/v1/issuances", headers=headers,
                               json={"transaction_id": txns[i], "quote_id": quote["quote_id"], "amount_paid": 300})

    replies = release_together(3, attempt)
    assert sorted(r.status_code for r in replies) == [201, 409, 409], [r.text for r in replies]
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Issuance).where(Issuance.transaction_id.in_(txns))) == 1


def test_citizen_card_locks_after_three_wrong_passwords(store):
    server, _ = store
    body = {"method": "citizen_card", "card_id": "C0000001"}
    with server.client() as http:
        assert http.post("/v1/signin", json={**body, "password": "2580"}).status_code == 200
        codes = [http.post("/v1/signin", json={**body, "password": "0000"}).json()["error"]["code"]
                 for _ in range(3)]
        assert codes == ["wrong_password", "wrong_password", "card_locked"]
        locked = http.post("/v1/signin", json={**body, "password": "2580"})
        assert locked.status_code == 403 and locked.json()["error"]["code"] == "card_locked"
