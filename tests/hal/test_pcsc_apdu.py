"""The driver's APDU layer and JPKI application, one class at a time over a scripted transport (no pcscd), and a
hypothesis fuzz of the response handling: whatever the card answers, no crash outside the contract's errors and
never a phantom "PIN ok"."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hal.card.apdu import Command, MalformedResponse, Response, exchange, parse_response, pin_tries_from
from hal.card.contract import CardError, CardKind, Pin, PinBlockedError, digest_info_sha256
from hal.card.jpki import CardApplications, der_total_length, parse_card_number


class ScriptedCard:
    """A transport answering from a script: a list of raw responses, or a function of the command."""

    def __init__(self, answers):
        self.answers = list(answers) if not callable(answers) else answers
        self.sent: list[bytes] = []
        self.buffers: list = []

    def __call__(self, apdu) -> Response:
        self.buffers.append(apdu)
        self.sent.append(bytes(apdu))
        if callable(self.answers):
            return parse_response(self.answers(bytes(apdu)))
        if not self.answers:
            raise CardError("card_reader", "the scripted card has nothing more to say")
        return parse_response(self.answers.pop(0))


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


@pytest.mark.parametrize("command, encoded", [
    (Command(0x00, 0xA4, 0x04, 0x0C, h("D392F000260100000001")), "00A4040C0AD392F000260100000001"),
    (Command(0x00, 0xB0, 0x01, 0x04, le=256), "00B0010400"),
    (Command(0x00, 0x20, 0x00, 0x80), "00200080"),
    (Command(0x80, 0x2A, 0x00, 0x80, bytes(51), le=256), "802A008033" + "00" * 51 + "00"),
    (Command(0x00, 0xB0, 0x00, 0x00, le=65536), "00B00000000000"),
    (Command(0x00, 0xD6, 0x00, 0x00, bytes(300), le=1000), "00D60000" + "00012C" + "00" * 300 + "03E8"),
])
def test_commands_encode_short_or_extended(command, encoded):
    assert command.encode().hex().upper() == encoded


def test_a_pin_goes_into_a_buffer_the_driver_can_wipe():
    pin = Pin("1234")
    assert pin.copy_into(bytearray(b"\x04")) == bytearray(b"\x041234")
    pin.wipe()
    with pytest.raises(ValueError, match="wiped"):
        pin.copy_into(bytearray())


def test_a_command_shows_no_data_in_its_repr():
    assert "31323334" not in repr(Command(0x00, 0x20, 0x00, 0x80, b"1234")).replace(" ", "")
    assert "1234" not in repr(Command(0x00, 0x20, 0x00, 0x80, b"1234"))


def test_responses_parse_and_short_ones_are_refused():
    assert parse_response(h("3082 9000")) == Response(h("3082"), 0x9000)
    assert pin_tries_from(0x63C2) == 2 and pin_tries_from(0x6300) is None and pin_tries_from(0x9000) is None
    for raw in (b"", b"\x90"):
        with pytest.raises(MalformedResponse):
            parse_response(raw)


def test_exchange_follows_61xx_and_6cxx():
    card = ScriptedCard([h("6C05"), h("0102030405 6103"), h("060708 9000")])
    response = exchange(card, Command(0x00, 0xB0, 0x00, 0x00, le=256))
    assert response == Response(h("0102030405060708"), 0x9000)
    assert card.sent == [h("00B0000000"), h("00B0000005"), h("00C0000003")]


def test_der_lengths_and_card_numbers():
    assert der_total_length(h("3082 02C2")) == 0x2C2 + 4
    assert der_total_length(h("3081 80")) == 0x80 + 3
    assert der_total_length(h("3005")) == 7
    assert der_total_length(h("0482 0001")) is None and der_total_length(h("3080")) is None
    assert parse_card_number(b"\x80\x08C0000042") == "C0000042"
    assert parse_card_number(b"\x80\x08C00000") is None and parse_card_number(b"\x80\x02\xff\xfe") is None


def test_the_certificate_is_read_from_its_der_length_in_chunks():
    certificate = b"\x30\x82\x01\x2c" + bytes(range(256)) + bytes(44)  # 4 + 300 bytes

    def card(apdu: bytes) -> bytes:
        if apdu[1] == 0xB0:
            offset, le = (apdu[2] << 8) | apdu[3], apdu[4] or 256
            return certificate[offset:offset + le] + h("9000")
        return h("9000")
    script = ScriptedCard(card)
    assert CardApplications("card_reader", script, read_chunk=128).read_auth_certificate() == certificate
    reads = [(a[2] << 8 | a[3], a[4]) for a in script.sent if a[1] == 0xB0]
    assert reads == [(0, 4), (4, 128), (132, 128), (260, 44)]


@pytest.mark.parametrize("answer, outcome", [
    ("9000", (True, 3)), ("63C2", (False, 2)), ("63C0", (False, 0)),
    ("6983", PinBlockedError), ("6984", PinBlockedError), ("6A82", CardError), ("6700", CardError),
])
def test_verify_answers_map_to_the_contract(answer, outcome):
    script = ScriptedCard([h("9000"), h("9000"), h("63C3"), h(answer)])
    apps = CardApplications("card_reader", script)
    if isinstance(outcome, tuple):
        result = apps.verify_pin(Pin("1234"))
        assert (result.accepted, result.tries_left) == outcome
    else:
        with pytest.raises(outcome) as error:
            apps.verify_pin(Pin("1234"))
        assert error.value.status_word == int(answer, 16) and "1234" not in str(error.value)
    verify = script.buffers[-1]
    assert isinstance(verify, bytearray) and not any(verify)  # the buffer that held the PIN is wiped


@pytest.mark.parametrize("answer", ["63C0", "6983", "6984"])
def test_a_blocked_card_is_never_sent_the_pin(answer):
    script = ScriptedCard([h("9000"), h("9000"), h(answer)])
    with pytest.raises(PinBlockedError):
        CardApplications("card_reader", script).verify_pin(Pin("1234"))
    assert not any(a[1] == 0x20 and len(a) > 4 for a in script.sent)


def test_identification_is_by_application_not_atr():
    assert CardApplications("r", ScriptedCard([h("9000")])).identify() is CardKind.MY_NUMBER
    assert CardApplications("r", ScriptedCard([h("6A82"), h("9000")])).identify() is CardKind.CITIZEN
    assert CardApplications("r", ScriptedCard([h("6A82"), h("6A82")])).identify() is CardKind.UNKNOWN


def test_signing_refuses_anything_but_a_sha256_digest_info_before_the_card_sees_it():
    script = ScriptedCard([])
    with pytest.raises(CardError, match="not a SHA-256 DigestInfo"):
        CardApplications("r", script).sign(bytes(32))
    assert script.sent == []


# -- fuzz: the card may answer anything ----------------------------------------------------------------------------

status_words = st.sampled_from([0x9000, 0x6282, 0x63C0, 0x63C1, 0x63C3, 0x63CF, 0x6300, 0x6700, 0x6982, 0x6983,
                                0x6984, 0x6985, 0x6986, 0x6A82, 0x6A86, 0x6B00, 0x6D00, 0x6E00, 0x6F00, 0x6100,
                                0x6104, 0x6C00, 0x6C04, 0x9001]) | st.integers(0, 0xFFFF)
answers = st.tuples(st.binary(max_size=300), status_words).map(lambda t: t[0] + t[1].to_bytes(2, "big"))


class Recorder(ScriptedCard):
    """Remembers the final status word of every exchange that carried a PIN."""

    def __init__(self, answers):
        super().__init__(answers)
        self.pin_exchange_sws: list[int] = []
        self._in_pin_exchange = False

    def __call__(self, apdu) -> Response:
        raw = bytes(apdu)
        if raw[1] == 0x20 and len(raw) > 4:
            self._in_pin_exchange = True
            self.pin_exchange_sws.append(-1)
        elif raw[1] != 0xC0:  # anything but GET RESPONSE ends the PIN's exchange
            self._in_pin_exchange = False
        response = super().__call__(apdu)
        if self._in_pin_exchange:
            self.pin_exchange_sws[-1] = response.sw
        return response


# A well-behaved start, so that the fuzz reaches the later commands (the PIN itself, the signature, the chunks).
LEADS = {"identify": [], "certificate": ["9000", "9000"], "tries": ["9000", "9000"], "citizen": ["9000", "9000"],
         "verify": ["9000", "9000", "63C3"], "sign": ["9000", "9000"]}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(answers, max_size=12), lead=st.booleans(), operation=st.sampled_from(sorted(LEADS)))
def test_no_answer_crashes_the_driver_or_passes_for_a_right_pin(script, lead, operation):
    card = Recorder([h(sw) for sw in LEADS[operation]] * lead + script)
    apps = CardApplications("card_reader", card)
    try:
        if operation == "identify":
            assert apps.identify() in CardKind
        elif operation == "certificate":
            certificate = apps.read_auth_certificate()
            assert der_total_length(certificate[:6]) == len(certificate)
        elif operation == "tries":
            assert 0 <= apps.pin_tries_left() <= 15
        elif operation == "verify":
            result = apps.verify_pin(Pin("1234"))
            if result.accepted:
                assert card.pin_exchange_sws and card.pin_exchange_sws[-1] == 0x9000
            assert 0 <= result.tries_left <= 15
        elif operation == "sign":
            assert len(apps.sign(digest_info_sha256(b"challenge"))) == 256
        else:
            number = apps.citizen_card_id()
            assert number.isascii() and number.isalnum()
    except CardError as e:
        assert "1234" not in str(e)


@given(raw=st.binary(max_size=600))
def test_the_response_parser_takes_any_bytes(raw):
    try:
        response = parse_response(raw)
    except MalformedResponse:
        assert len(raw) < 2
    else:
        assert response.data + response.sw.to_bytes(2, "big") == raw
