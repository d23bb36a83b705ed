"""Every certificate type rendered from synthetic content: the PDF opens, shows its fields, every page carries
exactly one binding line and one QR code whose signed page code verifies and agrees with that line."""
from __future__ import annotations

import pypdfium2 as pdfium
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs.binding import find_bindings
from certs.catalog import CertificateType
from certs.page_code import PageCodeInvalid, verify_page_code
from server.render.content import DocumentIdentity, FamilyRegisterIndividual, ResidenceRecord
from server.render import residence_record
from server.render.documents import count_pages, render_certificate
from server.render.furniture import BODY_BOTTOM, BODY_TOP, CERTIFICATION_HEIGHT, MARKER_HEIGHT, paginate
from server.verify import page_codes_in
from tests.server.document_samples import EXPECTED, ISSUER, REGISTER, SAMPLES, TAX_EXEMPT

KEY = Ed25519PrivateKey.generate()
TXN, SUBJECT = "5a" * 16, "c3" * 16


def identity(kind: CertificateType, number: int = 1) -> DocumentIdentity:
    return DocumentIdentity(TXN, SUBJECT, f"doc-{number:032x}", kind)


def texts(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    return [document[i].get_textpage().get_text_range() for i in range(len(document))]


@pytest.fixture(scope="module")
def rendered():
    return {kind: render_certificate(content, ISSUER, identity(kind, n), KEY)
            for n, (kind, content) in enumerate(SAMPLES.items())}


@pytest.mark.parametrize("kind", list(CertificateType), ids=lambda k: k.value)
def test_certificate_shows_its_fields_and_the_certification(rendered, kind):
    document = rendered[kind]
    pages = texts(document.pdf)
    assert len(pages) == document.pages == count_pages(SAMPLES[kind])
    flat = "".join(pages).replace("\r", "").replace("\n", "")
    for expected in EXPECTED[kind]:
        if expected.startswith("!"):
            assert expected[1:] not in flat
        else:
            assert expected in flat, expected
    assert "発行番号　7F3A21C0-1" in flat and "令和8年11月26日" in flat and "架空市長　架空 春男" in flat
    assert flat.count("複写") == len(pages)  # the footer note only: the latent word is paths, never text
    assert "以下余白" in pages[-1] and all("（次頁に続く）" in p for p in pages[:-1])


@pytest.mark.parametrize("kind", list(CertificateType), ids=lambda k: k.value)
def test_every_page_is_bound_and_its_qr_code_verifies(rendered, kind):
    document = pdfium.PdfDocument(rendered[kind].pdf)
    count = len(document)
    for index in range(count):
        page = document[index]
        (binding,) = find_bindings(page.get_textpage().get_text_range())
        assert (binding.transaction_id, binding.subject_ref, binding.page, binding.pages) == (
            TXN, SUBJECT, index + 1, count)
        (code_text,) = page_codes_in(page.render(scale=200 / 72, grayscale=True).to_pil())
        code = verify_page_code(code_text, [KEY.public_key()])
        assert (code.document_id, code.page, code.pages, code.transaction_id, code.subject_ref) == (
            binding.document_id, binding.page, binding.pages, binding.transaction_id, binding.subject_ref)
        assert code.certificate is kind and code.issued_on == ISSUER.issued_on
        with pytest.raises(PageCodeInvalid):
            verify_page_code(code_text, [Ed25519PrivateKey.generate().public_key()])


def test_long_household_flows_onto_more_pages_each_bound():
    persons = SAMPLES[CertificateType.RESIDENCE_RECORD_COPY].persons * 3  # 12 persons
    record = ResidenceRecord("架空県架空市中央町一丁目2番3号", ISSUER.issued_on, "", "見本 太郎", persons, True, True, True)
    document = render_certificate(record, ISSUER, identity(CertificateType.RESIDENCE_RECORD_COPY), KEY)
    pages = texts(document.pdf)
    assert document.pages == len(pages) == count_pages(record) >= 3
    assert [find_bindings(t)[0].page for t in pages] == list(range(1, len(pages) + 1))
    assert sum(t.count("生年月日") for t in pages) == 12


def test_tax_exempt_reads_non_taxable_without_tax_rows():
    flat = "".join(texts(render_certificate(TAX_EXEMPT, ISSUER, identity(CertificateType.RESIDENT_TAX), KEY).pdf))
    assert "市県民税 非課税証明書" in flat and "非　課　税" in flat and "所得割" not in flat


def test_content_and_identity_must_agree():
    with pytest.raises(ValueError):
        render_certificate(SAMPLES[CertificateType.SEAL_REGISTRATION], ISSUER,
                           identity(CertificateType.RESIDENT_TAX), KEY)
    with pytest.raises(ValueError):
        render_certificate(FamilyRegisterIndividual(REGISTER, ()), ISSUER,
                           identity(CertificateType.FAMILY_REGISTER_INDIVIDUAL), KEY)


def test_personal_content_never_shows_in_a_repr():
    assert "見本" not in repr(SAMPLES[CertificateType.RESIDENCE_RECORD_COPY])
    assert "見本" not in repr(SAMPLES[CertificateType.SEAL_REGISTRATION])


def test_pages_never_overflow_and_the_certification_never_stands_alone():
    base = SAMPLES[CertificateType.RESIDENCE_RECORD_COPY]
    room = BODY_TOP - BODY_BOTTOM - MARKER_HEIGHT
    for count in range(1, 13):
        record = ResidenceRecord(base.address, base.address_set_on, base.previous_address, base.head_name,
                                 (base.persons * 3)[:count], True, True, True)
        pages = paginate(residence_record.blocks(record))
        assert all(sum(b.height for b in page) <= room for page in pages)
        assert sum(b.height for b in pages[-1]) + CERTIFICATION_HEIGHT <= room
        assert any(not b.spacer for b in pages[-1]), f"{count} persons: the last page holds only the statement"
