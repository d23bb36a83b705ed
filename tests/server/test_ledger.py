"""Settlement and the per-kiosk ledger over the real HTTPS server: each result report becomes one ledger row on
the day in Japan, repeated reports count once, inconsistent ones are refused, and ``kiosk-server ledger``
prints fees earned, refunds and what is still unsettled."""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import sqlite3

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from server.cli import main as cli
from server.devinit import issue_kiosk_certificate
from tests.support.settling import issue_one, report

KIOSK = "kiosk-ledger-01"


@pytest.fixture(scope="module")
def ledger_kiosk(server, dev_dir):
    """A kiosk of its own, so its ledger holds only this module's transactions."""
    tls = dev_dir / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca-key.pem").read_bytes(), password=None)
    issue_kiosk_certificate(tls, KIOSK, ca, ca_key)
    with server.client(kiosk_id=KIOSK) as client:
        yield client


def ledger(dev_dir, *args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli(["ledger", "--config", str(dev_dir / "server.toml"), "--kiosk", KIOSK, *args]) == 0
    return out.getvalue()


def ledger_rows(dev_dir) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(dev_dir / "server.db")) as db:
        return db.execute("SELECT outcome, documents, total_fee, fee_earned, refunded FROM ledger_entries "
                          "WHERE kiosk_id = ? ORDER BY recorded_at, transaction_id", (KIOSK,)).fetchall()


def test_results_settle_into_the_kiosks_daily_ledger(ledger_kiosk, dev_dir):
    http = ledger_kiosk
    printed, _ = issue_one(http, dev_dir, copies=2, kiosk_id=KIOSK)
    refunded, _ = issue_one(http, dev_dir, kiosk_id=KIOSK)
    issue_one(http, dev_dir, kiosk_id=KIOSK)  # issued, never reported: unsettled
    assert report(http, printed, "printed", pages=2, fee=600).json() == {"settled": True}
    assert report(http, refunded, "refunded", refund=300, reason="print_failed").json() == {"settled": True}
    assert report(http, printed, "printed", pages=2, fee=600).json() == {"settled": True}  # a retry: once only
    assert sorted(ledger_rows(dev_dir)) == [("printed", 2, 600, 600, 0), ("refunded", 1, 300, 0, 300)]

    today_jst = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=9)).date().isoformat()
    rows = list(csv.DictReader(io.StringIO(ledger(dev_dir, "--format", "csv"))))
    assert rows == [{"kiosk_id": KIOSK, "day": today_jst, "transactions": "2", "fees_earned": "600",
                     "refunded": "300", "net": "300"}]
    text = ledger(dev_dir)
    assert f"| {KIOSK} | {today_jst} | 2 | 600 | 300 | 300 |" in text
    assert f"not yet settled (no result report): {KIOSK}: 1" in text
    assert ledger(dev_dir, "--format", "csv", "--from", "2000-01-01", "--to", "2000-12-31").strip() == \
        "kiosk_id,day,transactions,fees_earned,refunded,net"


def test_inconsistent_or_foreign_results_settle_nothing(ledger_kiosk, http, dev_dir):
    txn, _ = issue_one(ledger_kiosk, dev_dir, kiosk_id=KIOSK)
    before = ledger_rows(dev_dir)
    too_much = report(ledger_kiosk, txn, "printed", pages=1, fee=301)
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "result_inconsistent"
    refund = report(ledger_kiosk, txn, "refunded", refund=10_000)
    assert refund.status_code == 422 and refund.json()["error"]["code"] == "result_inconsistent"
    other_kiosk = report(http, txn, "printed", pages=1, fee=300)  # kiosk-dev-01 reporting kiosk-ledger-01's
    assert other_kiosk.status_code == 404 and other_kiosk.json()["error"]["code"] == "transaction_unknown"
    assert ledger_rows(dev_dir) == before
    assert report(ledger_kiosk, txn, "printed", pages=1, fee=300).json() == {"settled": True}
    assert len(ledger_rows(dev_dir)) == len(before) + 1
