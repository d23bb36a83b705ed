"""The virtual card's chip, command by command, against the published facts (no pcscd): it must be a faithful
peer, or the wire tests of the driver prove nothing."""
from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from hal.card.contract import digest_info_sha256
from hal.card.sim import SimCard
from hal.card.testcards import make_citizen_card, make_test_card, make_unknown_card, write_card_file
from hal.card.vcard.card import VirtualCard, contactless_atr

SELECT_JPKI = "00A4040C0AD392F000260100000001"


def send(card: VirtualCard, text: str) -> tuple[bytes, str]:
    answer = card.process(bytes.fromhex(text.replace(" ", "")))
    return answer[:-2], answer[-2:].hex().upper()


def test_the_jpki_ap_answers_by_aid_and_other_cards_say_6a82():
    assert send(VirtualCard(make_test_card()), SELECT_JPKI)[1] == "9000"
    assert send(VirtualCard(make_citizen_card()), SELECT_JPKI)[1] == "6A82"
    assert send(VirtualCard(make_unknown_card()), SELECT_JPKI)[1] == "6A82"
    card = VirtualCard(make_test_card())
    assert send(card, "00A4020C02000A")[1] == "6A82"  # no AP selected yet
    send(card, SELECT_JPKI)
    assert send(card, "00A4020C020099")[1] == "6A82"


def test_the_certificate_reads_at_offsets_and_over_reading_gets_6cxx():
    sim = make_test_card()
    card = VirtualCard(sim)
    send(card, SELECT_JPKI)
    send(card, "00A4020C02000A")
    head, sw = send(card, "00B0000004")
    assert sw == "9000" and head == sim.certificate[:4]
    total = len(sim.certificate)
    tail_offset = total - 10
    _, sw = send(card, f"00B0{tail_offset:04X}00")
    assert sw == "6C0A"
    data, sw = send(card, f"00B0{tail_offset:04X}0A")
    assert sw == "9000" and data == sim.certificate[-10:]
    assert send(card, f"00B0{total:04X}01")[1] == "6B00"
    x509.load_der_x509_certificate(sim.certificate)


def test_verify_without_data_spends_nothing_and_a_blocked_card_answers_its_variant():
    sim = make_test_card(pin="1234", tries_left=2)
    card = VirtualCard(sim, blocked_sw=0x6984)
    send(card, SELECT_JPKI)
    send(card, "00A4020C020018")
    assert [send(card, "00200080")[1] for _ in range(3)] == ["63C2"] * 3
    assert send(card, "0020008004" + b"0000".hex())[1] == "63C1"
    assert send(card, "0020008004" + b"0000".hex())[1] == "63C0"  # the last try spent: now blocked
    assert sim.tries_left == 0
    assert send(card, "00200080")[1] == "6984" and send(card, "0020008004" + b"1234".hex())[1] == "6984"
    assert sim.tries_left == 0


def test_signing_pads_pkcs1_itself_and_needs_the_pin_of_this_session():
    sim = make_test_card(pin="1234")
    card = VirtualCard(sim)
    public_key = x509.load_der_x509_certificate(sim.certificate).public_key()
    digest_info = digest_info_sha256(b"challenge")
    sign = "802A008033" + digest_info.hex() + "00"
    send(card, SELECT_JPKI)
    send(card, "00A4020C020017")
    assert send(card, sign)[1] == "6982"
    send(card, "00A4020C020018")
    assert send(card, "0020008004" + b"1234".hex())[1] == "9000"
    send(card, "00A4020C020017")
    signature, sw = send(card, sign)
    assert sw == "9000" and len(signature) == 256
    public_key.verify(signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())
    send(card, "00A4020C020018")
    send(card, "0020008004" + b"9999".hex())  # a wrong PIN withdraws the right one
    send(card, "00A4020C020017")
    assert send(card, sign)[1] == "6982"
    card.power_on()
    assert send(card, sign)[1] == "6986"  # a new session: nothing selected


def test_a_chained_card_hands_long_answers_out_through_get_response():
    sim = make_test_card()
    card = VirtualCard(sim, chained=True)
    send(card, SELECT_JPKI)
    send(card, "00A4020C02000A")
    data, sw = send(card, "00B0000000")
    assert data == b"" and sw == "6100"
    part, sw = send(card, "00C0000080")
    assert part == sim.certificate[:128] and sw == "6180"
    rest, sw = send(card, "00C0000080")
    assert rest == sim.certificate[128:256] and sw == "9000"


def test_the_citizen_card_number_and_the_card_variants():
    card = VirtualCard(make_citizen_card("C0000042"))
    assert send(card, "00A4040C09F0" + b"CITYCARD".hex())[1] == "9000"
    send(card, "00A4020C020001")
    assert send(card, "00B0000000")[1] == "6C0A"
    assert send(card, "00B000000A") == (b"\x80\x08C0000042", "9000")
    assert VirtualCard(make_citizen_card(), atr=bytes.fromhex("3B00")).atr() == bytes.fromhex("3B00")
    atr = contactless_atr(b"CITYCARD")
    assert atr[:4] == bytes.fromhex("3B888001") and len(atr) == 13
    with pytest.raises(ValueError):
        VirtualCard(make_test_card(), blocked_sw=0x6A82)


