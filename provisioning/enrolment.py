"""Device enrolment, the kiosk's side (the client; the wire format is :mod:`certs.enrolment`).

1. :func:`fetch_pinned_ca` asks the server for its CA certificate over an unverified TLS connection and keeps
   it only if its SHA-256 is the fingerprint in the enrolment payload: a wrong fingerprint stops here, before a
   key or a CSR leaves the kiosk.
2. :func:`enrol` makes the CSR from the device key (made on the device), POSTs it with the one-time token over
   TLS verified against that pinned CA, and checks the reply (it names this kiosk, carries this key, was issued by
   the CA it names).
3. From then on every call is mTLS: :func:`renew` (a new certificate for a new key, before the old one expires)
   and :func:`unpair` (the kiosk revokes itself).

A refusal raises :class:`certs.wire.ServerRefused`; a reply that breaks the contract raises
:class:`certs.wire.ProtocolError`.  The token is a credential: it is never put in an exception, a repr or a log.
"""
from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs.enrolment import (PATH_ENROLMENT, PATH_ENROLMENT_CA, PATH_READINESS, PATH_RENEWAL, PATH_UNPAIR, Enrolled,
                             enrolment_request, make_key_and_csr)
from certs.wire import ProtocolError, parse_error


class PinMismatch(Exception):
    """The server showed a CA whose fingerprint is not the payload's: nothing was sent."""


def ca_fingerprint(ca_pem: bytes) -> str:
    """SHA-256 of the certificate's DER, lower-case hex (what the enrolment payload carries)."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _verified(ca_file: str | Path, cert: str | Path | None = None, key: str | Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def _reply(reply: httpx.Response, expected: int, what: str):
    try:
        data = reply.json()
    except ValueError:
        data = None
    if reply.status_code >= 400:
        raise parse_error(reply.status_code, data)
    if reply.status_code != expected:
        raise ProtocolError(f"{what}: unexpected HTTP status {reply.status_code}")
    return data


def fetch_pinned_ca(server_url: str, fingerprint: str, *, timeout: float = 20.0) -> bytes:
    """The server's CA certificate (PEM) if its fingerprint is ``fingerprint``; else :class:`PinMismatch`."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the answer is checked against the pinned fingerprint instead
    with httpx.Client(base_url=server_url, verify=context, trust_env=False, timeout=timeout) as client:
        data = _reply(client.get(PATH_ENROLMENT_CA), 200, "enrolment CA")
    if not isinstance(data, dict) or not isinstance(data.get("ca_certificate"), str):
        raise ProtocolError("enrolment CA: reply has no ca_certificate")
    pem = data["ca_certificate"].encode("ascii")
    try:
        shown = ca_fingerprint(pem)
    except ValueError:
        raise ProtocolError("enrolment CA: ca_certificate is not a PEM certificate") from None
    if shown != fingerprint:
        raise PinMismatch(f"the server's CA has fingerprint {shown[:16]}…, not the payload's {fingerprint[:16]}…: "
                          "this is not the city's server (or the payload is for another city); nothing was sent")
    return pem


def enrol(server_url: str, ca_file: str | Path, token: str, kiosk_id: str, *, key_pem: bytes | None = None,
          wireguard_public_key: str | None = None, timeout: float = 20.0) -> tuple[bytes, Enrolled]:
    """Enrol this kiosk; returns (private key PEM, :class:`Enrolled`).  Raises ServerRefused or ProtocolError.

    Sending the same key's CSR with the same token again (a run killed after the server answered) returns the
    certificate already issued: the server enrols a kiosk once per token."""
    key_pem, csr_pem = make_key_and_csr(kiosk_id, key_pem)
    body = enrolment_request(token, csr_pem, wireguard_public_key)
    with httpx.Client(base_url=server_url, verify=_verified(ca_file), trust_env=False, timeout=timeout) as client:
        data = _reply(client.post(PATH_ENROLMENT, json=body), 201, "enrolment")
    return key_pem, Enrolled.parse(data, kiosk_id, key_pem)


def renew(server_url: str, ca_file: str | Path, cert_file: str | Path, key_file: str | Path, kiosk_id: str, *,
          new_key_pem: bytes | None = None, timeout: float = 20.0) -> tuple[bytes, Enrolled]:
    """A new certificate for a new key, asked for over mTLS with the current certificate."""
    key_pem, csr_pem = make_key_and_csr(kiosk_id, new_key_pem)
    context = _verified(ca_file, cert_file, key_file)
    with httpx.Client(base_url=server_url, verify=context, trust_env=False, timeout=timeout) as client:
        data = _reply(client.post(PATH_RENEWAL, json={"csr": csr_pem.decode("ascii")}), 201, "renewal")
    return key_pem, Enrolled.parse(data, kiosk_id, key_pem)


def unpair(server_url: str, ca_file: str | Path, cert_file: str | Path, key_file: str | Path, *,
           timeout: float = 20.0) -> None:
    """Ask the server to revoke this kiosk (its certificates and tunnel peer)."""
    context = _verified(ca_file, cert_file, key_file)
    with httpx.Client(base_url=server_url, verify=context, trust_env=False, timeout=timeout) as client:
        _reply(client.post(PATH_UNPAIR, json={}), 200, "unpair")


def send_readiness(server_url: str, ca_file: str | Path, cert_file: str | Path, key_file: str | Path, ready: bool,
                   report: str, *, timeout: float = 10.0) -> None:
    """Send the readiness report (mTLS); the server keeps the last one per kiosk."""
    context = _verified(ca_file, cert_file, key_file)
    with httpx.Client(base_url=server_url, verify=context, trust_env=False, timeout=timeout) as client:
        _reply(client.post(PATH_READINESS, json={"ready": ready, "report": report[:20000]}), 200, "readiness")
