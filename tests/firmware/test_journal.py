"""The journal: durable settings, schema versioning, de-duplicated credits, the id/code-only gate, balances and
summaries."""
import asyncio
import sqlite3
from datetime import date, datetime, timedelta, timezone

import pytest

from firmware.cashier import Cashier
from firmware.journal import Journal, JournalError, JournalSchemaError
from hal.coins import DispenseResult
from hal.coins.sim import SimCoinAcceptor, SimHopper
from hal.notes.sim import SimNoteValidator

TXN = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.db")
    yield j
    j.close()


def quoted(journal, txn=TXN, fee=300):
    journal.open(txn, kiosk_id="kiosk-01")
    journal.quote(txn, certificate="residence_record", copies=1, fee=fee)
    return txn


def test_opens_in_wal_mode_with_full_sync_and_a_schema_version(tmp_path):
    j = Journal(tmp_path / "j.db")
    assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert j._db.execute("PRAGMA user_version").fetchone()[0] == 2
    j.close()


def test_a_version_1_journal_is_migrated_in_place_and_keeps_its_records(tmp_path):
    from firmware import journal_schema

    path = tmp_path / "j.db"
    raw = sqlite3.connect(path)
    raw.executescript(journal_schema.SCHEMA + "; PRAGMA user_version = 1;")
    raw.execute("INSERT INTO transactions (id, opened_at, kiosk_id, state) VALUES (?, '2026-01-01T00:00:00', "
                "'kiosk-01', 'open')", (TXN,))
    raw.commit()
    raw.close()
    j = Journal(path)
    assert j._db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert j.open_transactions() == [TXN] and j.pending_results() == []
    j.note(TXN, "issue_requested")
    j.settle(TXN)
    assert [r.transaction_id for r in j.pending_results()] == [TXN]  # the outbox table exists now
    j.close()


def test_every_write_is_committed_before_the_method_returns(journal, tmp_path):
    quoted(journal)
    assert journal.record_credit(TXN, amount=1000, device="notes", credit_id="n1", medium="note")
    # a second connection sees it at once: nothing is left in an open transaction
    other = sqlite3.connect(tmp_path / "journal.db")
    assert other.execute("SELECT sum(amount) FROM events WHERE kind = 'credit'").fetchone()[0] == 1000
    other.close()


def test_reopening_keeps_the_records(tmp_path):
    j = Journal(tmp_path / "j.db")
    quoted(j)
    j.record_credit(TXN, amount=500, device="coins", credit_id="c1", medium="coin")
    j.close()
    again = Journal(tmp_path / "j.db")
    assert again.balance(TXN).credited == 500
    assert again.open_transactions() == [TXN]
    again.close()


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "j.db"
    Journal(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 7")
    raw.commit()
    raw.close()
    with pytest.raises(JournalSchemaError, match="newer"):
        Journal(path)


def test_a_repeated_credit_report_is_recorded_once(journal):
    quoted(journal)
    assert journal.record_credit(TXN, amount=1000, device="notes", credit_id="n-1", medium="note") is True
    assert journal.record_credit(TXN, amount=1000, device="notes", credit_id="n-1", medium="note") is False
    # the same id from another device is another coin
    assert journal.record_credit(TXN, amount=100, device="coins", credit_id="n-1", medium="coin") is True
    assert journal.balance(TXN).credited == 1100


def test_credit_needs_an_open_transaction(journal):
    with pytest.raises(JournalError):
        journal.record_credit(TXN, amount=100, device="coins", credit_id="c1", medium="coin")
    quoted(journal)
    journal.settle(TXN)
    with pytest.raises(JournalError, match="closed"):
        journal.record_credit(TXN, amount=100, device="coins", credit_id="c1", medium="coin")


def test_the_fee_cannot_change_once_money_is_in(journal):
    quoted(journal)
    journal.quote(TXN, certificate="residence_record", copies=2, fee=600)
    journal.record_credit(TXN, amount=100, device="coins", credit_id="c1", medium="coin")
    with pytest.raises(JournalError):
        journal.quote(TXN, certificate="residence_record", copies=1, fee=300)
    assert journal.fee(TXN) == 600


@pytest.mark.parametrize("detail", [
    {"name": "yamada"},  # key not on the allow-list
    {"reason": "山田 太郎"},  # not an id or code
    {"reason": "Yamada Taro"},  # a space: not a code
    {"code": "123456789012"},  # a twelve-digit number (a My Number's shape)
    {"count": 123456789012},
    {"reason": "1980-04-01"},  # a date: no letter, so not a code
    {"code": "4931"},  # a PIN's shape
    {"count": 19800401},
    {"reason": "x" * 200},
])
def test_detail_takes_only_ids_and_codes_and_never_echoes_a_refused_value(journal, detail):
    quoted(journal)
    with pytest.raises(ValueError) as refused:
        journal.note(TXN, "print_failed", detail=detail)
    for value in detail.values():
        assert str(value) not in str(refused.value)


def test_ids_are_checked_too(journal):
    with pytest.raises(ValueError):
        journal.open("not-a-transaction-id", kiosk_id="k1")
    with pytest.raises(ValueError):
        journal.open(TXN, kiosk_id="東京都 千代田区")
    quoted(journal)
    with pytest.raises(ValueError):
        journal.record_credit(TXN, amount=100, device="coins", credit_id="Taro Yamada", medium="coin")
    with pytest.raises(ValueError):
        journal.note(TXN, "credit")  # money kinds go through their own methods


PERSONAL = ["山田太郎", "ヤマダタロウ", "Yamada Taro", "東京都千代田区霞が関1-2-3", "1980-04-01", "19800401",
            "4931", "123456789018"]


def test_no_personal_data_reaches_the_journal_file(tmp_path):
    """A whole paid visit with personal data in memory; then the bytes of the journal (and its WAL) are
    searched for every personal string, and every attempt to slip one in is refused."""
    path = tmp_path / "journal.db"
    resident = {"name": PERSONAL[0], "kana": PERSONAL[1], "romaji": PERSONAL[2], "address": PERSONAL[3],
                "birth": PERSONAL[4], "birth_digits": PERSONAL[5], "pin": PERSONAL[6], "my_number": PERSONAL[7]}

    async def visit():
        j = Journal(path)
        notes, coins = SimNoteValidator(retry_interval=None), SimCoinAcceptor(retry_interval=None)
        cashier = Cashier(j, notes, coins, [SimHopper(100, 20), SimHopper(10, 20)])
        await notes.start(cashier.on_event)
        await coins.start(cashier.on_event)
        quoted(j)
        cashier.begin(TXN)
        await cashier.start_accepting()
        await notes.insert_note(1000)
        await cashier.stop_accepting()
        j.note(TXN, "payment_complete")
        j.note(TXN, "issue_requested")
        j.record_documents_received(TXN, pages=2)
        for page in (1, 2):
            j.record_page_printed(TXN, page=page)
        for value in resident.values():  # every free-form entry point refuses them
            for attempt in (lambda: j.note(TXN, "print_failed", detail={"reason": value}),
                            lambda: j.note(TXN, "print_failed", device=value),
                            lambda: j.record_reconciliation(value),
                            lambda: j.record_reconciliation("x", device=value)):
                try:
                    attempt()
                except ValueError:
                    pass
        await cashier.pay_change(TXN)
        j.settle(TXN)
        return j

    j = asyncio.run(visit())
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("journal.db"))
    j.close()
    assert b"residence_record" in stored  # the scan does see the records
    for text in PERSONAL:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert text.encode(encoding) not in stored, (text, encoding)


