"""Bad input on both databases: malformed, mistyped, oversized, replayed, expired and unauthenticated requests get a
4xx with an error code from server/errors.py — never a 500, and never a partial issuance (no stored document set,
no quote spent)."""
from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select, update

from server.db import utcnow
from server.devinit import issue_kiosk_certificate
from server.models import Issuance, Nonce, QuoteRecord, SessionRecord
from tests.support.server_process import jpki_signin_body, load_card, sign_in, start_server, write_config_variant

RESIDENCE = "residence_record_copy"
REPORT = {"outcome": "printed", "pages_printed": 1, "fee_collected": 300, "refund_owed": 0}


def refused(reply, status: int, code: str | None = None) -> str:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert set(error) == {"code", "message", "detail"} and error["code"]
    if code:
        assert error["code"] == code, error
    return error["code"]


@pytest.fixture()
def signed_in(store, dev_dir):
    server, _ = store
    with server.client() as http:
        session = sign_in(http, dev_dir, "resident-a")
        yield http, {"Authorization": f"Bearer {session['session_token']}"}, session


def post_paths() -> list[str]:
    return ["/v1/signin/challenge", "/v1/signin", "/v2/signin", "/v1/signout", "/v1/quotes", "/v1/issuances",
            f"/v1/issuances/{secrets.token_hex(16)}/result"]


def test_every_endpoint_refuses_malformed_mistyped_and_oversized_bodies(signed_in):
    http, headers, _ = signed_in
    json_headers = {**headers, "content-type": "application/json"}
    for path in post_paths():
        refused(http.post(path, headers=json_headers, content=b'{"copies": 1'), 400, "bad_request")
        refused(http.post(path, headers=json_headers, content=b"\xc3\x28"), 400, "bad_request")
        refused(http.post(path, headers=json_headers, content=json.dumps({"x": "y" * 70_000})), 413,
                "payload_too_large")
        for body in ([], "text", 7, {"copies": [1]}, {"transaction_id": 5, "amount_paid": "300"}):
            reply = http.post(path, headers=headers, json=body)
            assert reply.status_code in (400, 422), (path, body, reply.text)
            refused(reply, reply.status_code, "bad_request")
    assert http.get("/v1/menu", headers=headers).status_code == 200  # the session survived all of it


def test_no_kiosk_certificate_gets_nothing(store, dev_dir):
    server, _ = store
    tls = dev_dir / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca-key.pem").read_bytes(), password=None)
    issue_kiosk_certificate(tls, "printer-01", ca, ca_key)  # the city's CA, but not a kiosk id
    for kiosk in ("printer-01", None):  # a certificate that names no kiosk; no certificate at all
        with server.client(kiosk) as stranger:
            refused(stranger.get("/v1/health"), 401, "unauthenticated")
            refused(stranger.get("/v1/menu"), 401, "unauthenticated")
            for path in post_paths():
                refused(stranger.post(path, json={}), 401, "unauthenticated")


def test_replayed_and_expired_nonces(store, dev_dir):
    server, sessions = store
    card = load_card(dev_dir, "resident-b")
    with server.client() as http:
        nonce = http.post("/v1/signin/challenge", json={}).json()["nonce"]
        assert http.post("/v1/signin", json=jpki_signin_body(card, nonce)).status_code == 200
        refused(http.post("/v1/signin", json=jpki_signin_body(card, nonce)), 401, "nonce_reused")
        stale = http.post("/v1/signin/challenge", json={}).json()["nonce"]
        with sessions() as db:
            db.execute(update(Nonce).where(Nonce.nonce == stale).values(expires_at=utcnow() - timedelta(seconds=1)))
            db.commit()
        refused(http.post("/v1/signin", json=jpki_signin_body(card, stale)), 401, "nonce_expired")
        refused(http.post("/v1/signin", json=jpki_signin_body(card, "A" * 43)), 401, "nonce_unknown")


