"""The refund slip the kiosk prints: its signed code verifies with the kiosk's certificate and any change to it is
caught; its reference is short, readable and passes the journal's id rules; the printed page carries the code in
a QR a reader decodes, the amount, the date in Japan, the kiosk, and nothing personal."""
from __future__ import annotations

import base64
import datetime as dt
import json
import secrets

import numpy as np
import pytest
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certs import refund_slip as code
from firmware.journal_schema import check_id
from firmware.refund_slip import build_slip, load_device_key, render_slip, slip_image, slip_lines
from hal.printer.contract import PageRaster
from tests.support.refund_slips import paper, tampered

KIOSK = "kiosk-dev-01"
ISSUED = dt.datetime(2025, 6, 1, 5, 3, 12, 345, tzinfo=dt.timezone.utc)  # 14:03 in Japan


def certificate(key, kiosk_id: str = KIOSK) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kiosk_id)])
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=400))
            .not_valid_after(now + dt.timedelta(days=400)).sign(key, hashes.SHA256()))


@pytest.fixture(scope="module")
def key():
    return ec.generate_private_key(ec.SECP256R1())  # what devinit and enrolment make for a kiosk


@pytest.fixture()
def slip(key):
    return build_slip(secrets.token_hex(16), 1200, KIOSK, ISSUED, key)


def test_the_slip_code_verifies_with_the_kiosks_certificate_and_names_the_refund(slip, key):
    fields = code.verify(slip.code, certificate(key))
    assert (fields.transaction_id, fields.amount, fields.kiosk_id) == (slip.transaction_id, 1200, KIOSK)
    assert fields.issued_at == ISSUED.replace(microsecond=0) == slip.issued_at
    assert fields.reference == slip.reference == code.reference_for(slip.transaction_id)
    assert slip.code.startswith("KRS1.") and slip.code.count(".") == 2 and len(slip.code) < 300


@pytest.mark.parametrize("change", [{"a": 12000}, {"a": 1201}, {"k": "kiosk-dev-02"},
                                    {"i": "2025-06-02T05:03:12Z"}])
def test_any_change_to_the_slip_breaks_its_signature(slip, key, change):
    forged = tampered(slip.code, **change)
    code.parse(forged)  # still well formed
    with pytest.raises(code.SlipInvalid):
        code.verify(forged, certificate(key, change.get("k", KIOSK)))


