"""The signed document envelope: the certificates of one transaction, and the manifest that binds them.

The server signs a manifest (canonical JSON, Ed25519) that names the transaction, the resident (by an opaque
``subject_ref``, never by name), and every document with its SHA-256 and page count.  The kiosk trusts only the
document-signing keys in its configuration.  :func:`open_envelope` checks the signature, the transaction and the
subject, and every document's hash; :func:`check_pages` then checks the binding line on every page.  Any
failure raises :class:`DocumentRejected` with a reason code, and nothing of that envelope is printed.
"""
from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Mapping, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs.binding import find_bindings

MANIFEST_VERSION = 1


class RejectReason(enum.Enum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    WRONG_TRANSACTION = "wrong_transaction"
    WRONG_SUBJECT = "wrong_subject"
    HASH_MISMATCH = "hash_mismatch"
    PAGE_COUNT_MISMATCH = "page_count_mismatch"
    PAGE_BINDING_MISMATCH = "page_binding_mismatch"
    PURCHASE_MISMATCH = "purchase_mismatch"  # certificate, copies or pages are not what the resident paid for
    WRONG_KIOSK = "wrong_kiosk"  # the set was issued for another kiosk


class DocumentRejected(Exception):
    def __init__(self, reason: RejectReason, detail: str):
        super().__init__(f"document rejected ({reason.value}): {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class DocumentEntry:
    document_id: str
    certificate: str
    copy: int
    pages: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    transaction_id: str
    subject_ref: str
    kiosk_id: str
    issued_at: str
    documents: tuple[DocumentEntry, ...]
    version: int = MANIFEST_VERSION

    @property
    def total_pages(self) -> int:
        return sum(d.pages for d in self.documents)

    def to_dict(self) -> dict:
        return {
            "version": self.version, "transaction_id": self.transaction_id, "subject_ref": self.subject_ref,
            "kiosk_id": self.kiosk_id, "issued_at": self.issued_at,
            "documents": [d.__dict__.copy() for d in self.documents],
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: object) -> "Manifest":
        try:
            assert isinstance(data, dict)
            docs = tuple(
                DocumentEntry(str(d["document_id"]), str(d["certificate"]), int(d["copy"]), int(d["pages"]),
                              str(d["sha256"]))
                for d in data["documents"]
            )
            manifest = cls(str(data["transaction_id"]), str(data["subject_ref"]), str(data["kiosk_id"]),
                           str(data["issued_at"]), docs, int(data["version"]))
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            raise DocumentRejected(RejectReason.MALFORMED, f"manifest is not well formed ({exc!r})") from None
        if manifest.version != MANIFEST_VERSION or not docs or any(d.pages < 1 for d in docs):
            raise DocumentRejected(RejectReason.MALFORMED, "manifest version or document list is invalid")
        return manifest


def canonical_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a document-signing key: the first 16 hex digits of SHA-256 of its raw bytes."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def seal_envelope(manifest: Manifest, pdfs: Mapping[str, bytes], signing_key: Ed25519PrivateKey) -> dict:
    """Build the envelope the server sends: the manifest, its signature, and the PDFs (base64)."""
    for doc in manifest.documents:
        if hashlib.sha256(pdfs[doc.document_id]).hexdigest() != doc.sha256:
            raise ValueError(f"document {doc.document_id} does not match its manifest entry")
    signature = signing_key.sign(manifest.canonical_bytes())
    return {
        "manifest": manifest.to_dict(),
        "key_id": key_id(signing_key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
        "documents": [{"document_id": d.document_id, "pdf": base64.b64encode(pdfs[d.document_id]).decode("ascii")}
                      for d in manifest.documents],
    }


@dataclass(frozen=True)
class OpenedDocument:
    entry: DocumentEntry
    pdf: bytes


def open_envelope(envelope: object, trusted_keys: Mapping[str, Ed25519PublicKey], *, transaction_id: str,
                  subject_ref: str) -> tuple[Manifest, list[OpenedDocument]]:
    """Check an envelope against the trusted keys, the expected transaction and the signed-in subject."""
    if not isinstance(envelope, dict):
        raise DocumentRejected(RejectReason.MALFORMED, "envelope is not an object")
    manifest = Manifest.from_dict(envelope.get("manifest"))
    key = trusted_keys.get(str(envelope.get("key_id")))
    if key is None:
        raise DocumentRejected(RejectReason.UNKNOWN_KEY, "signed with a key this kiosk does not trust")
    try:
        signature = base64.b64decode(str(envelope.get("signature")), validate=True)
        key.verify(signature, manifest.canonical_bytes())
    except (InvalidSignature, binascii.Error, ValueError):
        raise DocumentRejected(RejectReason.BAD_SIGNATURE, "manifest signature does not verify") from None
    if manifest.transaction_id != transaction_id:
        raise DocumentRejected(RejectReason.WRONG_TRANSACTION, "manifest names another transaction")
    if manifest.subject_ref != subject_ref:
        raise DocumentRejected(RejectReason.WRONG_SUBJECT, "manifest names another resident")
    raw_docs = envelope.get("documents")
    if not isinstance(raw_docs, list) or len(raw_docs) != len(manifest.documents):
        raise DocumentRejected(RejectReason.MALFORMED, "document list does not match the manifest")
    by_id: dict[str, bytes] = {}
    for raw in raw_docs:
        try:
            by_id[str(raw["document_id"])] = base64.b64decode(str(raw["pdf"]), validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise DocumentRejected(RejectReason.MALFORMED, "a document is not well formed") from None
    opened = []
    for entry in manifest.documents:
        pdf = by_id.get(entry.document_id)
        if pdf is None or hashlib.sha256(pdf).hexdigest() != entry.sha256:
            raise DocumentRejected(RejectReason.HASH_MISMATCH, f"document {entry.document_id} was altered")
        opened.append(OpenedDocument(entry, pdf))
    return manifest, opened


def check_pages(manifest: Manifest, entry: DocumentEntry, page_texts: Sequence[str]) -> None:
    """Check the binding line of every page of one document against the manifest."""
    if len(page_texts) != entry.pages:
        raise DocumentRejected(RejectReason.PAGE_COUNT_MISMATCH,
                               f"document {entry.document_id} has {len(page_texts)} pages, manifest says {entry.pages}")
    for number, text in enumerate(page_texts, start=1):
        bindings = find_bindings(text)
        if len(bindings) != 1:
            raise DocumentRejected(RejectReason.PAGE_BINDING_MISMATCH,
                                   f"page {number} of {entry.document_id} carries {len(bindings)} binding lines")
        b = bindings[0]
        if (b.transaction_id, b.document_id, b.page, b.pages) != (manifest.transaction_id, entry.document_id,
                                                                  number, entry.pages):
            raise DocumentRejected(RejectReason.PAGE_BINDING_MISMATCH,
                                   f"page {number} of {entry.document_id} belongs to another document or transaction")
        if b.subject_ref != manifest.subject_ref:
            raise DocumentRejected(RejectReason.PAGE_BINDING_MISMATCH,
                                   f"page {number} of {entry.document_id} belongs to another resident")
