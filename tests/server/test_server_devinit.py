"""devinit: the development world's files, cards in the simulator's format, and no silent overwrite."""
from __future__ import annotations

import base64
import datetime as dt
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.config import ConfigError, load_config
from tests.support.server_process import REPO, load_card

CARDS = {"resident-a", "resident-b", "locked", "revoked", "expired", "child", "citizen-a", "support-measures", "foreign",
         "moved-out", "moved-out-household", "deceased", "seal-abolished", "domicile-elsewhere"}


def test_rerun_refuses_without_force(dev_dir):
    before = (dev_dir / "tls" / "ca-key.pem").read_bytes()
    run = subprocess.run([sys.executable, "-m", "server.cli", "devinit", "--dir", str(dev_dir)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--force" in run.stderr
    assert (dev_dir / "tls" / "ca-key.pem").read_bytes() == before


def test_card_files(dev_dir):
    assert {p.stem for p in (dev_dir / "cards").glob("*.json")} == CARDS
    jpki_ca = x509.load_pem_x509_certificate((dev_dir / "jpki" / "ca.pem").read_bytes())
    crl = x509.load_pem_x509_crl((dev_dir / "jpki" / "crl.pem").read_bytes())
    now = dt.datetime.now(dt.timezone.utc)
    for name in CARDS - {"citizen-a"}:
        card = load_card(dev_dir, name)
        assert set(card) == {"kind", "label", "pin", "tries_left", "certificate", "private_key"}
        assert card["kind"] == "my_number" and card["pin"] == "1234"
        cert = x509.load_der_x509_certificate(base64.b64decode(card["certificate"]))
        key = load_pem_private_key(card["private_key"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
        cert.verify_directly_issued_by(jpki_ca)
        assert {a.oid for a in cert.subject} == {NameOID.COUNTRY_NAME, NameOID.COMMON_NAME}  # no name in it
        assert (crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None) == (name == "revoked")
        assert (cert.not_valid_after_utc < now) == (name == "expired")
        assert card["tries_left"] == (0 if name == "locked" else 3)
    citizen = load_card(dev_dir, "citizen-a")
    assert set(citizen) == {"kind", "label", "card_id"} and citizen["kind"] == "citizen"


def test_tls_and_signing_material(dev_dir):
    tls = dev_dir / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate((tls / "server.pem").read_bytes())
    kiosk = x509.load_pem_x509_certificate((tls / "kiosk-dev-01.pem").read_bytes())
    server.verify_directly_issued_by(ca)
    kiosk.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert kiosk.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kiosk-dev-01"
    assert ExtendedKeyUsageOID.CLIENT_AUTH in kiosk.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    private = load_pem_private_key((dev_dir / "signing" / "document-key.pem").read_bytes(), password=None)
    public = load_pem_public_key((dev_dir / "signing" / "document-pub.pem").read_bytes())
    assert isinstance(private, ed25519.Ed25519PrivateKey) and isinstance(public, ed25519.Ed25519PublicKey)
    assert (dev_dir / "tls" / "ca-key.pem").stat().st_mode & 0o077 == 0


def test_config_resolves_paths_against_its_directory(dev_dir):
    config = load_config(dev_dir / "server.toml")
    assert config.database_url == f"sqlite:///{(dev_dir / 'server.db').resolve()}"
    assert config.jpki_crl == (dev_dir / "jpki" / "crl.pem").resolve()
    assert config.city.name == "架空市" and not config.city.my_number_allowed and config.city.max_copies == 5
    assert config.lifetimes.nonce_s == 60 and config.lifetimes.session_s == 600


def test_faults_need_dev_enabled(dev_dir, tmp_path):
    text = (dev_dir / "server.toml").read_text(encoding="utf-8")
    unsafe = tmp_path / "unsafe.toml"
    unsafe.write_text(text.replace("enabled = true", "enabled = false")
                      .replace('fault = "none"', 'fault = "wrong_subject_page"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="enabled"):
        load_config(unsafe)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(text.replace('fault = "none"', 'fault = "melt"'), encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(unknown)
