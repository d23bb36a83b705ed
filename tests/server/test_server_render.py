"""The 住民票の写し renderer on its own: pagination, one binding line per page, the closing statement."""
from __future__ import annotations

from datetime import date

import pypdfium2 as pdfium
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs.binding import find_bindings
from certs.catalog import CertificateType
from server.render.content import DocumentIdentity
from server.render.dates import wareki
from server.render.residence_record import (STATEMENT_SELF, Issuer, PersonEntry, ResidenceRecord,
                                            render_residence_record)

PERSON = PersonEntry("見本 一", date(1990, 1, 2), "男", "子", date(2000, 1, 1), date(2000, 1, 5), "架空県架空市1番地",
                     "見本 一", None)
KEY = Ed25519PrivateKey.generate()


def render(persons: int, household: bool = True) -> list[str]:
    record = ResidenceRecord("架空県架空市西町1番1号", date(2000, 1, 1), "架空県見本町1番", "見本 一",
                             (PERSON,) * persons, household, False, False)
    identity = DocumentIdentity("ab" * 16, "cd" * 16, "doc-test0001", CertificateType.RESIDENCE_RECORD_COPY)
    pdf = render_residence_record(record, Issuer("架空市", "架空 春男", date(2026, 4, 1), "T-1"), identity, KEY).pdf
    document = pdfium.PdfDocument(pdf)
    return [document[i].get_textpage().get_text_range() for i in range(len(document))]


def test_eight_persons_take_two_pages_each_with_one_binding_line():
    texts = render(8)
    assert len(texts) == 2
    for number, text in enumerate(texts, start=1):
        bindings = find_bindings(text)
        assert len(bindings) == 1 and (bindings[0].page, bindings[0].pages) == (number, 2)
    assert "証明する" not in texts[0] and "世帯全員の住民票の原本と相違ないことを証明する" in texts[1]
    assert "続柄" in texts[0] and "子" not in texts[0].split("続柄")[1][:6]  # 続柄 not chosen: left out


def test_single_person_statement_and_date():
    (text,) = render(1, household=False)
    assert STATEMENT_SELF in text and "令和8年4月1日" in text and "架空市長" in text


def test_wareki():
    assert wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert wareki(date(2019, 4, 30)) == "平成31年4月30日"
    assert wareki(date(1989, 1, 7)) == "昭和64年1月7日"
