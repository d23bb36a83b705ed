"""``kiosk-server devinit``: a complete development world in one directory, made with ``cryptography`` alone.

    DIR/tls/      the city's device CA, the server's certificate, one kiosk's client certificate (kiosk-dev-01)
    DIR/jpki/     a DEVELOPMENT JPKI CA and its CRL (one revoked test card)
    DIR/signing/  the document-signing key (Ed25519) and the secret behind subject_ref pseudonyms
    DIR/cards/    simulated cards (JSON) for the kiosk's card simulator, made from the registry's seed tables
    DIR/server.toml

Keys are random; everything else is deterministic.  An existing directory is never overwritten without --force.
"""
from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import secrets
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.config import render_config
from server.registry import CITIZEN_CARD_SEEDS, JPKI_CARD_SEEDS, JPKI_ISSUER

KIOSK_ID = "kiosk-dev-01"
CITY_CA_NAME = "CN=Kakuu City Kiosk Device CA (development),O=Kakuu City,C=JP"
_OUTPUTS = ("server.toml", "tls", "jpki", "signing", "cards")


class AlreadyInitialised(Exception):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _cert(subject: x509.Name, public_key, issuer: x509.Name, issuer_key, *, serial: int, not_before: dt.datetime,
          not_after: dt.datetime, ca: bool = False, extensions: tuple = ()) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(serial).not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _leaf_usage(*, key_encipherment: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=key_encipherment,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)


def make_city_pki(tls_dir: Path, kiosk_ids: tuple[str, ...] = (KIOSK_ID,), server_ips: tuple[str, ...] = ()) -> None:
    now = _now()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name.from_rfc4514_string(CITY_CA_NAME)
    ca = _cert(ca_name, ca_key.public_key(), ca_name, ca_key, serial=x509.random_serial_number(),
               not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=3650), ca=True)
    _write(tls_dir / "ca.pem", _pem_cert(ca))
    _write(tls_dir / "ca-key.pem", _pem_key(ca_key), secret=True)

    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), server_key.public_key(),
                   ca_name, ca_key, serial=x509.random_serial_number(), not_before=now - dt.timedelta(days=1),
                   not_after=now + dt.timedelta(days=825), extensions=(
                       x509.SubjectAlternativeName([x509.DNSName("localhost")] + [
                           x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", *server_ips)]),
                       x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       _leaf_usage(key_encipherment=False)))
    _write(tls_dir / "server.pem", _pem_cert(server))
    _write(tls_dir / "server-key.pem", _pem_key(server_key), secret=True)

    for kiosk_id in kiosk_ids:
        issue_kiosk_certificate(tls_dir, kiosk_id, ca, ca_key)


def issue_kiosk_certificate(tls_dir: Path, kiosk_id: str, ca: x509.Certificate, ca_key) -> None:
    """A kiosk's device certificate: subject CN is the kiosk id, client authentication only."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = kiosk_certificate(kiosk_id, key.public_key(), ca, ca_key, not_before=_now() - dt.timedelta(days=1))
    _write(tls_dir / f"{kiosk_id}.pem", _pem_cert(cert))
    _write(tls_dir / f"{kiosk_id}-key.pem", _pem_key(key), secret=True)


def kiosk_certificate(kiosk_id: str, public_key, ca: x509.Certificate, ca_key, *, not_before: dt.datetime,
                      days: int = 825) -> x509.Certificate:
    """The device certificate for ``public_key`` (also what enrolment signs for a kiosk's CSR)."""
    return _cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kiosk_id)]), public_key, ca.subject, ca_key,
                 serial=x509.random_serial_number(), not_before=not_before,
                 not_after=not_before + dt.timedelta(days=days), extensions=(
                     x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), _leaf_usage(key_encipherment=False)))


def jpki_auth_certificate(serial: int, public_key, ca_key, *, expired: bool = False) -> x509.Certificate:
    """A JPKI-like user-authentication certificate: no name in it, only C=JP and a serial-like CN."""
    now = _now()
    if expired:
        not_before, not_after = now - dt.timedelta(days=5 * 365), now - dt.timedelta(days=2)
    else:
        not_before, not_after = now - dt.timedelta(days=2), now + dt.timedelta(days=5 * 365)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"JPKI-DEV-{serial:04X}")])
    return _cert(subject, public_key, x509.Name.from_rfc4514_string(JPKI_ISSUER), ca_key, serial=serial,
                 not_before=not_before, not_after=not_after,
                 extensions=(_leaf_usage(key_encipherment=False),
                             x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])))


def make_jpki(jpki_dir: Path, cards_dir: Path) -> None:
    now = _now()
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name.from_rfc4514_string(JPKI_ISSUER)
    ca = _cert(ca_name, ca_key.public_key(), ca_name, ca_key, serial=1, not_before=now - dt.timedelta(days=30),
               not_after=now + dt.timedelta(days=3650), ca=True)
    _write(jpki_dir / "ca.pem", _pem_cert(ca))
    _write(jpki_dir / "ca-key.pem", _pem_key(ca_key), secret=True)

    crl = x509.CertificateRevocationListBuilder().issuer_name(ca_name).last_update(now - dt.timedelta(hours=1)) \
        .next_update(now + dt.timedelta(days=365))
    for seed in JPKI_CARD_SEEDS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = jpki_auth_certificate(seed.serial, key.public_key(), ca_key, expired=seed.expired)
        if seed.revoked:
            crl = crl.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(seed.serial)
                                              .revocation_date(now - dt.timedelta(days=1)).build())
        card = {"kind": "my_number", "label": seed.label, "pin": "1234", "tries_left": seed.tries_left,
                "certificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii"),
                "private_key": _pem_key(key).decode("ascii")}
        _write(cards_dir / f"{seed.stem}.json", (json.dumps(card, indent=2) + "\n").encode(), secret=True)
    _write(jpki_dir / "crl.pem", crl.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))

    for citizen in CITIZEN_CARD_SEEDS:
        card = {"kind": "citizen", "label": citizen.label, "card_id": citizen.card_id}
        _write(cards_dir / f"{citizen.stem}.json", (json.dumps(card, indent=2) + "\n").encode())


def make_signing(signing_dir: Path) -> None:
    key = Ed25519PrivateKey.generate()
    _write(signing_dir / "document-key.pem", _pem_key(key), secret=True)
    _write(signing_dir / "document-pub.pem", key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    _write(signing_dir / "subject-ref.key", (secrets.token_hex(32) + "\n").encode(), secret=True)


def devinit(directory: str | Path, *, force: bool = False, server_ips: tuple[str, ...] = ()) -> Path:
    """Make the development world in ``directory``; returns the path of its server.toml."""
    root = Path(directory).resolve()
    existing = [name for name in _OUTPUTS if (root / name).exists()]
    if existing and not force:
        raise AlreadyInitialised(f"{root} already holds {', '.join(existing)}; use --force to replace the keys")
    for name in existing:
        target = root / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    for db_file in root.glob("server.db*"):  # its sessions and pseudonyms belong to the old keys
        db_file.unlink()
    root.mkdir(parents=True, exist_ok=True)
    make_city_pki(root / "tls", server_ips=server_ips)  # server_ips: e.g. its tunnel address
    make_jpki(root / "jpki", root / "cards")
    make_signing(root / "signing")
    config = root / "server.toml"
    _write(config, render_config().encode("utf-8"))
    return config