def test_malformed_commands_get_6700_and_unknown_ones_6d00_or_6e00():
    card = VirtualCard(make_test_card())
    assert send(card, "00A4")[1] == "6700"
    assert send(card, "00A4040C0AD392")[1] == "6700"  # Lc says 10, 3 bytes came
    assert send(card, "0084000008")[1] == "6D00"
    assert send(card, "A0A4000002")[1] == "6E00"


def test_the_counter_is_written_back_to_the_card_file(tmp_path):
    path = write_card_file(make_test_card(pin="1234"), tmp_path, "resident")
    card = VirtualCard(SimCard.load(path))
    send(card, SELECT_JPKI)
    send(card, "00A4020C020018")
    send(card, "0020008004" + b"0000".hex())
    assert SimCard.load(path).tries_left == 2
    assert all(len(entry) == 6 for entry in card.journal) and (0x00, 0x20, 0x00, 0x80, 4, None) in card.journal


# -- the signature side of the JPKI AP (OpenSC's jpki driver binds only when it is there) --------------------------

SIGN_PIN = "ABC123"


def test_the_signature_pin_ef_001b_answers_its_counter_of_five_and_spends_nothing():
    card = VirtualCard(make_test_card(sign_pin=SIGN_PIN))
    send(card, SELECT_JPKI)
    assert send(card, "00A4020C02001B")[1] == "9000"
    assert [send(card, "00200080")[1] for _ in range(2)] == ["63C5"] * 2
    assert send(card, "0020008006" + b"XYZ999".hex())[1] == "63C4"
    assert send(card, "0020008006" + SIGN_PIN.encode().hex())[1] == "9000"
    assert send(card, "00200080")[1] == "63C5"  # the right password restores five tries
    send(card, "00A4020C020018")
    assert send(card, "00200080")[1] == "63C3"  # the auth PIN has its own counter


def test_the_signature_certificate_needs_the_signature_pin_and_its_ca_does_not():
    sim = make_test_card(pin="1234", sign_pin=SIGN_PIN)
    card = VirtualCard(sim)
    send(card, SELECT_JPKI)
    assert send(card, "00A4020C020002")[1] == "9000"
    assert send(card, "00B0000004") == (sim.sign_certificate[:4], "9000")
    assert send(card, "00A4020C020001")[1] == "9000"
    assert send(card, "00B0000004")[1] == "6982"
    send(card, "00A4020C020018")
    send(card, "0020008004" + b"1234".hex())  # the auth PIN does not open it
    send(card, "00A4020C020001")
    assert send(card, "00B0000004")[1] == "6982"
    send(card, "00A4020C02001B")
    send(card, "0020008006" + SIGN_PIN.encode().hex())
    send(card, "00A4020C020001")
    assert send(card, "00B0000004") == (sim.sign_certificate[:4], "9000")
    assert sim.sign_certificate != sim.certificate
    x509.load_der_x509_certificate(sim.sign_certificate)


def test_the_signature_key_signs_after_the_signature_pin_only():
    sim = make_test_card(pin="1234", sign_pin=SIGN_PIN)
    card = VirtualCard(sim)
    sign = "802A008033" + digest_info_sha256(b"document").hex() + "00"
    send(card, SELECT_JPKI)
    send(card, "00A4020C020018")
    send(card, "0020008004" + b"1234".hex())
    send(card, "00A4020C02001A")
    assert send(card, sign)[1] == "6982"  # the auth PIN is not the signature PIN
    send(card, "00A4020C02001B")
    assert send(card, "0020008006" + SIGN_PIN.encode().hex())[1] == "9000"
    send(card, "00A4020C02001A")
    signature, sw = send(card, sign)
    assert sw == "9000" and len(signature) == 256
    public_key = x509.load_der_x509_certificate(sim.sign_certificate).public_key()
    public_key.verify(signature, b"document", padding.PKCS1v15(), hashes.SHA256())


def test_the_signature_pin_counter_is_written_back_and_a_card_without_a_signature_side_keeps_it(tmp_path):
    path = write_card_file(make_test_card(sign_pin=SIGN_PIN), tmp_path, "resident")
    card = VirtualCard(SimCard.load(path))
    send(card, SELECT_JPKI)
    send(card, "00A4020C02001B")
    send(card, "0020008006" + b"XYZ999".hex())
    loaded = SimCard.load(path)
    assert loaded.sign_tries_left == 4 and loaded.tries_left == 3 and loaded.sign_pin == SIGN_PIN
    bare = VirtualCard(make_test_card(sign_pin=None))  # no signature certificate was issued on this card
    send(bare, SELECT_JPKI)
    assert send(bare, "00A4020C02001B")[1] == "9000" and send(bare, "00200080")[1] == "63C5"
    assert send(bare, "0020008006" + SIGN_PIN.encode().hex())[1] == "63C4"
    assert send(bare, "00A4020C020001")[1] == "6A82" and send(bare, "00A4020C02001A")[1] == "6A82"
