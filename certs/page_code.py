"""The signed page code: what the QR code on every printed page carries, and how anyone checks it.

A page code names the document, the page (n of m), the transaction, the resident's pseudonym (``subject_ref``,
never a name), the certificate type and the issue date, and is signed with the server's document key (Ed25519,
the same key whose public half the kiosk trusts for manifests).  It is compact so the QR stays small:
a binary body of about 60 bytes plus the 64-byte signature, written as ``KC1:`` + base32 (the QR alphanumeric
alphabet, so the symbol is version 9 at level M).  A scanned page can thus be checked offline with the public
key alone; the server's ``verify`` command also checks a saved PDF against its issuance record.

Body layout (big-endian): version (1) | certificate code (1) | page (1) | pages (1) | issue date as days since
2000-01-01 (2) | transaction id (16) | document id (id field) | subject ref (id field).  An id field is one length
byte then the bytes; ids that are 32 lowercase hex digits (optionally after ``doc-``) are stored as 16 raw bytes
with the length byte's high bits saying so.
"""
from __future__ import annotations

import base64
import binascii
import enum
import re
import struct
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs.catalog import CertificateType
from certs.services import DocumentKind

PREFIX = "KC1:"
VERSION = 1
_DOMAIN = b"kiosk-page-code/1\x00"  # signatures over page codes can never be mistaken for manifest signatures
_EPOCH = date(2000, 1, 1)
_CODES = tuple(CertificateType)  # the code is the position in this tuple: append new types, never reorder
_OTHER_CODES = {DocumentKind.APPLICATION_RECEIPT: 0x40}  # documents that are not certificates (receipts)
_HEX32 = re.compile(r"[0-9a-f]{32}")
_RAW, _RAW_DOC = 0x80, 0xC0


class PageCodeProblem(enum.Enum):
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"


class PageCodeInvalid(Exception):
    def __init__(self, problem: PageCodeProblem, detail: str):
        super().__init__(f"page code invalid ({problem.value}): {detail}")
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class PageCode:
    document_id: str
    page: int
    pages: int
    transaction_id: str
    subject_ref: str
    certificate: CertificateType | DocumentKind
    issued_on: date

    def body(self) -> bytes:
        if not (1 <= self.page <= self.pages <= 255):
            raise ValueError("page numbers must satisfy 1 <= page <= pages <= 255")
        if not _HEX32.fullmatch(self.transaction_id):
            raise ValueError("transaction ids are 32 lowercase hex digits")
        days = (self.issued_on - _EPOCH).days
        if not 0 <= days <= 0xFFFF:
            raise ValueError("issue date out of range")
        return (struct.pack(">BBBBH", VERSION, _code_of(self.certificate), self.page, self.pages, days)
                + bytes.fromhex(self.transaction_id) + _pack_id(self.document_id) + _pack_id(self.subject_ref))

    def sign(self, key: Ed25519PrivateKey) -> str:
        """The text the QR code carries."""
        body = self.body()
        signature = key.sign(_DOMAIN + body)
        return PREFIX + base64.b32encode(body + signature).decode("ascii").rstrip("=")


def _code_of(kind: CertificateType | DocumentKind) -> int:
    return _OTHER_CODES[kind] if isinstance(kind, DocumentKind) else _CODES.index(kind)


def _kind_of(code: int) -> CertificateType | DocumentKind:
    other = next((kind for kind, c in _OTHER_CODES.items() if c == code), None)
    return other if other is not None else _CODES[code]


def _pack_id(value: str) -> bytes:
    if value.startswith("doc-") and _HEX32.fullmatch(value[4:]):
        return bytes([_RAW_DOC | 16]) + bytes.fromhex(value[4:])
    if _HEX32.fullmatch(value):
        return bytes([_RAW | 16]) + bytes.fromhex(value)
    raw = value.encode("ascii")
    if not 1 <= len(raw) <= 63:
        raise ValueError("ids are 1 to 63 ASCII characters")
    return bytes([len(raw)]) + raw


def _unpack_id(data: bytes, at: int) -> tuple[str, int]:
    flag = data[at]
    length = flag & 0x3F
    raw = data[at + 1:at + 1 + length]
    if len(raw) != length or length == 0:
        raise ValueError("truncated id")
    if flag & _RAW_DOC == _RAW_DOC:
        return "doc-" + raw.hex(), at + 1 + length
    if flag & _RAW:
        return raw.hex(), at + 1 + length
    return raw.decode("ascii"), at + 1 + length


def parse_page_code(text: str) -> tuple[PageCode, bytes, bytes]:
    """Split a page code into (fields, signed body, signature) without checking the signature."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise PageCodeInvalid(PageCodeProblem.MALFORMED, "not a kiosk page code")
    encoded = text[len(PREFIX):].strip()
    try:
        raw = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
        body, signature = raw[:-64], raw[-64:]
        version, code, page, pages, days = struct.unpack(">BBBBH", body[:6])
        if version != VERSION:
            raise ValueError(f"unknown page code version {version}")
        transaction_id = body[6:22].hex()
        document_id, at = _unpack_id(body, 22)
        subject_ref, at = _unpack_id(body, at)
        if at != len(body) or len(signature) != 64 or len(transaction_id) != 32:
            raise ValueError("wrong length")
        fields = PageCode(document_id, page, pages, transaction_id, subject_ref, _kind_of(code),
                          _EPOCH + timedelta(days=days))
    except (binascii.Error, ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
        raise PageCodeInvalid(PageCodeProblem.MALFORMED, f"page code is not well formed ({exc})") from None
    if not 1 <= fields.page <= fields.pages:
        raise PageCodeInvalid(PageCodeProblem.MALFORMED, "page number out of range")
    return fields, body, signature


def verify_page_code(text: str, trusted_keys: Iterable[Ed25519PublicKey]) -> PageCode:
    """The page code's fields if one of the trusted document keys signed it; PageCodeInvalid otherwise."""
    fields, body, signature = parse_page_code(text)
    for key in trusted_keys:
        try:
            key.verify(signature, _DOMAIN + body)
            return fields
        except InvalidSignature:
            continue
    raise PageCodeInvalid(PageCodeProblem.BAD_SIGNATURE, "not signed by a trusted document key")