def test_another_kiosks_key_or_certificate_does_not_verify(slip, key):
    with pytest.raises(code.SlipInvalid, match="signature does not match"):
        code.verify(slip.code, certificate(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(code.SlipInvalid, match="not kiosk-dev-01's"):
        code.verify(slip.code, certificate(key, "kiosk-dev-02"))


@pytest.mark.parametrize("text", ["", "KC1:ABC", "KRS1.", "KRS1.abc", "KRS1.e30.AAAA", "KRS1.!!.AA",
                                  "KRS2.e30.AAAA"])
def test_malformed_codes_are_refused_as_such(text):
    with pytest.raises(code.SlipInvalid):
        code.parse(text)


def test_a_payload_with_a_reference_not_its_transactions_is_refused(slip):
    other = code.reference_for(secrets.token_hex(16))
    with pytest.raises(code.SlipInvalid, match="not well formed"):
        code.parse(tampered(slip.code, r=other))


def test_rsa_and_p384_device_keys_sign_slips_too():
    for key in (rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP384R1())):
        slip = build_slip(secrets.token_hex(16), 300, KIOSK, ISSUED, key)
        assert code.verify(slip.code, certificate(key)).amount == 300
        with pytest.raises(code.SlipInvalid):
            code.verify(tampered(slip.code, a=3000), certificate(key))


def test_the_device_key_is_loaded_from_its_pem_and_an_unusable_one_refused(tmp_path, key):
    path = tmp_path / "kiosk-key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    loaded = load_device_key(path)
    assert code.verify(build_slip(secrets.token_hex(16), 10, KIOSK, ISSUED, loaded).code, certificate(key))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(TypeError):
        load_device_key(path)


def test_references_are_short_readable_and_pass_the_journals_id_rules():
    seen = set()
    for _ in range(2000):
        txn = secrets.token_hex(16)
        reference = code.reference_for(txn)
        assert code.REFERENCE.fullmatch(reference) and len(reference.replace("-", "")) == 12
        assert not set(reference) & set("01IO")
        assert check_id(reference, "reference") == reference
        assert code.reference_for(txn) == reference  # derived, so the server finds it again
        seen.add(reference)
    assert len(seen) == 2000
    assert check_id(code.reference_for("0" * 32), "reference")  # even the least random transaction id
    assert code.normalise_reference(" ft82 jvj6 8sm3 ") == "FT82-JVJ6-8SM3"
    with pytest.raises(ValueError):
        code.normalise_reference("FT82-JVJ6-8SM0")


@pytest.mark.parametrize("bad", [dict(amount=0), dict(amount=-5), dict(amount=True), dict(kiosk_id="dev-01"),
                                 dict(txn="ABC"), dict(issued_at=dt.datetime(2025, 6, 1))])
def test_bad_arguments_are_refused(key, bad):
    args = dict(txn=secrets.token_hex(16), amount=100, kiosk_id=KIOSK, issued_at=ISSUED) | bad
    with pytest.raises(ValueError):
        build_slip(args["txn"], args["amount"], args["kiosk_id"], args["issued_at"], key)


@pytest.mark.parametrize("width_dots", [1680, 640, 384])
def test_the_printed_slip_carries_the_code_in_a_readable_qr(slip, key, width_dots):
    raster = render_slip(slip, width_dots, 203)
    assert isinstance(raster, PageRaster) and raster.width == width_dots and raster.dpi == 203
    assert raster.label == f"refund-slip {slip.reference}"
    height_mm = raster.height / 203 * 25.4
    assert 60 < height_mm < 160, height_mm  # a receipt, not a page
    image = paper(raster)
    ink = 1 - np.asarray(image).mean() / 255
    assert 0.03 < ink < 0.5
    codes = [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode) if r.valid]
    assert codes == [slip.code]
    assert code.verify(codes[0], certificate(key)).amount == 1200


def test_the_column_is_centred_on_a_wide_printer(slip):
    image = np.asarray(paper(render_slip(slip, 1680, 203)))
    inked = np.nonzero((image < 128).any(axis=0))[0]
    left, right = inked[0], 1680 - 1 - inked[-1]
    assert abs(left - right) < 40 and right - left < 40 and inked[-1] - inked[0] < 72 / 25.4 * 203


def test_the_slip_says_what_it_is_in_japanese_and_english_and_nothing_personal(slip):
    lines = slip_lines(slip)
    assert lines["title_ja"] == "返金引換票" and lines["title_en"] == "Refund slip"
    assert lines["amount"] == "¥1,200"
    assert lines["date"].startswith("2025年6月1日 14:03") and "2025-06-01 14:03 JST" in lines["date"]
    assert KIOSK in lines["kiosk"] and lines["reference"] == slip.reference
    assert "窓口" in lines["counter_ja"] and "counter" in lines["counter_en"]
    payload = json.loads(base64.urlsafe_b64decode(slip.code.split(".")[1] + "=="))
    assert set(payload) == {"a", "i", "k", "r", "t", "v"}  # no name, address or card


def test_the_slip_image_is_drawn_at_the_printers_resolution(slip):
    at_203 = slip_image(slip, 640, 203)
    at_300 = slip_image(slip, 945, 300)
    assert at_300.height == pytest.approx(at_203.height * 300 / 203, rel=0.06)


def test_a_printer_too_narrow_for_the_qr_is_refused_rather_than_clipping_it(slip):
    with pytest.raises(ValueError, match="too narrow"):
        render_slip(slip, 160, 203)
    with pytest.raises(ValueError):
        render_slip(slip, 640, 0)
