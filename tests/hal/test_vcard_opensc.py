"""Standard middleware against the virtual card: OpenSC (Debian's ``opensc``, which scripts/bootstrap.sh installs)
binds its ``jpki`` driver to the card served by the real pcscd through vpcd, lists its certificates and signs.

OpenSC reads what a real JPKI card holds (card-jpki.c, pkcs15-jpki.c): both PIN counters (EF 0018 and 001B) when it
binds, the four certificates 000A/0001/000B/0002 (0001 only after the signature password), and it signs with
``80 2A 00 80`` after VERIFY of the key's PIN.  If the virtual card were less than the real one, these tools would
say so; the kiosk's own driver reads only the authentication side and could not.

The PINs on the command lines are the synthetic test cards' (``1234`` and ``ABC123``), never a resident's.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from hal.card.sim import SimCard
from hal.card.testcards import make_test_card, write_card_file
from tests.support.pcsc import IN_CI, READERS, require_pcsc_world

SLOT = 0
PKCS11_MODULES = tuple(Path(f"/usr/lib/{arch}opensc-pkcs11.so") for arch in (
    "x86_64-linux-gnu/", "aarch64-linux-gnu/", "arm-linux-gnueabihf/", ""))
AUTH_TOKEN, SIGN_TOKEN = "JPKI (User Authentication PIN)", "JPKI (Digital Signature PIN)"
SIGN_PIN = "ABC123"
SIGN = 0x2A


def _module() -> Path | None:
    return next((m for m in PKCS11_MODULES if m.exists()), None)


@pytest.fixture
def opensc():
    if shutil.which("pkcs15-tool") is None or shutil.which("pkcs11-tool") is None or _module() is None:
        message = "OpenSC is not installed (apt-get install opensc)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return _module()


@pytest.fixture
def place(tmp_path):
    """Put one card on slot 0 (and none on slot 1, so OpenSC sees a single JPKI token), wait until pcscd sees it."""
    world = require_pcsc_world()
    for slot in range(len(READERS)):
        world.card("lift", slot=slot)
        world.wait_for_no_card(READERS[slot])

    def put(card):
        path = write_card_file(card, tmp_path / "cards", "resident")
        world.card("place", slot=SLOT, card=str(path))
        world.wait_for_card(READERS[SLOT])
        return path

    yield put
    world.card("lift", slot=SLOT)
    world.wait_for_no_card(READERS[SLOT])


def tool(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if ok:
        assert done.returncode == 0, f"{args[0]} {args[1:3]}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def pkcs15(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    return tool("pkcs15-tool", "--reader", READERS[SLOT], *args, ok=ok)


def pkcs11(module: Path, token: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    return tool("pkcs11-tool", "--module", str(module), "--token-label", token, *args, ok=ok)


def card_state() -> dict:
    return require_pcsc_world().card("state", slot=SLOT)


def signs_seen() -> int:
    commands = require_pcsc_world().card("journal", slot=SLOT)["commands"]
    return sum(1 for c in commands if (c[0], c[1], c[2], c[3]) == (0x80, SIGN, 0x00, 0x80))


def pem_der(text: str) -> bytes:
    return x509.load_pem_x509_certificate(text.encode("ascii")).public_bytes(Encoding.DER)


def test_pkcs15_tool_binds_to_a_card_without_a_signature_certificate_and_reads_both_counters(opensc, place):
    card = make_test_card(pin="1234", tries_left=2, sign_tries_left=4)
    place(card)
    listed = pkcs15("--list-certificates").stdout
    assert re.findall(r"X\.509 Certificate \[(.+)\]", listed) == [
        "User Authentication Certificate", "Digital Signature Certificate",
        "User Authentication Certificate CA", "Digital Signature Certificate CA"]
    assert pem_der(pkcs15("--read-certificate", "01").stdout) == card.certificate
    pins = pkcs15("--list-pins").stdout
    assert re.findall(r"Tries left\s*:\s*(-?\d+)", pins) == ["2", "4"]  # the card's counters, not the defaults
    assert (card_state()["tries_left"], card_state()["sign_tries_left"]) == (2, 4)  # reading them spent nothing


def test_pkcs11_lists_the_certificates_and_signs_with_the_authentication_key(opensc, place, tmp_path):
    card = make_test_card(pin="1234", sign_pin=SIGN_PIN)
    place(card)
    objects = pkcs11(opensc, AUTH_TOKEN, "--list-objects").stdout
    assert set(re.findall(r"Certificate Object; type = X\.509 cert\n\s+label:\s+(.+)\n", objects)) == {
        "User Authentication Certificate", "User Authentication Certificate CA", "Digital Signature Certificate CA"}
    pkcs11(opensc, AUTH_TOKEN, "--read-object", "--type", "cert", "--id", "01", "-o", str(tmp_path / "auth.der"))
    assert (tmp_path / "auth.der").read_bytes() == card.certificate
    pkcs11(opensc, AUTH_TOKEN, "--read-object", "--type", "cert", "--id", "04", "-o", str(tmp_path / "ca.der"))
    assert (tmp_path / "ca.der").read_bytes() == card.sign_certificate

    data = tmp_path / "challenge"
    data.write_bytes(b"kiosk challenge 0001")
    pkcs11(opensc, AUTH_TOKEN, "--login", "--pin", "1234", "--sign", "--id", "01", "-m", "SHA256-RSA-PKCS",
           "-i", str(data), "-o", str(tmp_path / "sig"))
    signature = (tmp_path / "sig").read_bytes()
    public_key = x509.load_der_x509_certificate(card.certificate).public_key()
    public_key.verify(signature, data.read_bytes(), padding.PKCS1v15(), hashes.SHA256())  # raises if not
    assert signs_seen() == 1 and card_state()["tries_left"] == 3


def test_pkcs11_signs_with_the_signature_key_after_the_signature_password(opensc, place, tmp_path):
    card = make_test_card(pin="1234", sign_pin=SIGN_PIN)
    path = place(card)
    pkcs11(opensc, SIGN_TOKEN, "--login", "--pin", SIGN_PIN, "--read-object", "--type", "cert", "--id", "02",
           "-o", str(tmp_path / "sign.der"))
    assert (tmp_path / "sign.der").read_bytes() == card.sign_certificate  # private: read after the password

    data = tmp_path / "document"
    data.write_bytes(b"an application form")
    pkcs11(opensc, SIGN_TOKEN, "--login", "--pin", SIGN_PIN, "--sign", "--id", "02", "-m", "SHA256-RSA-PKCS",
           "-i", str(data), "-o", str(tmp_path / "sig"))
    public_key = x509.load_der_x509_certificate(card.sign_certificate).public_key()
    public_key.verify((tmp_path / "sig").read_bytes(), data.read_bytes(), padding.PKCS1v15(), hashes.SHA256())

    wrong = pkcs11(opensc, SIGN_TOKEN, "--login", "--pin", "XYZ999", "--sign", "--id", "02", "-m", "SHA256-RSA-PKCS",
                   "-i", str(data), "-o", str(tmp_path / "sig2"), ok=False)
    assert wrong.returncode != 0 and "CKR_PIN_INCORRECT" in wrong.stderr
    assert signs_seen() == 1
    assert (card_state()["sign_tries_left"], card_state()["tries_left"]) == (4, 3)  # one try spent, on the card
    assert SimCard.load(path).sign_tries_left == 4  # and written back, like the chip's EEPROM
