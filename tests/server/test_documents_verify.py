"""``kiosk-server verify`` on saved PDFs and scanned pages, against a real issuance record in SQLite."""
from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from PIL import ImageFilter

from certs.catalog import CertificateType
from certs.envelope import DocumentEntry, Manifest, canonical_json, seal_envelope
from server.db import open_database
from server.models import Issuance
from server.render.content import DocumentIdentity
from server.render.documents import render_certificate
from server.cli import main as verify_main
from tests.server.document_samples import ISSUER, SAMPLES, TAX

ROOT = Path(__file__).resolve().parents[2]
KIND = CertificateType.RESIDENT_TAX
TXN, SUBJECT, DOC = "9e" * 16, "4d" * 16, "doc-" + "71" * 16


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A server configuration (document key, SQLite database) and one issued tax certificate on record."""
    base = tmp_path_factory.mktemp("verify")
    key = Ed25519PrivateKey.generate()
    (base / "document-key.pem").write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (base / "server.toml").write_text(
        '[server]\ndatabase_url = "sqlite:///issued.db"\n'
        '[tls]\ncertificate = "x.pem"\nkey = "x.pem"\nclient_ca = "x.pem"\n[jpki]\nca = "x.pem"\ncrl = "x.pem"\n'
        '[signing]\ndocument_key = "document-key.pem"\nsubject_ref_key = "x.key"\n', encoding="utf-8")
    pdf = render_certificate(TAX, ISSUER, DocumentIdentity(TXN, SUBJECT, DOC, KIND), key).pdf
    manifest = Manifest(TXN, SUBJECT, "kiosk-01", "2026-11-26T01:00:00Z",
                        (DocumentEntry(DOC, KIND.value, 1, 1, hashlib.sha256(pdf).hexdigest()),))
    sessions = open_database(f"sqlite:///{base / 'issued.db'}")
    with sessions() as db:
        db.add(Issuance(transaction_id=TXN, fingerprint="f" * 64, kiosk_id="kiosk-01", session_id="s" * 32,
                        quote_id="q-1", amount_paid=300, total_fee=300,
                        envelope=canonical_json(seal_envelope(manifest, {DOC: pdf}, key)), issued_at=datetime(2026, 11, 26)))
        db.commit()
    sessions.kw["bind"].dispose()
    (base / "issued.pdf").write_bytes(pdf)
    return base, key, pdf


def run(world, capsys, data: bytes | None, name: str = "input.pdf", *extra: str) -> tuple[int, str]:
    base = world[0]
    path = base / name
    if data is not None:
        path.write_bytes(data)
    code = verify_main(["verify", str(path), "--config", str(base / "server.toml"), *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_issued_pdf_verifies_against_its_record(world, capsys):
    code, out = run(world, capsys, world[2])
    assert code == 0 and out.startswith("VALID")
    assert f"document {DOC}" in out and "resident_tax" in out and "page 1/1" in out and "issued 2026-11-26" in out
    assert "SHA-256" in out and "見本" not in out  # what was verified, never whose certificate it is


def test_a_byte_edited_pdf_fails(world, capsys):
    pdf = world[2]
    edited = pdf.replace(b"/Creator (kiosk reference", b"/Creator (kiosk REFERENCE", 1)  # same length, still opens
    assert edited != pdf and len(edited) == len(pdf)
    code, out = run(world, capsys, edited)
    assert code == 1 and out.startswith("INVALID") and "altered after issue" in out


def test_a_pdf_resaved_with_a_changed_field_fails_even_with_a_valid_qr(world, capsys):
    forged = render_certificate(replace(TAX, name="別人 次郎"), ISSUER, DocumentIdentity(TXN, SUBJECT, DOC, KIND),
                                world[1]).pdf  # same ids, same key: only the issuance record tells them apart
    code, out = run(world, capsys, forged)
    assert code == 1 and "SHA-256 mismatch" in out


def test_a_pdf_resaved_by_a_pdf_tool_fails(world, capsys):
    document = pdfium.PdfDocument(world[2])
    path = world[0] / "resaved.pdf"
    document.save(str(path))
    document.close()
    code, out = run(world, capsys, None, "resaved.pdf")
    assert code == 1 and "altered after issue" in out


def test_a_certificate_signed_with_another_key_fails(world, capsys):
    other = render_certificate(SAMPLES[CertificateType.SEAL_REGISTRATION], ISSUER,
                               DocumentIdentity(TXN, SUBJECT, "doc-" + "72" * 16, CertificateType.SEAL_REGISTRATION),
                               Ed25519PrivateKey.generate()).pdf
    code, out = run(world, capsys, other)
    assert code == 1 and "bad_signature" in out


def test_a_validly_signed_document_without_a_record_fails(world, capsys):
    unknown = render_certificate(TAX, ISSUER, DocumentIdentity("0f" * 16, SUBJECT, "doc-" + "73" * 16, KIND),
                                 world[1]).pdf
    code, out = run(world, capsys, unknown)
    assert code == 1 and "no issuance record" in out
    code, out = run(world, capsys, unknown, "unknown.pdf", "--offline")
    assert code == 0 and "SHA-256" not in out  # the signature alone is fine offline


def _scan(pdf: bytes, dpi: int = 200, skew: float = 0.0) -> bytes:
    image = pdfium.PdfDocument(pdf)[0].render(scale=dpi / 72, grayscale=True).to_pil()
    if skew:  # a sheet laid a little crooked on a scanner with soft optics
        image = image.filter(ImageFilter.GaussianBlur(1.0)).rotate(skew, expand=True, fillcolor=255)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_scanned_page_passes_via_its_qr_code(world, capsys):
    code, out = run(world, capsys, _scan(world[2]), "scan.png")
    assert code == 0 and f"document {DOC}" in out and "page 1/1" in out and "issuance record lists" in out


def test_a_crooked_blurry_150_dpi_scan_still_verifies(world, capsys):
    code, out = run(world, capsys, _scan(world[2], dpi=150, skew=3.0), "crooked.png")
    assert code == 0 and f"document {DOC}" in out


def test_a_scanned_page_of_a_forged_certificate_fails(world, capsys):
    forged = render_certificate(TAX, ISSUER, DocumentIdentity(TXN, SUBJECT, DOC, KIND), Ed25519PrivateKey.generate())
    code, out = run(world, capsys, _scan(forged.pdf), "forged.png")
    assert code == 1 and "bad_signature" in out


def test_usage_errors_exit_2(world, capsys):
    base = world[0]
    assert run(world, capsys, None, "missing.pdf")[0] == 2
    code, out = run(world, capsys, b"just some text", "notes.txt")
    assert code == 2 and "neither a PDF nor an image" in out
    code = verify_main(["verify", str(base / "issued.pdf"), "--config", str(base / "nowhere.toml")])
    assert code == 2


def test_the_command_line_exit_codes(world):
    base = world[0]
    command = [sys.executable, "-m", "server.cli", "verify", "--config", str(base / "server.toml")]
    done = subprocess.run([*command, str(base / "issued.pdf")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*command, "--bogus"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
