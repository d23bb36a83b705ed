"""Composition: which persons and which fields each certificate takes from the registry; then every certificate
type issued through the real HTTPS server as a verified envelope whose PDF shows the registry's values."""
from __future__ import annotations

import secrets
from datetime import date
from types import SimpleNamespace

import pypdfium2 as pdfium
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from certs.catalog import CertificateType as T
from certs.envelope import check_pages, key_id, open_envelope
from certs.wire import Quote
from server.compose import compose
from server.config_city import Hours
from server.models import Resident
from server.models_registry import SealRegistration
from server.render.content import FamilyRegisterAll, FamilyRegisterIndividual
from tests.server.registry_db import seeded_registry
from tests.support.server_process import sign_in

TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    sessions = seeded_registry(tmp_path_factory.mktemp("compose") / "registry.db", households=0)
    yield sessions
    sessions.kw["bind"].dispose()


def make(db, kind, rid, options=None, members=None, allowed=False, today=TODAY):
    resident = db.get(Resident, rid)
    chosen = [db.get(Resident, m) for m in members] if members else [resident]
    return compose(db, kind, resident, chosen, options or {}, my_number_allowed=allowed, today=today)


def test_residence_record_fields_follow_the_options(registry):
    with registry() as db:
        plain = make(db, T.RESIDENCE_RECORD_COPY, "R0001")
        assert [p.name for p in plain.persons] == ["試験 太郎"] and not plain.household_scope
        assert not plain.show_head and not plain.show_domicile and plain.persons[0].my_number is None
        full = make(db, T.RESIDENCE_RECORD_COPY, "R0001", {"scope": "household", "household_head": True,
                                                          "domicile": True, "my_number": True},
                    members=["R0001", "R0002", "R0003"], allowed=True)
        assert full.household_scope and full.show_head and full.show_domicile and full.head_name == "試験 太郎"
        assert [p.relationship for p in full.persons] == ["世帯主", "妻", "子"]
        assert all(p.my_number and len(p.my_number) == 12 for p in full.persons)
        assert full.persons[1].domicile == "架空県架空市中央町一丁目2番地"
        chosen_not_allowed = make(db, T.RESIDENCE_RECORD_COPY, "R0001", {"my_number": True})
        assert chosen_not_allowed.persons[0].my_number is None  # the city's flag wins
        assert not hasattr(full.persons[0], "resident_code")  # the 住民票コード is not even carried


def test_foreign_resident_items_only_when_chosen_and_no_domicile(registry):
    with registry() as db:
        plain = make(db, T.RESIDENCE_RECORD_COPY, "R0009", {"domicile": True})
        assert plain.persons[0].nationality is None and plain.persons[0].domicile == ""
        shown = make(db, T.RESIDENCE_RECORD_ITEMS, "R0009", {"foreign_items": True}).persons[0]
        assert (shown.nationality, shown.residence_status, shown.residence_card_number) == (
            "例示国", "技術・人文知識・国際業務", "XX00000009XX")
        assert make(db, T.RESIDENCE_RECORD_COPY, "R0001", {"foreign_items": True}).persons[0].nationality is None


def test_seal_certificate_is_the_live_registration(registry):
    with registry() as db:
        seal = make(db, T.SEAL_REGISTRATION, "R0001")
        assert (seal.registration_number, seal.name, seal.impression.text) == ("S000101", "試験 太郎", "試験")
        with pytest.raises(LookupError):
            make(db, T.SEAL_REGISTRATION, "R0013")  # abolished: never certified
        db.get(SealRegistration, "S000101").abolished_on = TODAY
        with pytest.raises(LookupError):
            make(db, T.SEAL_REGISTRATION, "R0001")
        db.rollback()


def test_family_register_all_individual_and_annex(registry):
    with registry() as db:
        whole = make(db, T.FAMILY_REGISTER_ALL, "R0002")
        assert isinstance(whole, FamilyRegisterAll)
        assert (whole.register.domicile, whole.register.head_name) == ("架空県架空市中央町一丁目2番地", "試験 太郎")
        assert [(m.name, m.spouse_role) for m in whole.register.members] == [("太郎", "夫"), ("花子", "妻"),
                                                                              ("一郎", "")]
        one = make(db, T.FAMILY_REGISTER_INDIVIDUAL, "R0002")
        assert isinstance(one, FamilyRegisterIndividual) and one.member_indexes == (1,)
        widower = make(db, T.FAMILY_REGISTER_ALL, "R0006").register.members  # the wife died: 除籍, still shown
        assert [(m.name, m.removed) for m in widower] == [("三郎", False), ("冬子", True)]
        annex = make(db, T.FAMILY_REGISTER_ANNEX, "R0001")
        assert [a.address for a in annex.persons[0].addresses] == ["架空県見本町本町4番5号",
                                                                   "架空県架空市中央町一丁目2番3号"]
        assert [a.address for a in annex.persons[2].addresses] == ["架空県架空市中央町一丁目2番3号"]  # born here
        elsewhere = make(db, T.FAMILY_REGISTER_ALL, "R0004").register  # kept by 例示市, reached by the 利用登録
        assert elsewhere.domicile == "架空県例示市南町1番地"
        with pytest.raises(LookupError):
            make(db, T.FAMILY_REGISTER_ALL, "R0009")


