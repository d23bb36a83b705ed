"""All state lives in the database: a second server process on the same database continues any visit.

(The 2024 Takamatsu wrong issuance came from a single-server build deployed on several servers.)
"""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

from server.db import open_database, utcnow
from server.errors import ApiError
from server.models import Nonce
from server.signin import _spend_nonce
from tests.support.server_process import jpki_signin_body, load_card, start_server, write_config_variant


@pytest.fixture(scope="module")
def twin(server, dev_dir):
    process = start_server(dev_dir, config=write_config_variant(dev_dir, "twin", database="server.db"))
    yield process
    process.stop()


def test_a_visit_can_hop_between_server_processes(server, twin, dev_dir):
    with server.client() as one, twin.client() as two:
        nonce = one.post("/v1/signin/challenge", json={}).json()["nonce"]
        body = jpki_signin_body(load_card(dev_dir, "resident-a"), nonce)
        session = two.post("/v1/signin", json=body).json()
        assert one.post("/v1/signin", json=body).json()["error"]["code"] == "nonce_reused"
        headers = {"Authorization": f"Bearer {session['session_token']}"}
        quote = one.post("/v1/quotes", headers=headers, json={"certificate": "residence_record_copy",
                                                              "copies": 1}).json()
        request = {"transaction_id": secrets.token_hex(16), "quote_id": quote["quote_id"], "amount_paid": 300}
        first = two.post("/v1/issuances", headers=headers, json=request)
        replay = one.post("/v1/issuances", headers=headers, json=request)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.content == first.content


def test_expired_nonce_is_refused_and_spent(tmp_path):
    sessions = open_database(f"sqlite:///{tmp_path / 'nonces.db'}")
    with sessions() as db:
        db.add(Nonce(nonce="n" * 43, kiosk_id="kiosk-a", expires_at=utcnow() - timedelta(seconds=1), used_at=None))
        db.commit()
        with pytest.raises(ApiError) as expired:
            _spend_nonce(db, "n" * 43, "kiosk-a")
        assert expired.value.code == "nonce_expired"
        with pytest.raises(ApiError) as reused:
            _spend_nonce(db, "n" * 43, "kiosk-a")
        assert reused.value.code == "nonce_reused"