def test_nonces_expired_over_a_day_ago_are_deleted_and_a_late_one_is_still_told_expired(store, dev_dir):
    server, sessions = store
    card = load_card(dev_dir, "resident-b")
    with server.client() as http:
        issued = http.post("/v1/signin/challenge", json={}).json()["nonce"]
    now = utcnow()
    with sessions() as db:
        kiosk = db.get(Nonce, issued).kiosk_id
        old, late = "old-" + secrets.token_hex(8), "late-" + secrets.token_hex(8)
        db.add_all([Nonce(nonce=old, kiosk_id=kiosk, expires_at=now - timedelta(days=1, minutes=1), used_at=None),
                    Nonce(nonce=late, kiosk_id=kiosk, expires_at=now - timedelta(hours=23), used_at=None)])
        db.commit()
    bind = sessions.kw["bind"]  # a new process on the same database: its first challenge purges
    config = write_config_variant(dev_dir, f"purge-{bind.dialect.name}",
                                  database_url=bind.url.render_as_string(hide_password=False))
    fresh = start_server(dev_dir, config=config)
    try:
        with fresh.client() as http:
            http.post("/v1/signin/challenge", json={}).raise_for_status()
            with sessions() as db:
                assert db.get(Nonce, old) is None
                assert db.get(Nonce, late) is not None and db.get(Nonce, issued) is not None
            refused(http.post("/v1/signin", json=jpki_signin_body(card, late)), 401, "nonce_expired")
            refused(http.post("/v1/signin", json=jpki_signin_body(card, old)), 401, "nonce_unknown")
    finally:
        fresh.stop()


def test_expired_and_signed_out_sessions_are_unauthenticated(signed_in, store, dev_dir):
    http, headers, session = signed_in
    _, sessions = store
    with sessions() as db:
        db.execute(update(SessionRecord).where(SessionRecord.subject_ref == session["subject_ref"],
                                               SessionRecord.signed_out_at.is_(None))
                   .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    refused(http.get("/v1/menu", headers=headers), 401, "unauthenticated")
    refused(http.post("/v1/quotes", headers=headers, json={"certificate": RESIDENCE, "copies": 1}), 401,
            "unauthenticated")
    other = {"Authorization": f"Bearer {sign_in(http, dev_dir, 'resident-a')['session_token']}"}
    assert http.post("/v1/signout", headers=other, json={}).status_code == 200
    refused(http.post("/v1/issuances", headers=other, json={"transaction_id": secrets.token_hex(16),
                                                            "quote_id": "q-x", "amount_paid": 300}),
            401, "unauthenticated")


def test_refused_issuances_store_nothing_and_spend_no_quote(signed_in, store):
    http, headers, _ = signed_in
    _, sessions = store
    with sessions() as db:
        before = db.scalar(select(func.count()).select_from(Issuance))
    quote = http.post("/v1/quotes", headers=headers, json={"certificate": RESIDENCE, "copies": 2}).json()

    def issue(quote_id, amount, txn=None):
        return http.post("/v1/issuances", headers=headers, json={
            "transaction_id": txn or secrets.token_hex(16), "quote_id": quote_id, "amount_paid": amount})

    refused(issue(quote["quote_id"], 599), 402, "payment_insufficient")
    refused(issue("q-\u0000" + "0" * 30, 600), 400, "bad_request")  # PostgreSQL cannot store or compare NUL
    for odd in ("q-'; DROP TABLE quotes; --", "\u30ad\u30aa\u30b9\u30af", " ", "q-" + "f" * 62):
        refused(issue(odd, 600), 404, "quote_unknown")
    with sessions() as db:
        assert db.get(QuoteRecord, quote["quote_id"]).transaction_id is None
        db.execute(update(QuoteRecord).where(QuoteRecord.quote_id == quote["quote_id"])
                   .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    refused(issue(quote["quote_id"], 600), 410, "quote_expired")
    refused(http.post(f"/v1/issuances/{secrets.token_hex(16)}/result", json=REPORT), 404, "transaction_unknown")
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Issuance)) == before
        assert db.get(QuoteRecord, quote["quote_id"]).transaction_id is None


def test_an_unexpected_failure_is_still_an_error_document():
    import asyncio

    import httpx

    from server.app import create_app

    app = create_app(None)

    @app.get("/boom")
    def boom() -> dict:
        raise RuntimeError("a bug, with a value that must not leak: 2580")

    async def call():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/boom")

    reply = asyncio.run(call())
    refused(reply, 500, "server_error")
    assert "2580" not in reply.text
