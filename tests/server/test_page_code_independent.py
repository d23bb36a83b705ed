"""A second, separate verifier of the page codes on printed pages, written from docs/kiosk-server-protocol.md
("The page code") alone: it imports nothing of certs/ or server/ — only ``zbarimg`` (Debian's zbar-tools, a QR
reader other than the server's) and ``cryptography`` — and checks the pages the real server issued, rasterised
as a printer would get them, with nothing but the city's public document key."""
from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta

import pypdfium2 as pdfium
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.support.server_process import sign_in

pytestmark = pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg (zbar-tools) is not installed")

DOMAIN = b"kiosk-page-code/1\x00"
CERTIFICATES = ["residence_record_copy", "residence_record_items", "seal_registration", "family_register_all",
                "family_register_individual", "family_register_annex", "resident_tax"]


@dataclass(frozen=True)
class Page:
    certificate: str
    page: int
    pages: int
    issued_on: date
    transaction_id: str
    document_id: str
    subject_ref: str


def _id(data: bytes, at: int) -> tuple[str, int]:
    flag = data[at]
    raw = data[at + 1:at + 1 + (flag & 0x3F)]
    if flag == 0xD0:
        return "doc-" + raw.hex(), at + 17
    if flag == 0x90:
        return raw.hex(), at + 17
    assert 1 <= flag <= 0x3F, "unknown id flag"
    return raw.decode("ascii"), at + 1 + flag


def check(text: str, key: Ed25519PublicKey) -> Page:
    """The document's recipe: strip KC1:, base32 (padding restored), split off 64 bytes, verify prefix + body."""
    assert text.startswith("KC1:")
    encoded = text[4:]
    raw = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    body, signature = raw[:-64], raw[-64:]
    key.verify(signature, DOMAIN + body)  # raises InvalidSignature
    assert body[0] == 1
    days = int.from_bytes(body[4:6], "big")
    document_id, at = _id(body, 22)
    subject_ref, at = _id(body, at)
    assert at == len(body)
    return Page(CERTIFICATES[body[1]], body[2], body[3], date(2000, 1, 1) + timedelta(days=days), body[6:22].hex(),
                document_id, subject_ref)


def qr_texts(png) -> list[str]:
    out = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.fixture(scope="module")
def printed(server, dev_dir, tmp_path_factory):
    """Two copies of a 住民票の写し issued by the real server, every page rasterised to a 200 dpi PNG."""
    with server.client() as http:
        session = sign_in(http, dev_dir, "resident-a")
        headers = {"Authorization": f"Bearer {session['session_token']}"}
        quote = http.post("/v1/quotes", headers=headers, json={
            "certificate": "residence_record_copy", "options": {"scope": "household"}, "copies": 2}).json()
        txn = secrets.token_hex(16)
        envelope = http.post("/v1/issuances", headers=headers, json={
            "transaction_id": txn, "quote_id": quote["quote_id"], "amount_paid": quote["total_fee"]}).json()
    folder = tmp_path_factory.mktemp("printed")
    pngs = []
    for document in envelope["documents"]:
        pdf = pdfium.PdfDocument(base64.b64decode(document["pdf"]))
        try:
            for index in range(len(pdf)):
                path = folder / f"{document['document_id']}-{index + 1}.png"
                pdf[index].render(scale=200 / 72, grayscale=True).to_pil().save(path)
                pngs.append((document["document_id"], index + 1, len(pdf), path))
        finally:
            pdf.close()
    key = load_pem_public_key((dev_dir / "signing" / "document-pub.pem").read_bytes())
    return txn, session["subject_ref"], envelope["manifest"], pngs, key


def test_every_printed_page_verifies_with_the_public_key_and_names_its_place(printed):
    txn, subject, manifest, pngs, key = printed
    assert len({doc for doc, *_ in pngs}) == 2
    for document_id, number, count, png in pngs:
        (text,) = qr_texts(png)
        page = check(text, key)
        assert (page.transaction_id, page.subject_ref, page.document_id, page.page, page.pages) == (
            txn, subject, document_id, number, count)
        assert page.certificate == "residence_record_copy"
        assert page.pages == next(d["pages"] for d in manifest["documents"] if d["document_id"] == document_id)


def test_a_code_altered_or_checked_with_another_key_or_without_the_prefix_does_not_verify(printed):
    _, _, _, pngs, key = printed
    (text,) = qr_texts(pngs[0][3])
    encoded = text[4:]
    raw = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    body, signature = raw[:-64], raw[-64:]
    altered = bytearray(raw)
    altered[2] ^= 0x01  # another page number
    with pytest.raises(InvalidSignature):
        check("KC1:" + base64.b32encode(bytes(altered)).decode().rstrip("="), key)
    with pytest.raises(InvalidSignature):
        check(text, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(InvalidSignature):
        key.verify(signature, body)  # the signed message is the prefix and the body, as documented