def test_tax_certificate_of_the_latest_year(registry):
    with registry() as db:
        taxed = make(db, T.RESIDENT_TAX, "R0001")
        assert taxed.fiscal_year == 2026 and taxed.taxable and taxed.total_tax > 0
        assert taxed.incomes[-1].label == "合計所得金額" and taxed.deductions[-1].label == "所得控除合計"
        assert make(db, T.RESIDENT_TAX, "R0001", today=date(2026, 5, 31)).fiscal_year == 2025
        exempt = make(db, T.RESIDENT_TAX, "R0002")
        assert not exempt.taxable and exempt.total_tax == 0 and exempt.city_tax == ()
        with pytest.raises(LookupError):
            make(db, T.RESIDENT_TAX, "R0014")


# ------------------------------------------------------------------ every type, issued over HTTPS


EXPECTED_TEXT = {
    T.RESIDENCE_RECORD_COPY: ("住民票の写し", "試験 太郎", "試験 花子"),
    T.RESIDENCE_RECORD_ITEMS: ("住民票記載事項証明書", "試験 太郎"),
    T.SEAL_REGISTRATION: ("印鑑登録証明書", "S000101", "試験 太郎"),
    T.FAMILY_REGISTER_ALL: ("戸籍全部事項証明書", "架空県架空市中央町一丁目2番地", "花子", "一郎"),
    T.FAMILY_REGISTER_INDIVIDUAL: ("戸籍個人事項証明書", "架空県架空市中央町一丁目2番地", "太郎"),
    T.FAMILY_REGISTER_ANNEX: ("戸籍の附票の写し", "架空県見本町本町4番5号", "架空県架空市中央町一丁目2番3号"),
    T.RESIDENT_TAX: ("市県民税", "課税証明書", "試験 太郎", "合計所得金額"),
}


def test_every_certificate_type_issues_a_verified_pdf_of_the_registry(http, dev_dir):
    session = sign_in(http, dev_dir, "resident-a")
    headers = {"Authorization": f"Bearer {session['session_token']}"}
    public = load_pem_public_key((dev_dir / "signing" / "document-pub.pem").read_bytes())
    for kind, fragments in EXPECTED_TEXT.items():
        options = {"scope": "household"} if kind in (T.RESIDENCE_RECORD_COPY, T.RESIDENCE_RECORD_ITEMS) else {}
        reply = http.post("/v1/quotes", headers=headers, json={"certificate": kind.value, "options": options,
                                                               "copies": 1})
        assert reply.status_code == 200, (kind, reply.text)
        quote = Quote.parse(reply.json())
        txn = secrets.token_hex(16)
        issued = http.post("/v1/issuances", headers=headers,
                           json={"transaction_id": txn, "quote_id": quote.quote_id, "amount_paid": quote.total_fee})
        assert issued.status_code == 201, (kind, issued.text)
        manifest, documents = open_envelope(issued.json(), {key_id(public): public}, transaction_id=txn,
                                            subject_ref=session["subject_ref"])
        assert manifest.total_pages == quote.pages and documents[0].entry.certificate == kind.value
        pdf = pdfium.PdfDocument(documents[0].pdf)
        texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
        pdf.close()
        check_pages(manifest, documents[0].entry, texts)
        whole = "".join(texts)
        assert all(f in whole for f in fragments), (kind, [f for f in fragments if f not in whole])
        assert "住民票コード" not in whole and "個人番号" not in whole


def test_a_registry_change_between_check_and_composition_is_a_refusal_not_a_crash(registry):
    from server.errors import ApiError
    from server.issuance_documents import content_for

    svc = SimpleNamespace(config=SimpleNamespace(city=SimpleNamespace(my_number_allowed=False, hours=Hours())),
                          today=lambda: TODAY, subject_ref=lambda rid: rid.lower() * 2)  # what content_for reads
    with registry() as db:
        db.get(SealRegistration, "S000101").abolished_on = TODAY  # abolished after the menu said yes
        with pytest.raises(ApiError) as caught:
            content_for(svc, db, db.get(Resident, "R0001"), T.SEAL_REGISTRATION, {})
        db.rollback()
    assert (caught.value.status, caught.value.detail) == (403, {"reason": "seal_abolished"})
