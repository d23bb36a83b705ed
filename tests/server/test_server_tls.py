"""mTLS: no kiosk certificate, no answer (but enrolment); the kiosk id comes from the verified certificate only."""
from __future__ import annotations

import asyncio
import datetime as dt
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.app import create_app, verified_kiosk_id
from server.devinit import issue_kiosk_certificate
from tests.support.server_process import sign_in


def test_connection_without_client_certificate_gets_nothing_but_enrolment(server):
    """The handshake allows a kiosk with no certificate yet (to enrol); every other endpoint refuses it
    (all of them: tests/server/test_enrolment.py)."""
    with server.client(kiosk_id=None) as anonymous:
        reply = anonymous.get("/v1/health")
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "unauthenticated"


def test_certificate_from_another_ca_is_refused(server, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk-dev-01")])  # right name, wrong issuer
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    context = server.ssl_context(kiosk_id=None)
    context.load_cert_chain(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    with httpx.Client(base_url=server.url, verify=context, trust_env=False) as forged:
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            forged.get("/v1/health")


def test_health_with_kiosk_certificate(http):
    reply = http.get("/v1/health")
    assert reply.status_code == 200
    assert reply.json()["status"] == "ok"


@pytest.fixture(scope="module")
def second_kiosk(server, dev_dir):
    tls = dev_dir / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca-key.pem").read_bytes(), password=None)
    issue_kiosk_certificate(tls, "kiosk-dev-02", ca, ca_key)
    with server.client(kiosk_id="kiosk-dev-02") as client:
        yield client


def test_nonce_is_bound_to_the_kiosk_it_was_issued_to(http, second_kiosk, dev_dir):
    from tests.support.server_process import jpki_signin_body, load_card

    nonce = second_kiosk.post("/v1/signin/challenge", json={}).json()["nonce"]
    body = jpki_signin_body(load_card(dev_dir, "resident-a"), nonce, "kiosk-dev-01")
    reply = http.post("/v1/signin", json=body, headers={"X-Kiosk-Id": "kiosk-dev-02"})  # a header is no identity
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "nonce_unknown"


def test_session_is_bound_to_its_kiosk(http, second_kiosk, dev_dir):
    session = sign_in(http, dev_dir, "resident-a")
    headers = {"Authorization": f"Bearer {session['session_token']}", "X-Kiosk-Id": "kiosk-dev-01"}
    assert http.get("/v1/menu", headers=headers).status_code == 200
    stolen = second_kiosk.get("/v1/menu", headers=headers)
    assert stolen.status_code == 401
    assert stolen.json()["error"]["code"] == "unauthenticated"


def test_without_tls_extension_the_app_knows_no_kiosk():
    """Served without the TLS scope (e.g. plain uvicorn by mistake), every endpoint refuses: no header fallback."""
    async def call():
        transport = httpx.ASGITransport(app=create_app(None))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/v1/health", headers={"X-Kiosk-Id": "kiosk-dev-01"})

    reply = asyncio.run(call())
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "unauthenticated"


def test_verified_kiosk_id_reads_the_certificate_cn(server):
    class FakeRequest:
        scope = {"extensions": {"tls": {"client_cert_chain": [ssl.DER_cert_to_PEM_cert(
            x509.load_pem_x509_certificate(server.client_cert()[0].read_bytes()).public_bytes(
                serialization.Encoding.DER))]}}}

    assert verified_kiosk_id(FakeRequest()) == "kiosk-dev-01"
