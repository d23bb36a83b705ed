"""Sign-in: JPKI (nonce, signature, chain, validity, CRL, registry) and the citizen card with its lock."""
from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certs.wire import Session
from server.devinit import jpki_auth_certificate
from tests.support.server_process import jpki_signin_body, load_card


def challenge(http) -> str:
    reply = http.post("/v1/signin/challenge", json={})
    assert reply.status_code == 200
    return reply.json()["nonce"]


def refused(reply, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code
    return error


def test_jpki_sign_in(http, dev_dir):
    reply = http.post("/v1/signin", json=jpki_signin_body(load_card(dev_dir, "resident-a"), challenge(http)))
    assert reply.status_code == 200
    session = Session.parse(reply.json())
    assert len(session.subject_ref) == 32
    again = http.post("/v1/signin", json=jpki_signin_body(load_card(dev_dir, "resident-a"), challenge(http)))
    assert again.json()["subject_ref"] == session.subject_ref  # stable pseudonym
    other = http.post("/v1/signin", json=jpki_signin_body(load_card(dev_dir, "resident-b"), challenge(http)))
    assert other.json()["subject_ref"] != session.subject_ref


def test_nonce_is_single_use_even_after_a_good_sign_in(http, dev_dir):
    body = jpki_signin_body(load_card(dev_dir, "resident-a"), challenge(http))
    assert http.post("/v1/signin", json=body).status_code == 200
    refused(http.post("/v1/signin", json=body), 401, "nonce_reused")


def test_a_bad_attempt_spends_the_nonce(http, dev_dir):
    nonce = challenge(http)
    body = jpki_signin_body(load_card(dev_dir, "resident-a"), nonce)
    body["signature"] = base64.b64encode(b"\x01" * 256).decode()
    refused(http.post("/v1/signin", json=body), 401, "bad_signature")
    refused(http.post("/v1/signin", json=jpki_signin_body(load_card(dev_dir, "resident-a"), nonce)), 401,
            "nonce_reused")


def test_unknown_nonce(http, dev_dir):
    refused(http.post("/v1/signin", json=jpki_signin_body(load_card(dev_dir, "resident-a"), "A" * 43)), 401,
            "nonce_unknown")


def test_signature_by_another_card_does_not_verify(http, dev_dir):
    nonce = challenge(http)
    body = jpki_signin_body(load_card(dev_dir, "resident-b"), nonce)
    body["certificate"] = load_card(dev_dir, "resident-a")["certificate"]
    refused(http.post("/v1/signin", json=body), 401, "bad_signature")


def test_signature_over_another_kiosk_id_does_not_verify(http, dev_dir):
    body = jpki_signin_body(load_card(dev_dir, "resident-a"), challenge(http), kiosk_id="kiosk-dev-99")
    refused(http.post("/v1/signin", json=body), 401, "bad_signature")


def test_revoked_certificate(http, dev_dir):
    refused(http.post("/v1/signin", json=jpki_signin_body(load_card(dev_dir, "revoked"), challenge(http))), 401,
            "certificate_revoked")


def test_expired_certificate(http, dev_dir):
    refused(http.post("/v1/signin", json=jpki_signin_body(load_card(dev_dir, "expired"), challenge(http))), 401,
            "certificate_expired")


@pytest.fixture(scope="module")
def stray_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _card_with(cert: x509.Certificate, key) -> dict:
    return {"certificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
            "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()}


def test_valid_certificate_of_nobody_is_unknown_card(http, dev_dir, stray_key):
    ca_key = serialization.load_pem_private_key((dev_dir / "jpki" / "ca-key.pem").read_bytes(), password=None)
    cert = jpki_auth_certificate(0x7777, stray_key.public_key(), ca_key)
    refused(http.post("/v1/signin", json=jpki_signin_body(_card_with(cert, stray_key), challenge(http))), 401,
            "unknown_card")


def test_certificate_from_another_ca_is_invalid(http, stray_key):
    cert = jpki_auth_certificate(0x1001, stray_key.public_key(), stray_key)  # self-issued, same serial as resident-a
    refused(http.post("/v1/signin", json=jpki_signin_body(_card_with(cert, stray_key), challenge(http))), 401,
            "certificate_invalid")


def test_garbage_certificate_is_invalid(http, dev_dir):
    body = jpki_signin_body(load_card(dev_dir, "resident-a"), challenge(http))
    body["certificate"] = base64.b64encode(b"not a certificate at all").decode()
    refused(http.post("/v1/signin", json=body), 401, "certificate_invalid")


def test_citizen_card_locks_after_three_wrong_passwords(http):
    good = {"method": "citizen_card", "card_id": "C0000001", "password": "2580"}
    wrong = {**good, "password": "0000"}
    assert http.post("/v1/signin", json=good).status_code == 200
    assert refused(http.post("/v1/signin", json=wrong), 401, "wrong_password")["detail"] == {"tries_left": 2}
    assert http.post("/v1/signin", json=good).status_code == 200  # a good password resets the count
    assert refused(http.post("/v1/signin", json=wrong), 401, "wrong_password")["detail"] == {"tries_left": 2}
    assert refused(http.post("/v1/signin", json=wrong), 401, "wrong_password")["detail"] == {"tries_left": 1}
    refused(http.post("/v1/signin", json=wrong), 403, "card_locked")
    locked = refused(http.post("/v1/signin", json=good), 403, "card_locked")
    assert "2580" not in str(locked)


def test_unknown_citizen_card(http):
    refused(http.post("/v1/signin", json={"method": "citizen_card", "card_id": "C9999999", "password": "1234"}), 401,
            "unknown_card")


def test_sign_out_ends_the_session(http, session_a):
    _, headers = session_a
    assert http.post("/v1/signout", json={}, headers=headers).json() == {"signed_out": True}
    refused(http.get("/v1/menu", headers=headers), 401, "unauthenticated")
