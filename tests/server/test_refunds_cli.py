"""Refunds owed, over the REAL server and its command line, on SQLite and PostgreSQL: a refund reported by a kiosk
is listed (``kiosk-server refunds``), its slip verifies (``kiosk-server verify``) while a slip with a changed
amount is rejected, staff mark it paid once (``kiosk-server refund-paid``; a second time is refused), and a
genuine slip whose refund never reached the books can be paid on the slip itself."""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import secrets
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs.enrolment_payload import parse_payload
from provisioning.enrolment import enrol
from firmware.refund_slip import build_slip, load_device_key, render_slip
from server.cli import main as cli
from server.devinit import issue_kiosk_certificate
from tests.support.refund_slips import paper, tampered
from tests.support.server_process import REPO, start_server, write_config_variant
from tests.support.settling import issue_one, report

KIOSK = "kiosk-refund-01"
STAFF = "staff-0042"


def new_kiosk(dev_dir, kiosk_id: str) -> None:
    tls = dev_dir / "tls"
    if not (tls / f"{kiosk_id}.pem").exists():
        ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
        ca_key = serialization.load_pem_private_key((tls / "ca-key.pem").read_bytes(), password=None)
        issue_kiosk_certificate(tls, kiosk_id, ca, ca_key)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def books(request, dev_dir):
    """(server process, its configuration) on a database of this module's own."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database("refunds")
    else:
        url = f"sqlite:///{dev_dir / 'refunds.db'}"
    new_kiosk(dev_dir, KIOSK)
    config = write_config_variant(dev_dir, f"refunds-{request.param}", database_url=url)
    process = start_server(dev_dir, config=config)
    yield process, config
    process.stop()


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(list(argv))
    return code, out.getvalue(), err.getvalue()


def refunds(config, *args: str) -> list[dict]:
    code, out, err = run("refunds", "--config", str(config), "--format", "csv", *args)
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


def slip_for(dev_dir, txn: str, amount: int, kiosk_id: str = KIOSK):
    key = load_device_key(dev_dir / "tls" / f"{kiosk_id}-key.pem")
    return build_slip(txn, amount, kiosk_id, dt.datetime.now(dt.timezone.utc), key)


def refunded(server, dev_dir, amount: int = 300, kiosk_id: str = KIOSK) -> str:
    """A transaction issued, then refunded: the kiosk reports ``amount`` yen owed."""
    with server.client(kiosk_id=kiosk_id) as http:
        txn, _ = issue_one(http, dev_dir, kiosk_id=kiosk_id)
        assert report(http, txn, "refunded", refund=amount, reason="print_failed").json() == {"settled": True}
    return txn


def test_a_reported_refund_is_listed_verified_and_paid_once(books, dev_dir):
    server, config = books
    txn = refunded(server, dev_dir)
    slip = slip_for(dev_dir, txn, 300)
    listed = [r for r in refunds(config, "--kiosk", KIOSK) if r["transaction_id"] == txn]
    assert len(listed) == 1 and listed[0]["reference"] == slip.reference and listed[0]["amount"] == "300"
    assert listed[0]["reported_at"] and listed[0]["paid_at"] == listed[0]["paid_by"] == ""

    code, out, _ = run("verify", "--config", str(config), slip.code)
    assert code == 0 and out.startswith("GENUINE refund slip"), out
    assert "amount     300 yen" in out and txn in out and "owed, not yet paid" in out and "payable    yes" in out

    code, out, err = run("refund-paid", "--config", str(config), "--reference", slip.reference.lower().replace("-", " "),
                         "--staff", STAFF)
    assert code == 0, err
    assert f"refund of 300 yen paid: {slip.reference} txn {txn} from {KIOSK}, by {STAFF}" in out
    code, out, err = run("refund-paid", "--config", str(config), "--txn", txn, "--staff", "staff-0043")
    assert (code, out) == (2, "") and err.startswith("kiosk-server refund-paid: ") and "already paid" in err
    assert STAFF in err

    assert txn not in {r["transaction_id"] for r in refunds(config, "--kiosk", KIOSK)}  # --open is the default
    paid = [r for r in refunds(config, "--all") if r["transaction_id"] == txn]
    assert len(paid) == 1 and paid[0]["paid_by"] == STAFF and paid[0]["paid_at"]
    code, out, _ = run("verify", "--config", str(config), slip.code)
    assert code == 0 and "ALREADY PAID" in out and "payable    NO" in out


def test_a_slip_with_a_changed_amount_is_rejected_and_cannot_be_paid(books, dev_dir):
    server, config = books
    txn = refunded(server, dev_dir, amount=300)
    forged = tampered(slip_for(dev_dir, txn, 300).code, a=3000)
    code, out, _ = run("verify", "--config", str(config), forged)
    assert code == 1 and out.startswith("NOT GENUINE"), out
    assert "3000 yen (as the slip claims)" in out and "signature does not match the slip's contents" in out
    code, out, err = run("refund-paid", "--config", str(config), "--slip", forged, "--staff", STAFF)
    assert code == 2 and "not payable" in err and "NOT GENUINE" in err
    assert [r["paid_at"] for r in refunds(config, "--all") if r["transaction_id"] == txn] == [""]


def test_the_slips_photo_verifies_too(books, dev_dir, tmp_path):
    server, config = books
    slip = slip_for(dev_dir, refunded(server, dev_dir, amount=120), 120)
    photo = tmp_path / "slip.png"
    paper(render_slip(slip, 640, 203)).save(photo)
    for argv in (["--image", str(photo)], [str(photo)]):
        code, out, _ = run("verify", "--config", str(config), *argv)
        assert code == 0 and out.startswith("GENUINE") and "amount     120 yen" in out, out
    text = tmp_path / "scanned.txt"
    text.write_text(slip.code + "\n")
    assert run("verify", "--config", str(config), str(text))[0] == 0


def test_a_genuine_slip_not_in_the_books_is_paid_on_the_slip(books, dev_dir):
    server, config = books
    refunded(server, dev_dir)  # the server keeps this kiosk's certificate from a refund report
    slip = slip_for(dev_dir, secrets.token_hex(16), 500)  # its issue request never reached the server
    code, out, _ = run("verify", "--config", str(config), slip.code)
    assert code == 0 and "not in the books yet" in out and "payable    yes" in out
    assert run("refund-paid", "--config", str(config), "--txn", slip.transaction_id, "--staff", STAFF)[0] == 2
    code, out, err = run("refund-paid", "--config", str(config), "--slip", slip.code, "--staff", STAFF)
    assert code == 0, err
    assert run("refund-paid", "--config", str(config), "--slip", slip.code, "--staff", STAFF)[0] == 2
    paid = [r for r in refunds(config, "--all") if r["transaction_id"] == slip.transaction_id]
    assert [(r["amount"], r["reported_at"], r["paid_by"]) for r in paid] == [("500", "", STAFF)]


def test_a_slip_of_a_kiosk_the_server_holds_no_certificate_of_needs_one_from_the_city(books, dev_dir, tmp_path):
    _, config = books
    kiosk = "kiosk-refund-02"
    new_kiosk(dev_dir, kiosk)
    slip = slip_for(dev_dir, secrets.token_hex(16), 200, kiosk)
    code, out, _ = run("verify", "--config", str(config), slip.code)
    assert code == 1 and "holds no certificate of kiosk-refund-02" in out
    cert = str(dev_dir / "tls" / f"{kiosk}.pem")
    code, out, _ = run("verify", "--config", str(config), "--certificate", cert, slip.code)
    assert code == 0 and out.startswith("GENUINE"), out
    code, out, _ = run("verify", "--config", str(config), "--certificate", str(dev_dir / "tls" / "server.pem"),
                       slip.code)
    assert code == 1 and "not kiosk-refund-02's: ignored" in out


def test_a_slip_signed_by_a_revoked_kiosk_is_not_genuine(books, dev_dir):
    server, config = books
    kiosk = "kiosk-refund-03"
    new_kiosk(dev_dir, kiosk)
    txn = refunded(server, dev_dir, kiosk_id=kiosk)
    slip = slip_for(dev_dir, txn, 300, kiosk)
    assert run("verify", "--config", str(config), slip.code)[0] == 0
    assert run("revoke-kiosk", "--config", str(config), "--kiosk-id", kiosk, "--staff", STAFF,
               "--reason", "stolen")[0] == 0
    code, out, _ = run("verify", "--config", str(config), slip.code)
    assert code == 1 and "revoked at" in out and "owed, not yet paid" in out and "payable    NO" in out


def test_two_clerks_paying_the_same_refund_at_once_pay_it_once(books, dev_dir):
    server, config = books
    txn = refunded(server, dev_dir)
    command = [sys.executable, "-m", "server.cli", "refund-paid", "--config", str(config), "--txn", txn, "--staff"]
    clerks = [subprocess.Popen([*command, f"staff-00{n}"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for n in (51, 52)]
    results = [(p.wait(60), p.stderr.read()) for p in clerks]
    for p in clerks:
        p.stdout.close(), p.stderr.close()
    assert sorted(code for code, _ in results) == [0, 2], results
    assert "paid" in next(err for code, err in results if code == 2)
    assert len([r for r in refunds(config, "--all") if r["transaction_id"] == txn]) == 1


def test_refusals_say_why_and_change_nothing(books):
    _, config = books
    before = refunds(config, "--all")
    for argv, why in ((["--txn", "nothex", "--staff", STAFF], "32 lowercase hex"),
                      (["--txn", "0" * 32, "--staff", STAFF], "no refund owed is recorded"),
                      (["--reference", "AAAA-BBBB-CCC0", "--staff", STAFF], "12 characters"),
                      (["--txn", "0" * 32, "--staff", "Taro Yamada"], "staff id")):
        code, out, err = run("refund-paid", "--config", str(config), *argv)
        assert (code, out) == (2, "") and err.startswith("kiosk-server refund-paid: ") and why in err, err
    assert run("verify", "--config", str(config), "KRS1.garbage")[0] == 1
    assert refunds(config, "--all") == before
    code, out, _ = run("refunds", "--config", str(config))
    assert code == 0 and out.startswith("# Refunds owed, not yet paid") and "yen still to pay" in out


def test_an_enrolled_kiosks_slip_verifies_before_it_reports_any_refund(books, tmp_path):
    server, config = books
    code, payload, _ = run("enrol-token", "--config", str(config), "--kiosk-id", "kiosk-refund-04", "--staff", STAFF)
    assert code == 0
    key_pem, _ = enrol(server.url, server.ca, parse_payload(payload).token, "kiosk-refund-04")
    key = serialization.load_pem_private_key(key_pem, password=None)
    slip = build_slip(secrets.token_hex(16), 700, "kiosk-refund-04", dt.datetime.now(dt.timezone.utc), key)
    code, out, _ = run("verify", "--config", str(config), slip.code)
    assert code == 0 and out.startswith("GENUINE") and "not in the books yet" in out, out
    forged = build_slip(slip.transaction_id, 700, "kiosk-refund-04", dt.datetime.now(dt.timezone.utc),
                        load_device_key(server.dev_dir / "tls" / f"{KIOSK}-key.pem"))  # another kiosk's key
    assert run("verify", "--config", str(config), forged.code)[0] == 1

