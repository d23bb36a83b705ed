"""Protocol version 2 (docs/kiosk-server-protocol.md, "Protocol version 2: fewer round trips"): ``POST /v2/signin``
answers the session and the menu together, under exactly the nonce rules of ``POST /v1/signin``."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from certs.wire import PROTOCOL_VERSIONS, SignedIn, parse_menu
from server.db import open_database, utcnow
from server.models import Nonce
from tests.support.server_process import jpki_signin_body, load_card, start_server, write_config_variant
from tests.support.storm import make_storm_kiosks


def challenge(http) -> str:
    reply = http.post("/v1/signin/challenge", json={})
    assert reply.status_code == 200, reply.text
    return reply.json()["nonce"]


def refused(reply, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code


@pytest.fixture(scope="module")
def own_server(dev_dir):
    """A server of this module's own, on an SQLite file the test can reach (to age a nonce)."""
    for stale in dev_dir.glob("signin-v2.db*"):
        stale.unlink()
    process = start_server(dev_dir, config=write_config_variant(dev_dir, "signin-v2", database="signin-v2.db"))
    sessions = open_database(f"sqlite:///{dev_dir / 'signin-v2.db'}")
    yield process, sessions
    sessions.kw["bind"].dispose()
    process.stop()


def test_health_names_both_protocol_versions_and_a_challenge_says_its_lifetime(http):
    assert http.get("/v1/health").json()["protocol_versions"] == [1, 2] == list(PROTOCOL_VERSIONS)
    reply = http.post("/v1/signin/challenge", json={}).json()
    assert reply["expires_in_s"] == 60  # the development server's [lifetimes] nonce_seconds


def test_v2_sign_in_answers_the_session_and_the_same_menu_as_v1(http, dev_dir):
    reply = http.post("/v2/signin", json=jpki_signin_body(load_card(dev_dir, "resident-a"), challenge(http)))
    assert reply.status_code == 200, reply.text
    signed_in = SignedIn.parse(reply.json())
    assert len(signed_in.offers) == 7
    headers = {"Authorization": f"Bearer {signed_in.session.token}"}
    v1_menu = http.get("/v1/menu", headers=headers)
    assert v1_menu.status_code == 200  # the session works for every version-1 call
    assert reply.json()["menu"] == v1_menu.json()
    assert parse_menu(v1_menu.json()) == signed_in.offers


def test_v2_citizen_card_sign_in_answers_the_menu_and_counts_wrong_passwords(own_server):
    server, _ = own_server  # its own database: the try counter of the shared server's card is left alone
    with server.client() as http:
        wrong = http.post("/v2/signin", json={"method": "citizen_card", "card_id": "C0000001", "password": "9999"})
        refused(wrong, 401, "wrong_password")
        assert wrong.json()["error"]["detail"]["tries_left"] == 2
        reply = http.post("/v2/signin", json={"method": "citizen_card", "card_id": "C0000001", "password": "2580"})
        assert reply.status_code == 200, reply.text
        assert len(SignedIn.parse(reply.json()).offers) == 7


def test_v2_refuses_a_nonce_used_twice(http, dev_dir):
    body = jpki_signin_body(load_card(dev_dir, "resident-a"), challenge(http))
    assert http.post("/v2/signin", json=body).status_code == 200
    refused(http.post("/v2/signin", json=body), 401, "nonce_reused")
    refused(http.post("/v1/signin", json=body), 401, "nonce_reused")  # one nonce table for both versions


def test_v2_refuses_a_nonce_issued_to_another_kiosk(server, http, dev_dir):
    other = make_storm_kiosks(dev_dir, 1, prefix="kiosk-v2-other")[0].kiosk_id
    with server.client(kiosk_id=other) as stranger:
        nonce = challenge(stranger)
    # signed over our own kiosk id, as a kiosk that took another's nonce would have to
    refused(http.post("/v2/signin", json=jpki_signin_body(load_card(dev_dir, "resident-a"), nonce)), 401,
            "nonce_unknown")
    # and the other kiosk can still use it: the refusal did not spend it for its rightful owner
    with server.client(kiosk_id=other) as stranger:
        body = jpki_signin_body(load_card(dev_dir, "resident-a"), nonce, kiosk_id=other)
        assert stranger.post("/v2/signin", json=body).status_code == 200


def test_v2_refuses_an_expired_nonce(own_server, dev_dir):
    server, sessions = own_server
    with server.client() as http:
        nonce = challenge(http)
        with sessions() as db:
            db.execute(update(Nonce).where(Nonce.nonce == nonce).values(expires_at=utcnow() - timedelta(seconds=1)))
            db.commit()
        body = jpki_signin_body(load_card(dev_dir, "resident-a"), nonce)
        refused(http.post("/v2/signin", json=body), 401, "nonce_expired")
        refused(http.post("/v2/signin", json=body), 401, "nonce_reused")  # spent by the refused attempt
