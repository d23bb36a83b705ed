"""Certificates issued by the real server verify with ``kiosk-server verify`` against that server's record;
the same PDF with one byte changed does not."""
from __future__ import annotations

import base64
import json
import secrets

import pytest

from server.cli import main as kiosk_server

CERTIFICATES = ("seal_registration", "family_register_all", "resident_tax")


@pytest.mark.parametrize("certificate", CERTIFICATES)
def test_an_issued_certificate_verifies_and_a_tampered_copy_does_not(http, session_a, dev_dir, tmp_path, capsys,
                                                                     certificate):
    headers = session_a[1]
    reply = http.post("/v1/quotes", headers=headers, json={"certificate": certificate, "options": {}, "copies": 1})
    assert reply.status_code == 200, reply.text
    quote = reply.json()
    reply = http.post("/v1/issuances", headers=headers, json={
        "transaction_id": secrets.token_hex(16), "quote_id": quote["quote_id"], "amount_paid": quote["total_fee"]})
    assert reply.status_code == 201, reply.text
    envelope = json.loads(reply.content)
    pdf = base64.b64decode(envelope["documents"][0]["pdf"])
    document_id = envelope["documents"][0]["document_id"]
    config = str(dev_dir / "server.toml")

    issued = tmp_path / "issued.pdf"
    issued.write_bytes(pdf)
    assert kiosk_server(["verify", str(issued), "--config", config]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID") and f"document {document_id}" in out and certificate in out
    assert "SHA-256" in out

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(pdf.replace(b"/Creator (kiosk reference", b"/Creator (kiosk Reference", 1))
    assert kiosk_server(["verify", str(tampered), "--config", config]) == 1
    assert "altered after issue" in capsys.readouterr().out
