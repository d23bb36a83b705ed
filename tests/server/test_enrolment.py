"""Device enrolment over the real HTTPS server: one-time tokens, CSR checks, the anonymous handshake that only
enrolment answers, and revocation (``kiosk-server enrol-token`` / ``revoke-kiosk``)."""
from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import datetime as dt
import io
import re
import sqlite3

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certs.enrolment import PATH_ENROLMENT, Enrolled, make_key_and_csr
from provisioning.enrolment import enrol
from certs.enrolment_payload import parse_payload
from certs.wire import ProtocolError, ServerRefused
from server.cli import main as cli
from server.devinit import issue_kiosk_certificate


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(list(args))
    return code, out.getvalue(), err.getvalue()


def new_token(dev_dir, kiosk_id: str, minutes: int = 60) -> str:
    code, out, _ = run_cli("enrol-token", "--config", str(dev_dir / "server.toml"), "--kiosk-id", kiosk_id,
                           "--staff", "staff-0042", "--valid-minutes", str(minutes), "--no-qr")
    assert code == 0
    return parse_payload(out.strip()).token


def kiosk_client(server, tmp_path, key_pem: bytes, cert_pem: bytes) -> httpx.Client:
    (tmp_path / "k.pem").write_bytes(key_pem)
    (tmp_path / "c.pem").write_bytes(cert_pem)
    context = server.ssl_context(kiosk_id=None)
    context.load_cert_chain(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    return httpx.Client(base_url=server.url, verify=context, trust_env=False, timeout=20)


@pytest.fixture()
def anonymous(server):
    with server.client(kiosk_id=None) as client:
        yield client


def refused(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code


def test_token_is_printed_once_and_stored_only_as_a_hash(dev_dir):
    token = new_token(dev_dir, "kiosk-enrol-00")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    with sqlite3.connect(dev_dir / "server.db") as db:
        rows = db.execute("SELECT token_hash, kiosk_id, created_by FROM enrolment_tokens WHERE kiosk_id = ?",
                          ("kiosk-enrol-00",)).fetchall()
    assert len(rows) == 1 and rows[0][1:] == ("kiosk-enrol-00", "staff-0042")
    assert token not in rows[0][0] and (dev_dir / "server.db").read_bytes().find(token.encode()) == -1


def test_kiosk_enrols_once_and_its_certificate_opens_the_api(server, dev_dir, tmp_path):
    token = new_token(dev_dir, "kiosk-enrol-01")
    key_pem, enrolled = enrol(server.url, server.ca, token, "kiosk-enrol-01")
    cert = x509.load_pem_x509_certificate(enrolled.certificate_pem)
    assert cert.subject.rfc4514_string() == "CN=kiosk-enrol-01"
    assert cert.issuer == x509.load_pem_x509_certificate(server.ca.read_bytes()).subject
    with kiosk_client(server, tmp_path, key_pem, enrolled.certificate_pem) as client:
        assert client.get("/v1/health").status_code == 200
        assert client.post("/v1/signin/challenge", json={}).status_code == 200
        assert PATH_ENROLMENT in client.get("/openapi.json").json()["paths"]
    with pytest.raises(ServerRefused) as again:
        enrol(server.url, server.ca, token, "kiosk-enrol-01")
    assert (again.value.status, again.value.code) == (409, "enrolment_token_used")


def test_without_a_client_certificate_only_enrolment_answers(anonymous):
    """TLS stays on and the handshake succeeds, but every endpoint except enrolment refuses."""
    for method, path, body in (("GET", "/v1/health", None), ("POST", "/v1/signin/challenge", {}),
                               ("POST", "/v1/signin", {"method": "citizen_card", "card_id": "C0000001",
                                                       "password": "2580"}),
                               ("GET", "/v1/menu", None), ("POST", "/v1/quotes", {"certificate": "x", "copies": 1}),
                               ("POST", "/v1/issuances", {"transaction_id": "a" * 32, "quote_id": "q", "amount_paid": 0}),
                               ("POST", "/v1/issuances/" + "a" * 32 + "/result", {"outcome": "printed"}),
                               ("POST", "/v1/signout", {}), ("GET", "/openapi.json", None)):
        refused(anonymous.request(method, path, json=body), 401, "unauthenticated")
    refused(anonymous.post(PATH_ENROLMENT, json={"token": "x" * 43, "csr": "-" * 80}), 401, "enrolment_token_invalid")


def test_expired_token_is_refused(server, dev_dir, anonymous):
    token = new_token(dev_dir, "kiosk-enrol-04")
    with sqlite3.connect(dev_dir / "server.db") as db:
        db.execute("UPDATE enrolment_tokens SET expires_at = '2020-01-01 00:00:00.000000' WHERE kiosk_id = ?",
                   ("kiosk-enrol-04",))
    _, csr = make_key_and_csr("kiosk-enrol-04")
    refused(anonymous.post(PATH_ENROLMENT, json={"token": token, "csr": csr.decode()}), 410, "enrolment_token_expired")


def _csr(key, names: list[x509.NameAttribute]) -> str:
    return x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(
        key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def test_bad_csrs_are_refused_and_do_not_spend_the_token(server, dev_dir, anonymous, tmp_path):
    kiosk = "kiosk-enrol-05"
    token = new_token(dev_dir, kiosk)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    cn = [x509.NameAttribute(NameOID.COMMON_NAME, kiosk)]

    def post(csr: str) -> httpx.Response:
        return anonymous.post(PATH_ENROLMENT, json={"token": token, "csr": csr})

    refused(post(_csr(ec_key, [x509.NameAttribute(NameOID.COMMON_NAME, "kiosk-dev-01")])), 400, "csr_subject_mismatch")
    refused(post(_csr(ec_key, cn + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x")])), 400, "csr_subject_mismatch")
    refused(post(_csr(rsa.generate_private_key(65537, 1024), cn)), 400, "csr_key_unsupported")
    refused(post(_csr(ec.generate_private_key(ec.SECP256K1()), cn)), 400, "csr_key_unsupported")
    refused(post("-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n-----END CERTIFICATE REQUEST-----\n"), 400,
            "csr_invalid")
    good = _csr(ec_key, cn)
    der = bytearray(x509.load_pem_x509_csr(good.encode()).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # inside the signature
    forged = ("-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(der)).decode()
              + "-----END CERTIFICATE REQUEST-----\n")
    refused(post(forged), 400, "csr_invalid")
    refused(anonymous.post(PATH_ENROLMENT, json={"token": token, "csr": good, "kiosk_id": kiosk}), 422, "bad_request")
    reply = post(good)  # the token survived every refusal
    assert reply.status_code == 201, reply.text
    assert reply.json()["kiosk_id"] == kiosk


def test_one_token_enrols_one_kiosk_under_concurrency(server, dev_dir):
    token = new_token(dev_dir, "kiosk-enrol-06")

    def attempt(_n: int) -> int:
        _, csr = make_key_and_csr("kiosk-enrol-06")
        with server.client(kiosk_id=None) as client:
            return client.post(PATH_ENROLMENT, json={"token": token, "csr": csr.decode()}).status_code

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(attempt, range(6)))
    assert statuses == [201] + [409] * 5


def test_revoked_kiosk_is_refused_and_can_enrol_again_with_a_new_token(server, dev_dir, tmp_path):
    kiosk = "kiosk-enrol-07"
    key_pem, first = enrol(server.url, server.ca, new_token(dev_dir, kiosk), kiosk)
    stale_token = new_token(dev_dir, kiosk)  # made before the revocation: withdrawn by it
    code, out, _ = run_cli("revoke-kiosk", "--config", str(dev_dir / "server.toml"), "--kiosk-id", kiosk,
                           "--staff", "staff-0042", "--reason", "stolen")
    assert code == 0 and "1 enrolled" in out
    with kiosk_client(server, tmp_path, key_pem, first.certificate_pem) as client:
        refused(client.get("/v1/health"), 403, "kiosk_revoked")
        refused(client.post("/v1/signin/challenge", json={}), 403, "kiosk_revoked")
    with pytest.raises(ServerRefused) as withdrawn:
        enrol(server.url, server.ca, stale_token, kiosk)
    assert withdrawn.value.code == "enrolment_token_used"
    key2, second = enrol(server.url, server.ca, new_token(dev_dir, kiosk), kiosk)
    with kiosk_client(server, tmp_path / "..", key2, second.certificate_pem) as client:
        assert client.get("/v1/health").status_code == 200
    with kiosk_client(server, tmp_path, key_pem, first.certificate_pem) as client:
        refused(client.get("/v1/health"), 403, "kiosk_revoked")


def test_revocation_also_refuses_a_certificate_enrolment_never_issued(server, dev_dir):
    tls = dev_dir / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca-key.pem").read_bytes(), password=None)
    issue_kiosk_certificate(tls, "kiosk-enrol-08", ca, ca_key)  # as devinit makes them
    with server.client(kiosk_id="kiosk-enrol-08") as client:
        assert client.get("/v1/health").status_code == 200
        assert run_cli("revoke-kiosk", "--config", str(dev_dir / "server.toml"), "--kiosk-id", "kiosk-enrol-08",
                       "--staff", "staff-0042", "--reason", "retired")[0] == 0
        refused(client.get("/v1/health"), 403, "kiosk_revoked")


def test_staff_commands_refuse_bad_arguments(dev_dir):
    config = str(dev_dir / "server.toml")
    code, out, err = run_cli("enrol-token", "--config", config, "--kiosk-id", "not-a-kiosk", "--staff", "s-1")
    assert code == 2 and out == "" and "kiosk id" in err
    code, _, err = run_cli("enrol-token", "--config", config, "--kiosk-id", "kiosk-enrol-09", "--staff", "田中 太郎")
    assert code == 2 and "staff id" in err


def test_client_refuses_a_reply_that_does_not_carry_its_key(server):
    key_pem, _ = make_key_and_csr("kiosk-enrol-10")
    other_key, _ = make_key_and_csr("kiosk-enrol-10")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = dt.datetime.now(dt.timezone.utc)
    public = serialization.load_pem_private_key(other_key, None).public_key()
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk-enrol-10")]))
            .issuer_name(ca_name).public_key(public).serial_number(99).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(ca_key, hashes.SHA256()))
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(ca_key, hashes.SHA256()))
    reply = {"kiosk_id": "kiosk-enrol-10", "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
             "ca_certificate": ca.public_bytes(serialization.Encoding.PEM).decode(), "serial": "63", "not_after": "x"}
    with pytest.raises(ProtocolError, match="key"):
        Enrolled.parse(reply, "kiosk-enrol-10", key_pem)
    assert Enrolled.parse(reply, "kiosk-enrol-10", other_key).serial == "63"
    with pytest.raises(ProtocolError, match="another kiosk"):
        Enrolled.parse(reply, "kiosk-enrol-11", other_key)
