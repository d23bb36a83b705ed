"""The worked examples of docs/kiosk-server-protocol.md, parsed out of the document and checked byte for byte
against the code both sides run (certs/): what a second implementation copies from the document is what we do."""
from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs.binding import PageBinding, find_bindings
from certs.catalog import CertificateType
from certs.envelope import Manifest, canonical_json, key_id
from certs.page_code import PageCode, parse_page_code, verify_page_code
from certs.wire import signin_message

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "kiosk-server-protocol.md"
_BLOCK = re.compile(r"^```json example=([a-z0-9-]+)\n(.*?)\n```$", re.S | re.M)
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")  # RFC 8017 §9.2, note 1


def examples() -> dict[str, dict]:
    found = {}
    for name, text in _BLOCK.findall(DOCUMENT.read_text(encoding="utf-8")):
        assert name not in found, f"two examples named {name}"
        found[name] = json.loads(text)
    return found


@pytest.fixture(scope="module")
def example():
    return examples()


def test_the_document_holds_every_worked_example(example):
    assert set(example) == {"signin-message", "canonical-json", "manifest-signature", "binding-line", "page-code",
                            "catalogue"}


def test_signin_message_bytes(example):
    case = example["signin-message"]
    message = signin_message(case["nonce"], case["kiosk_id"])
    assert message == bytes.fromhex(case["message_hex"])
    assert hashlib.sha256(message).hexdigest() == case["sha256_hex"]
    assert SHA256_DIGEST_INFO + hashlib.sha256(message).digest() == bytes.fromhex(case["digest_info_hex"])


def test_canonical_json_bytes(example):
    case = example["canonical-json"]
    assert canonical_json(case["value"]) == bytes.fromhex(case["canonical_hex"])


def test_manifest_signature_key_id_and_base64(example):
    case = example["manifest-signature"]
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(case["private_key_seed_hex"]))
    public = key.public_key()
    assert public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex() == case["public_key_raw_hex"]
    assert key_id(public) == case["key_id"] == hashlib.sha256(bytes.fromhex(case["public_key_raw_hex"])).hexdigest()[:16]
    canonical = Manifest.from_dict(case["manifest"]).canonical_bytes()
    assert canonical == case["canonical_text"].encode("utf-8") == canonical_json(case["manifest"])
    signature = base64.b64decode(case["signature_base64"], validate=True)
    assert base64.b64encode(key.sign(canonical)).decode("ascii") == case["signature_base64"]  # standard, padded
    public.verify(signature, canonical)


def test_binding_line_text(example):
    case = example["binding-line"]
    binding = PageBinding(case["transaction_id"], case["subject_ref"], case["document_id"], case["page"],
                          case["pages"])
    assert binding.line() == case["line"]
    broken = case["line"].replace(" doc=", "\ndoc=")  # as a text extractor may break it
    assert find_bindings(broken) == [binding]


def test_page_code_bytes_and_text(example):
    case = example["page-code"]
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(case["private_key_seed_hex"]))
    f = case["fields"]
    code = PageCode(f["document_id"], f["page"], f["pages"], f["transaction_id"], f["subject_ref"],
                    CertificateType(f["certificate"]), date.fromisoformat(f["issued_on"]))
    body = bytes.fromhex(case["body_hex"])
    assert code.body() == body
    signed = bytes.fromhex(case["signed_message_hex"])
    assert signed == b"kiosk-page-code/1\x00" + body
    assert code.sign(key) == case["qr_text"]
    fields, parsed_body, signature = parse_page_code(case["qr_text"])
    assert (fields, parsed_body) == (code, body)
    key.public_key().verify(signature, signed)  # the documented message verifies ...
    assert verify_page_code(case["qr_text"], [key.public_key()]) == code  # ... and so does the code's check


def test_catalogue_order_is_the_page_code_numbering(example):
    assert example["catalogue"]["certificates"] == [c.value for c in CertificateType]
    for number, name in enumerate(example["catalogue"]["certificates"]):
        code = PageCode("doc-" + "0" * 32, 1, 1, "0" * 32, "0" * 32, CertificateType(name), date(2026, 1, 1))
        assert code.body()[1] == number