def test_balance_follows_the_money(journal):
    quoted(journal, fee=300)
    journal.record_credit(TXN, amount=1000, device="notes", credit_id="n1", medium="note")
    b = journal.balance(TXN)
    assert (b.credited, b.unaccounted) == (1000, 1000)
    payout = journal.begin_payout(TXN, "change", 700)
    assert journal.balance(TXN).pending_payout == 700
    journal.record_dispensed(TXN, payout, hopper="hopper-500", coin_value=500, result=DispenseResult(1, 1, 0))
    journal.record_dispensed(TXN, payout, hopper="hopper-100", coin_value=100, result=DispenseResult(2, 1, 1))
    b = journal.balance(TXN)
    assert (b.change_paid, b.refund_owed, b.pending_payout, b.unaccounted) == (600, 100, 0, 300)


def test_a_payout_may_not_exceed_what_the_transaction_holds(journal):
    quoted(journal, fee=300)
    journal.record_credit(TXN, amount=1000, device="notes", credit_id="n1", medium="note")
    with pytest.raises(JournalError):
        journal.begin_payout(TXN, "change", 800)  # the fee is kept back from change
    with pytest.raises(JournalError):
        journal.begin_payout(TXN, "refund", 1010)
    journal.begin_payout(TXN, "refund", 600)
    with pytest.raises(JournalError):
        journal.begin_payout(TXN, "refund", 500)  # 600 already under way


def test_a_hopper_reports_once_per_payout(journal):
    quoted(journal, fee=0)
    journal.record_credit(TXN, amount=500, device="coins", credit_id="c1", medium="coin")
    payout = journal.begin_payout(TXN, "refund", 500)
    journal.record_dispensed(TXN, payout, hopper="hopper-100", coin_value=100, result=DispenseResult(5, 3, 2))
    with pytest.raises(JournalError):
        journal.record_dispensed(TXN, payout, hopper="hopper-100", coin_value=100, result=DispenseResult(2, 2, 0))
    assert journal.balance(TXN).refund_paid == 300


def test_day_summary_counts_by_japan_day_and_totals_add_up(tmp_path):
    moments = iter([datetime(2024, 4, 1, 14, 59, tzinfo=timezone.utc) + timedelta(seconds=i) for i in range(100)])
    j = Journal(tmp_path / "j.db", clock=lambda: next(moments))  # 23:59 JST on 1 April, then past midnight
    quoted(j, TXN)  # opened 23:59:00 and quoted 23:59:01 JST on 1 April (+ the 'opened' event)
    for i in range(60):  # these reach into 2 April (JST)
        j.record_credit(TXN, amount=10, device="coins", credit_id=f"c{i}", medium="coin")
    first, second = j.day_summary(date(2024, 4, 1)), j.day_summary(date(2024, 4, 2))
    assert first["transactions"] == {"open": 1}
    assert first["kinds"]["credit"]["count"] + second["kinds"]["credit"]["count"] == 60
    assert second["kinds"]["credit"]["count"] == 3  # 14:59:57.. 15:00:02 UTC: the last 3 are 00:00 JST onward
    assert "opened" not in second["kinds"]
    assert j.totals()["kinds"]["credit"] == {"count": 60, "amount": 600}
    assert j.totals()["open_transactions"] == 1
    j.close()


def test_once_a_page_is_printed_a_refund_keeps_the_fee_back(journal):
    quoted(journal, fee=300)
    journal.record_credit(TXN, amount=1000, device="notes", credit_id="n1", medium="note")
    assert journal.payable(TXN, "refund") == 1000 and journal.payable(TXN, "change") == 700
    journal.record_documents_received(TXN, pages=2)
    journal.record_page_printed(TXN, page=1)
    assert journal.payable(TXN, "refund") == 700
    with pytest.raises(JournalError):
        journal.begin_payout(TXN, "refund", 710)
