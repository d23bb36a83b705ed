"""The hash-chained issuance log: written by real result reports over HTTPS, checked by ``kiosk-server verify-log``,
tampered with directly in SQLite (edit, delete, reorder, cut the tail), and appended at the same moment by the
threads of one server on SQLite and by four engines (connection pools, as server processes have) on PostgreSQL."""
from __future__ import annotations

import concurrent.futures
import contextlib
import io
import logging
import sqlite3
import threading
from datetime import datetime

import pytest

from certs.envelope import canonical_json
from server import issuance_log, settlement
from server.cli import main as cli
from server.db import open_database
from server.models import Issuance
from server.schemas import ResultRequest
from tests.support.server_process import write_config_variant
from tests.support.settling import issue_one, report, snapshot

COLUMNS = ("sequence, recorded_at, kiosk_id, transaction_id, document_id, certificate, pages, document_sha256, "
           "outcome, subject_ref, prev_hash, entry_hash")


def verify_log(config) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(["verify-log", "--config", str(config)])
    return code, out.getvalue()


def entries(database, txn: str | None = None) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        where, args = ("WHERE transaction_id = ?", (txn,)) if txn else ("", ())
        return db.execute(f"SELECT {COLUMNS} FROM issuance_log {where} ORDER BY sequence", args).fetchall()


@pytest.fixture(scope="module")
def settled(http_module, dev_dir):
    """Four settled transactions (five documents) on the session's server: printed ×2 copies, refunded, failed,
    printed."""
    done = []
    for copies, outcome, fee, refund in ((2, "printed", 600, 0), (1, "refunded", 0, 300), (1, "failed", 0, 300),
                                         (1, "printed", 300, 0)):
        txn, envelope = issue_one(http_module, dev_dir, copies=copies)
        pages = sum(d["pages"] for d in envelope["manifest"]["documents"]) if outcome == "printed" else 0
        assert report(http_module, txn, outcome, pages=pages, fee=fee, refund=refund).json() == {"settled": True}
        done.append((txn, envelope))
    return done


@pytest.fixture(scope="module")
def http_module(server):
    with server.client() as client:
        yield client


def test_each_document_gets_one_chained_entry_without_personal_data(settled, dev_dir):
    txn, envelope = settled[0]
    rows = entries(dev_dir / "server.db", txn)
    manifest = envelope["manifest"]
    assert [(r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows] == [
        (txn, d["document_id"], d["certificate"], d["pages"], d["sha256"], "printed", manifest["subject_ref"])
        for d in manifest["documents"]]
    assert rows[1][0] == rows[0][0] + 1 and rows[1][10] == rows[0][11]  # the second follows the first
    assert [r[8] for r in entries(dev_dir / "server.db", settled[2][0])] == ["failed"]
    with contextlib.closing(sqlite3.connect(dev_dir / "server.db")) as db:
        names = [n for (f, g) in db.execute("SELECT family_name, given_name FROM residents") for n in (f, g)]
    text = repr(entries(dev_dir / "server.db"))
    assert names and not any(name in text for name in names)


def test_a_repeated_result_adds_nothing(settled, http_module, dev_dir):
    txn, envelope = settled[3]
    before = len(entries(dev_dir / "server.db"))
    pages = envelope["manifest"]["documents"][0]["pages"]
    assert report(http_module, txn, "printed", pages=pages, fee=300).json() == {"settled": True}
    assert report(http_module, txn, "refunded", refund=300).json()["error"]["code"] == "result_conflict"
    assert len(entries(dev_dir / "server.db")) == before


def test_verify_log_passes_an_untouched_log(settled, dev_dir):
    code, out = verify_log(dev_dir / "server.toml")
    assert code == 0, out
    assert out.startswith("issuance log intact:")


def tampered(dev_dir, tmp_path, name: str, *statements: str) -> tuple[int, str]:
    copy = snapshot(dev_dir / "server.db", tmp_path / f"{name}.db")
    with contextlib.closing(sqlite3.connect(copy)) as db:
        for statement in statements:
            db.execute(statement)
        db.commit()
    return verify_log(write_config_variant(dev_dir, f"tamper-{name}", database=str(copy)))


def test_an_edited_entry_is_found(settled, dev_dir, tmp_path):
    first = entries(dev_dir / "server.db", settled[1][0])[0][0]
    code, out = tampered(dev_dir, tmp_path, "edit", f"UPDATE issuance_log SET outcome = 'printed' WHERE sequence = {first}")
    assert code == 1 and f"entry #{first}: its contents do not match its hash" in out


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_next_link(settled, dev_dir, tmp_path):
    from server.issuance_log import HASHED, compute_hash

    row = entries(dev_dir / "server.db", settled[1][0])[0]
    values = dict(zip(HASHED, row[:11]), outcome="printed")
    code, out = tampered(dev_dir, tmp_path, "rehash", f"UPDATE issuance_log SET outcome = 'printed', "
                         f"entry_hash = '{compute_hash(values)}' WHERE sequence = {row[0]}")
    assert code == 1 and f"entry #{row[0] + 1}: does not follow the entry before it" in out


def test_a_deleted_entry_is_found(settled, dev_dir, tmp_path):
    middle = entries(dev_dir / "server.db", settled[1][0])[0][0]
    code, out = tampered(dev_dir, tmp_path, "delete", f"DELETE FROM issuance_log WHERE sequence = {middle}")
    assert code == 1
    assert f"entry #{middle + 1}: expected #{middle} here" in out and "does not follow" in out


def test_reordered_entries_are_found(settled, dev_dir, tmp_path):
    a, b = (entries(dev_dir / "server.db", settled[i][0])[0][0] for i in (1, 2))
    swap = [f"UPDATE issuance_log SET sequence = -1 WHERE sequence = {a}",
            f"UPDATE issuance_log SET sequence = {a} WHERE sequence = {b}",
            f"UPDATE issuance_log SET sequence = {b} WHERE sequence = -1"]
    code, out = tampered(dev_dir, tmp_path, "reorder", *swap)
    assert code == 1 and f"entry #{a}" in out and "reordered" in out


def test_entries_cut_off_the_end_are_found(settled, dev_dir, tmp_path):
    last = max(r[0] for r in entries(dev_dir / "server.db"))
    code, out = tampered(dev_dir, tmp_path, "tail", f"DELETE FROM issuance_log WHERE sequence = {last}")
    assert code == 1 and "log entries (entries deleted)" in out


def test_simultaneous_results_on_sqlite_make_one_chain(server, http_module, dev_dir):
    """Eight results reported at the same moment to the session's server (its worker threads race on SQLite)."""
    issued = [issue_one(http_module, dev_dir) for _ in range(8)]
    head_before = entries(dev_dir / "server.db")[-1][0]

    def settle(item) -> int:
        txn, envelope = item
        with server.client() as client:
            return report(client, txn, "printed", pages=envelope["manifest"]["documents"][0]["pages"],
                          fee=300).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(settle, issued)) == [200] * 8
    rows = [r for r in entries(dev_dir / "server.db") if r[0] > head_before]
    assert sorted(r[3] for r in rows) == sorted(txn for txn, _ in issued)
    assert [r[0] for r in rows] == list(range(head_before + 1, head_before + 9))
    assert verify_log(dev_dir / "server.toml")[0] == 0


