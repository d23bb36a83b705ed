"""The enrolment payload is checked before anything goes on the network: expired, malformed, other kiosk."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from certs.enrolment_payload import EnrolmentPayload, PayloadError, parse_payload
from provisioning.certificate import CertificateLife

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
GOOD = EnrolmentPayload("https://127.0.0.1:8443", "ab" * 32, "kiosk-hall-01", "t" * 43, NOW + timedelta(hours=1))


def test_a_payload_reads_back_whole_and_hides_its_token():
    parsed = parse_payload(GOOD.text(), now=NOW)
    assert parsed == GOOD
    assert "t" * 43 not in repr(parsed)


def test_line_breaks_and_spaces_from_typing_are_ignored():
    text = GOOD.text()
    assert parse_payload("  " + text[:30] + "\n" + text[30:] + " \n", now=NOW) == GOOD


@pytest.mark.parametrize("text, words", [
    ("hello", "not an enrolment payload"),
    (GOOD.text()[:-7], "damaged"),
    (GOOD.text()[:20] + "!" + GOOD.text()[21:], "damaged"),
    ("KEP1.eyJ1cmwiOiJodHRwczovL3gifQ", "incomplete"),
])
def test_a_malformed_payload_says_what_to_do(text, words):
    with pytest.raises(PayloadError, match=words) as refused:
        parse_payload(text, now=NOW)
    assert "t" * 43 not in str(refused.value)


def test_an_expired_payload_is_refused_and_names_the_command_that_makes_a_new_one():
    with pytest.raises(PayloadError, match=r"expired at .*kiosk-server enrol-token --kiosk-id kiosk-hall-01"):
        parse_payload(GOOD.text(), now=NOW + timedelta(hours=2))


def test_a_payload_for_another_kiosk_is_refused():
    with pytest.raises(PayloadError, match="for kiosk-hall-01, but this kiosk is kiosk-hall-02"):
        parse_payload(GOOD.text(), now=NOW, expected_kiosk_id="kiosk-hall-02")


@pytest.mark.parametrize("field, value, words", [
    ("url", "http://127.0.0.1", "not https"), ("ca_sha256", "AB" * 32, "fingerprint"),
    ("kiosk_id", "hall-01", "kiosk id"), ("token", "short", "token is malformed")])
def test_each_field_is_checked(field, value, words):
    import dataclasses

    with pytest.raises(PayloadError, match=words):
        parse_payload(dataclasses.replace(GOOD, **{field: value}).text(), now=NOW)


def test_certificate_life_in_words():
    life = CertificateLife(NOW, NOW + timedelta(days=300))
    assert "valid until" in life.words(NOW + timedelta(days=100)) and not life.due(NOW + timedelta(days=199))
    assert life.due(NOW + timedelta(days=201)) and "renew it now" in life.words(NOW + timedelta(days=201))
    assert "EXPIRED" in life.words(NOW + timedelta(days=301)) and "enrol-token" in life.words(NOW + timedelta(days=301))


def test_the_kiosk_says_at_start_in_words_that_its_certificate_expired(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from firmware.assembly import certificate_expiry_words

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=kiosk-hall-01")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - timedelta(days=10)).not_valid_after(NOW - timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path = tmp_path / "device.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    words = certificate_expiry_words(path, now=NOW)
    assert words is not None and "expired on 2026-12-03" in words and "kiosk-provision --redo enrol" in words
    assert certificate_expiry_words(path, now=NOW - timedelta(days=5)) is None
