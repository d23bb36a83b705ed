"""The hash-chained issuance log: written by real result reports over HTTPS, checked by ``kiosk-server verify-log``,
tampered with directly in SQLite (edit, delete, reorder, cut the tail), and appended at the same moment by the
threads of one server on SQLite and by two server processes sharing one PostgreSQL database."""
from __future__ import annotations

import concurrent.futures
import contextlib
import io
import sqlite3

import pytest

from server.cli import main as cli
from tests.support.server_process import start_server, write_config_variant
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


def settle_on_two_processes(dev_dir, config, count: int = 8) -> list[str]:
    """Two server processes on one database; ``count`` results reported to both at the same moment."""
    servers = [start_server(dev_dir, config=config) for _ in range(2)]
    try:
        clients = [s.client() for s in servers]
        issued = [(clients[n % 2], *issue_one(clients[n % 2], dev_dir)) for n in range(count)]

        def settle(item) -> int:
            client, txn, envelope = item
            return report(client, txn, "printed", pages=envelope["manifest"]["documents"][0]["pages"],
                          fee=300).status_code

        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            assert list(pool.map(settle, issued)) == [200] * count
        for client in clients:
            client.close()
    finally:
        for s in servers:
            s.stop()
    retries = sum(s.log_text().count("issuance log head taken") for s in servers)
    print(f"settlements retried on a new log head: {retries}")
    return sorted(txn for _, txn, _ in issued)


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


def test_two_server_processes_append_to_one_chain_on_postgresql(dev_dir, postgres):
    """The same on PostgreSQL, where the two appenders really race: the loser of a sequence number retries."""
    config = write_config_variant(dev_dir, "two-processes-pg", database_url=postgres.create_database("log_chain"))
    settle_on_two_processes(dev_dir, config)
    code, out = verify_log(config)
    assert code == 0 and "intact: 8 entries" in out, out
