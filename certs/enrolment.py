"""Device enrolment, the kiosk's side: make a key and a CSR, send them with the one-time token, check the reply.

A kiosk enrols once.  Staff make a one-time token bound to the kiosk id (``kiosk-server enrol-token``); the
technician's provisioning tool calls :func:`enrol`, which

1. makes a new EC P-256 key on the kiosk (it never leaves the kiosk) and a CSR whose subject is ``CN=<kiosk id>``,
2. POSTs ``{"token", "csr"}`` to ``/v1/enrolment`` over TLS, trusting only the city's CA file and presenting no
   client certificate (the one endpoint that allows that),
3. checks that the certificate it gets back names this kiosk, carries this key and was issued by the CA the
   reply names, and returns the key and the certificate (PEM) for the caller to store (key file mode 0600).

The contract is in docs/kiosk-server-protocol.md ("Enrolment").  A refusal raises :class:`certs.wire.ServerRefused`
with the error code; a reply that breaks the contract raises :class:`certs.wire.ProtocolError`.  The token is a
credential: it is never put in an exception, a repr or a log line.
"""
from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certs.wire import API, ProtocolError, parse_error

PATH_ENROLMENT = f"{API}/enrolment"
KIOSK_ID = re.compile(r"^kiosk-[A-Za-z0-9-]{1,58}$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


def make_key_and_csr(kiosk_id: str, key_pem: bytes | None = None) -> tuple[bytes, bytes]:
    """(private key PEM, CSR PEM) for ``kiosk_id``; a new EC P-256 key unless ``key_pem`` is given."""
    if not KIOSK_ID.fullmatch(kiosk_id):
        raise ValueError("a kiosk id is 'kiosk-' followed by 1-58 letters, digits or '-'")
    if key_pem is None:
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    else:
        key = serialization.load_pem_private_key(key_pem, password=None)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kiosk_id)]))
           .sign(key, hashes.SHA256()))
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def enrolment_request(token: str, csr_pem: bytes) -> dict:
    """The request body of ``POST /v1/enrolment``."""
    if not TOKEN.fullmatch(token):
        raise ValueError("the enrolment token is 32-128 URL-safe characters, as `kiosk-server enrol-token` printed it")
    return {"token": token, "csr": csr_pem.decode("ascii")}


@dataclass(frozen=True)
class Enrolled:
    """What the server answered: the kiosk's certificate and the device CA that issued it (both PEM)."""
    kiosk_id: str
    certificate_pem: bytes
    ca_certificate_pem: bytes
    serial: str
    not_after: str

    @classmethod
    def parse(cls, data: Any, kiosk_id: str, key_pem: bytes) -> "Enrolled":
        if not isinstance(data, dict):
            raise ProtocolError("enrolment: reply is not an object")
        fields = {}
        for name in ("kiosk_id", "certificate", "ca_certificate", "serial", "not_after"):
            if not isinstance(data.get(name), str):
                raise ProtocolError(f"enrolment: missing field {name!r}")
            fields[name] = data[name]
        if fields["kiosk_id"] != kiosk_id:
            raise ProtocolError("enrolment: the reply names another kiosk")
        try:
            cert = x509.load_pem_x509_certificate(fields["certificate"].encode("ascii"))
            ca = x509.load_pem_x509_certificate(fields["ca_certificate"].encode("ascii"))
        except ValueError:
            raise ProtocolError("enrolment: certificate or ca_certificate is not a PEM certificate") from None
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if len(names) != 1 or names[0].value != kiosk_id:
            raise ProtocolError("enrolment: the certificate's CN is not this kiosk's id")
        key = serialization.load_pem_private_key(key_pem, password=None)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        if (cert.public_key().public_bytes(serialization.Encoding.DER, spki)
                != key.public_key().public_bytes(serialization.Encoding.DER, spki)):
            raise ProtocolError("enrolment: the certificate does not carry this kiosk's key")
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise ProtocolError("enrolment: the certificate was not issued by the CA in the reply") from None
        if format(cert.serial_number, "x") != fields["serial"]:
            raise ProtocolError("enrolment: serial does not match the certificate")
        return cls(kiosk_id, fields["certificate"].encode("ascii"), fields["ca_certificate"].encode("ascii"),
                   fields["serial"], fields["not_after"])


def enrol(server_url: str, ca_file: str | Path, token: str, kiosk_id: str, *, key_pem: bytes | None = None,
          timeout: float = 20.0) -> tuple[bytes, Enrolled]:
    """Enrol this kiosk; returns (private key PEM, :class:`Enrolled`).  Raises ServerRefused or ProtocolError."""
    key_pem, csr_pem = make_key_and_csr(kiosk_id, key_pem)
    body = enrolment_request(token, csr_pem)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with httpx.Client(base_url=server_url, verify=context, trust_env=False, timeout=timeout) as client:
        reply = client.post(PATH_ENROLMENT, json=body)
    try:
        data = reply.json()
    except ValueError:
        data = None
    if reply.status_code >= 400:
        raise parse_error(reply.status_code, data)
    if reply.status_code != 201:
        raise ProtocolError(f"enrolment: unexpected HTTP status {reply.status_code}")
    return key_pem, Enrolled.parse(data, kiosk_id, key_pem)
