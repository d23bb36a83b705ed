"""Drive whole transactions through the REAL server for settlement tests: sign in, quote, issue, report.

    txn, envelope = issue_one(http, dev_dir, copies=2)          # resident-a's 住民票の写し, paid exactly
    report(http, txn, "printed", pages=2, fee=600)              # the kiosk's result report
"""
from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import httpx

from tests.support.server_process import sign_in

RESIDENCE = "residence_record_copy"


def issue_one(http: httpx.Client, dev_dir: str | Path, *, copies: int = 1, card: str = "resident-a",
              kiosk_id: str = "kiosk-dev-01") -> tuple[str, dict]:
    """One paid issuance; returns (transaction id, envelope)."""
    session = sign_in(http, dev_dir, card, kiosk_id)
    headers = {"Authorization": f"Bearer {session['session_token']}"}
    quote = http.post("/v1/quotes", headers=headers, json={"certificate": RESIDENCE, "copies": copies})
    assert quote.status_code == 200, quote.text
    txn = secrets.token_hex(16)
    issued = http.post("/v1/issuances", headers=headers, json={"transaction_id": txn, "quote_id": quote.json()[
        "quote_id"], "amount_paid": quote.json()["total_fee"]})
    assert issued.status_code == 201, issued.text
    return txn, issued.json()


def report(http: httpx.Client, txn: str, outcome: str, *, pages: int = 0, fee: int = 0, refund: int = 0,
           reason: str | None = None) -> httpx.Response:
    return http.post(f"/v1/issuances/{txn}/result", json={"outcome": outcome, "pages_printed": pages,
                                                          "fee_collected": fee, "refund_owed": refund,
                                                          "reason": reason})


def snapshot(database: str | Path, target: str | Path) -> Path:
    """A consistent copy of a live SQLite database (the backup API, safe while the server writes)."""
    source, copy = sqlite3.connect(database), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return Path(target)
