"""verify_documents: the signed envelope and every page's binding line, checked with real PDFs."""
import base64
import copy

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs.envelope import DocumentRejected, RejectReason
from firmware.printing import VerifiedSet, page_texts, verify_documents
from tests.support.documents import make_envelope


def verify(test_envelope, envelope=None, **overrides):
    args = dict(trusted_keys=test_envelope.trusted_keys, transaction_id=test_envelope.transaction_id,
                subject_ref=test_envelope.subject_ref)
    args.update(overrides)
    return verify_documents(envelope if envelope is not None else test_envelope.envelope, **args)


def rejected(test_envelope, envelope=None, **overrides) -> RejectReason:
    with pytest.raises(DocumentRejected) as caught:
        verify(test_envelope, envelope, **overrides)
    return caught.value.reason


def test_a_good_envelope_verifies_every_document_in_manifest_order():
    good = make_envelope((2, 1))
    verified = verify(good)
    assert isinstance(verified, VerifiedSet)
    assert [d.document_id for d in verified.documents] == [d.document_id for d in good.manifest.documents]
    assert verified.total_pages == 3
    assert [d.pdf for d in verified.documents] == [good.pdfs[d.document_id] for d in good.manifest.documents]


def test_the_binding_line_is_read_back_from_the_pdf_text():
    good = make_envelope((2,))
    (document_id, pdf), = good.pdfs.items()
    texts = page_texts(document_id, pdf)
    assert len(texts) == 2
    assert f"doc={document_id} page=2/2" in texts[1] and good.subject_ref in texts[1]
    assert "住民票の写し" in texts[0]


def test_a_verified_set_cannot_be_made_by_hand():
    good = make_envelope((1,))
    with pytest.raises(TypeError):
        VerifiedSet(good.manifest, ())


def test_one_changed_pdf_byte_is_a_hash_mismatch():
    good = make_envelope((1,))
    tampered = copy.deepcopy(good.envelope)
    pdf = bytearray(base64.b64decode(tampered["documents"][0]["pdf"]))
    pdf[len(pdf) // 2] ^= 0x01
    tampered["documents"][0]["pdf"] = base64.b64encode(bytes(pdf)).decode()
    assert rejected(good, tampered) is RejectReason.HASH_MISMATCH


def test_a_manifest_signed_by_an_untrusted_key_is_an_unknown_key():
    stranger = make_envelope((1,), signing_key=Ed25519PrivateKey.generate())
    trusted_elsewhere = make_envelope((1,))
    assert rejected(stranger, trusted_keys=trusted_elsewhere.trusted_keys) is RejectReason.UNKNOWN_KEY


def test_an_altered_manifest_is_a_bad_signature():
    good = make_envelope((1,))
    altered = copy.deepcopy(good.envelope)
    altered["manifest"]["kiosk_id"] = "kiosk-test-02"
    assert rejected(good, altered) is RejectReason.BAD_SIGNATURE


def test_an_envelope_for_another_transaction_or_resident_is_refused():
    good = make_envelope((1,))
    assert rejected(good, transaction_id="0" * 32) is RejectReason.WRONG_TRANSACTION
    assert rejected(good, subject_ref="0" * 16) is RejectReason.WRONG_SUBJECT


@pytest.mark.parametrize("breakage", [
    dict(other_subject_on=(0, 2)),
    dict(other_subject_on=(1, 1)),
    dict(missing_binding_on=(0, 1)),
    dict(double_binding_on=(0, 2)),
    dict(swap_pages_in=0),
    dict(page_transaction_id="f" * 32),
], ids=["another-resident-p2", "another-resident-doc2", "no-binding", "two-bindings", "pages-swapped",
        "pages-of-another-transaction"])
def test_a_page_that_is_not_bound_to_this_visit_rejects_the_whole_set(breakage):
    broken = make_envelope((2, 1), **breakage)
    assert rejected(broken) is RejectReason.PAGE_BINDING_MISMATCH


def test_a_signed_pdf_that_pdfium_cannot_open_is_malformed():
    garbage = make_envelope((1,), pdf_override={0: b"%PDF-1.7\nthis is not a pdf at all\n%%EOF"})
    with pytest.raises(DocumentRejected) as caught:
        verify(garbage)
    assert caught.value.reason is RejectReason.MALFORMED
    assert garbage.manifest.documents[0].document_id in str(caught.value)


def test_a_pdf_with_fewer_pages_than_the_manifest_says_is_refused():
    short = make_envelope((1, 3), drop_last_page_of=1)
    assert rejected(short) is RejectReason.PAGE_COUNT_MISMATCH


def purchase(good, **overrides):
    from firmware.printing import Purchase

    values = dict(certificate="residence_record_copy", copies=len(good.manifest.documents),
                  pages=good.manifest.total_pages, kiosk_id="kiosk-test-01")
    values.update(overrides)
    return Purchase(**values)


def test_a_set_that_is_exactly_the_purchase_verifies():
    good = make_envelope((2, 2))
    assert verify(good, purchase=purchase(good)).total_pages == 4


@pytest.mark.parametrize("paid_for, reason", [
    (dict(copies=1), RejectReason.PURCHASE_MISMATCH),  # one more copy than was paid for
    (dict(copies=3), RejectReason.PURCHASE_MISMATCH),  # one copy short
    (dict(pages=3), RejectReason.PURCHASE_MISMATCH),  # quoted 3 pages, 4 came
    (dict(certificate="seal_registration"), RejectReason.PURCHASE_MISMATCH),  # another certificate type
    (dict(kiosk_id="kiosk-test-02"), RejectReason.WRONG_KIOSK),  # issued for the kiosk next to this one
])
def test_a_set_that_differs_from_the_purchase_in_any_way_is_rejected(paid_for, reason):
    good = make_envelope((2, 2))
    assert rejected(good, purchase=purchase(good, **paid_for)) is reason


def test_two_documents_numbered_as_the_same_copy_are_not_two_copies():
    from certs.envelope import seal_envelope
    import dataclasses

    good = make_envelope((1, 1))
    twice = tuple(dataclasses.replace(d, copy=1) for d in good.manifest.documents)
    key = Ed25519PrivateKey.generate()
    resealed = seal_envelope(dataclasses.replace(good.manifest, documents=twice), good.pdfs, key)
    from certs.envelope import key_id

    keys = {key_id(key.public_key()): key.public_key()}
    assert rejected(good, resealed, trusted_keys=keys, purchase=purchase(good)) is RejectReason.PURCHASE_MISMATCH