def _issued_on(url: str, count: int) -> list:
    """``count`` issued transactions (one document each) on a new database; returns 4 engines on it."""
    engines = [open_database(url) for _ in range(4)]
    with engines[0]() as db:
        for n in range(count):
            manifest = {"subject_ref": "0" * 16, "documents": [{"document_id": f"doc-{n}", "pages": 1, "sha256": "a" * 64,
                                                                  "certificate": "residence_record_copy"}]}
            db.add(Issuance(transaction_id=f"{n:032x}", fingerprint="f", kiosk_id="kiosk-pg-01", session_id="s",
                            quote_id=f"q-{n}", amount_paid=300, total_fee=300, issued_at=datetime(2026, 1, 5),
                            envelope=canonical_json({"manifest": manifest})))
        db.commit()
    return engines


def _settle_from_four_engines(engines, count: int) -> None:
    def settle_share(worker: int) -> None:
        for n in range(worker, count, 4):
            with engines[worker]() as db:
                assert settlement.report_result(db, "kiosk-pg-01", f"{n:032x}", ResultRequest(
                    outcome="printed", pages_printed=1, fee_collected=300, refund_owed=0)) == {"settled": True}

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(settle_share, range(4)))
    with engines[0]() as db:
        result = issuance_log.verify(db)
    for engine in engines:
        engine.kw["bind"].dispose()
    assert result.intact and result.entries == count, result.problems


def test_appenders_that_read_the_same_head_retry_instead_of_forking(postgres, monkeypatch, caplog):
    """Without the queue, four engines read the same head at once (a barrier makes sure): one wins sequence 1,
    the others hit the primary key and settle again on the new head."""
    engines = _issued_on(postgres.create_database("log_collide"), 20)
    first_round, local, real_head = threading.Barrier(4), threading.local(), issuance_log.head

    def head_then_wait(db):
        found = real_head(db)
        if not getattr(local, "waited", False):
            local.waited = True
            first_round.wait(timeout=60)
        return found

    monkeypatch.setattr(issuance_log, "queue_appenders", lambda db: None)
    monkeypatch.setattr(issuance_log, "head", head_then_wait)
    with caplog.at_level(logging.INFO, logger="server.settlement"):
        _settle_from_four_engines(engines, 20)
    assert sum("issuance log head taken" in r.getMessage() for r in caplog.records) >= 3


def test_appenders_queue_on_postgresql(postgres, caplog):
    engines = _issued_on(postgres.create_database("log_queue"), 20)
    with caplog.at_level(logging.INFO, logger="server.settlement"):
        _settle_from_four_engines(engines, 20)
    assert not any("issuance log head taken" in r.getMessage() for r in caplog.records)
