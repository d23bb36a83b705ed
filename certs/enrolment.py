"""Device enrolment's wire format, shared by the kiosk and the server: the CSR, the request body, the reply.

A kiosk enrols once.  Staff make a one-time token bound to the kiosk id (``kiosk-server enrol-token``); the
technician's provisioning tool (:func:`provisioning.enrolment.enrol`; the client lives in ``provisioning/``, this
module holds only what both sides agree on)

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

import base64
import binascii
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certs.wire import API, ProtocolError

PATH_ENROLMENT = f"{API}/enrolment"
PATH_ENROLMENT_CA = f"{API}/enrolment/ca"  # anonymous: the CA the payload's fingerprint pins (checked, then trusted)
PATH_RENEWAL = f"{API}/enrolment/renew"  # mTLS: a new certificate for the same kiosk, before the old one expires
PATH_UNPAIR = f"{API}/enrolment/unpair"  # mTLS: the kiosk revokes itself (its keys are wiped after)
PATH_READINESS = f"{API}/readiness"  # mTLS: kiosk-provision's readiness report {"ready", "report"}
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


def wireguard_key_ok(text: str) -> bool:
    """A WireGuard public key as wg(8) prints it: 32 bytes, standard base64 (44 characters)."""
    try:
        return len(text) == 44 and len(base64.b64decode(text, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def enrolment_request(token: str, csr_pem: bytes, wireguard_public_key: str | None = None) -> dict:
    """The request body of ``POST /v1/enrolment``; with the kiosk's WireGuard public key when it has one."""
    if not TOKEN.fullmatch(token):
        raise ValueError("the enrolment token is 32-128 URL-safe characters, as `kiosk-server enrol-token` printed it")
    body = {"token": token, "csr": csr_pem.decode("ascii")}
    if wireguard_public_key is not None:
        if not wireguard_key_ok(wireguard_public_key):
            raise ValueError("a WireGuard public key is 32 bytes in base64 (44 characters)")
        body["wireguard_public_key"] = wireguard_public_key
    return body


@dataclass(frozen=True)
class Tunnel:
    """The server's half of the kiosk's WireGuard tunnel, as the enrolment reply gives it."""
    address: str                # the kiosk's own tunnel address, CIDR (e.g. 10.77.0.2/32)
    server_public_key: str
    endpoint: str               # host:port of the server's WireGuard socket
    routes: tuple[str, ...]     # the networks that go into the tunnel (never 0.0.0.0/0)
    api_url: str                # the kiosk API's URL through the tunnel

    @classmethod
    def parse(cls, data: Any) -> "Tunnel":
        if not isinstance(data, dict):
            raise ProtocolError("enrolment: vpn is not an object")
        for name in ("address", "server_public_key", "endpoint", "api_url"):
            if not isinstance(data.get(name), str):
                raise ProtocolError(f"enrolment: vpn is missing {name!r}")
        routes = data.get("routes")
        if not isinstance(routes, list) or not routes or not all(isinstance(r, str) for r in routes):
            raise ProtocolError("enrolment: vpn.routes must be a non-empty list of networks")
        try:
            ipaddress.ip_interface(data["address"])
            networks = [ipaddress.ip_network(r) for r in routes]
        except ValueError:
            raise ProtocolError("enrolment: vpn.address or vpn.routes is not an address/network") from None
        if any(n.prefixlen == 0 for n in networks):
            raise ProtocolError("enrolment: vpn.routes holds a default route; only the server's network may be routed")
        if not wireguard_key_ok(data["server_public_key"]):
            raise ProtocolError("enrolment: vpn.server_public_key is not a WireGuard key")
        if not data["api_url"].startswith("https://"):
            raise ProtocolError("enrolment: vpn.api_url must be https://")
        return cls(data["address"], data["server_public_key"], data["endpoint"], tuple(routes), data["api_url"])

    def as_dict(self) -> dict:
        return {"address": self.address, "server_public_key": self.server_public_key, "endpoint": self.endpoint,
                "routes": list(self.routes), "api_url": self.api_url}


@dataclass(frozen=True)
class Enrolled:
    """What the server answered: the kiosk's certificate and the device CA that issued it (both PEM)."""
    kiosk_id: str
    certificate_pem: bytes
    ca_certificate_pem: bytes
    serial: str
    not_after: str
    vpn: Tunnel | None = None
    document_keys: tuple[str, ...] = ()  # PEM public keys the kiosk checks document signatures with
    update_root: str | None = None  # the city's TUF root.json: the kiosk's update trust, pinned at enrolment

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
        vpn = Tunnel.parse(data["vpn"]) if data.get("vpn") is not None else None
        keys = data.get("document_keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) and "PUBLIC KEY" in k for k in keys):
            raise ProtocolError("enrolment: document_keys must be a list of PEM public keys")
        return cls(kiosk_id, fields["certificate"].encode("ascii"), fields["ca_certificate"].encode("ascii"),
                   fields["serial"], fields["not_after"], vpn, tuple(keys), _update_root(data.get("update_root")))


def _update_root(text: Any) -> str | None:
    """The TUF root in an enrolment reply, checked to be one (its signatures are checked by the updater)."""
    if text is None:
        return None
    try:
        signed = json.loads(text)["signed"] if isinstance(text, str) else None
    except (ValueError, KeyError, TypeError):
        signed = None
    if not isinstance(signed, dict) or signed.get("_type") != "root":
        raise ProtocolError("enrolment: update_root is not a TUF root.json")
    return text
