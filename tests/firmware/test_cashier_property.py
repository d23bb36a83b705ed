"""Property: whatever residents, hoppers and power do, every closed transaction accounts for every yen — and
the journal agrees with the cash that physically moved."""
import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from firmware.cashier import Cashier
from firmware.journal import Journal
from hal.coins import CoinCredited
from hal.coins.sim import SimCoinAcceptor, SimHopper
from hal.notes import NoteCredited
from hal.notes.sim import SimNoteValidator

operations = st.lists(st.one_of(
    st.tuples(st.just("note"), st.sampled_from([1000, 2000, 5000, 10000])),
    st.tuples(st.just("coin"), st.sampled_from([10, 50, 100, 500])),
    st.tuples(st.just("repeat_last_credit"), st.none()),
    st.tuples(st.just("hopper_short"), st.tuples(st.integers(0, 3), st.integers(0, 3))),
    st.tuples(st.just("hopper_jams"), st.tuples(st.integers(0, 3), st.integers(0, 2))),
    st.tuples(st.just("print"), st.tuples(st.integers(1, 3), st.integers(0, 3))),
    st.tuples(st.just("pay_change"), st.none()),
    st.tuples(st.just("refund_part"), st.integers(1, 100)),
    st.tuples(st.just("cancel"), st.none()),
    st.tuples(st.just("next_visit"), st.sampled_from([200, 300, 450, 750, 1200])),
), max_size=25)


async def play(path, ops):
    journal = Journal(path)
    notes, coins = SimNoteValidator(retry_interval=None), SimCoinAcceptor(retry_interval=None)
    hoppers = [SimHopper(500, 4), SimHopper(100, 8), SimHopper(50, 4), SimHopper(10, 10)]
    cashier = Cashier(journal, notes, coins, hoppers)
    seen, visits, printed = [], [], {}

    async def sink(event):  # remembers credits so that one can be reported again
        if isinstance(event, (NoteCredited, CoinCredited)):
            seen.append(event)
        await cashier.on_event(event)

    await notes.start(sink)
    await coins.start(sink)

    async def new_visit(fee):
        txn = f"{len(visits) + 1:032x}"
        journal.open(txn, kiosk_id="kiosk-01")
        journal.quote(txn, certificate="residence_record", copies=1, fee=fee)
        visits.append(txn)
        cashier.begin(txn)
        await cashier.start_accepting()

    await new_visit(300)
    for op, arg in ops:
        txn = visits[-1]
        open_now = journal.is_open(txn)
        if op == "note":
            await notes.insert_note(arg)
        elif op == "coin":
            await coins.insert_coin(arg)
        elif op == "repeat_last_credit" and seen:
            assert await cashier.on_credit(seen[-1]) is False
        elif op == "hopper_short":
            hoppers[arg[0]].short_of_coins(min(arg[1], hoppers[arg[0]].stock))
        elif op == "hopper_jams":
            hoppers[arg[0]].jam_after(arg[1])
        elif op == "print" and open_now and txn not in printed and cashier.remaining() == 0:  # as a visit would
            expected, done = arg
            printed[txn] = True
            await cashier.stop_accepting()
            journal.record_documents_received(txn, pages=expected)
            for page in range(1, min(done, expected) + 1):
                journal.record_page_printed(txn, page=page)
        elif op == "pay_change" and open_now:
            await cashier.pay_change(txn)
        elif op == "refund_part" and open_now and cashier.refundable(txn) > 0:
            held = cashier.refundable(txn)
            await cashier.refund(txn, min(held, max(10, held * arg // 1000 * 10)))
        elif op == "cancel" and open_now:
            await cashier.refund_all(txn)
            journal.settle(txn)
        elif op == "next_visit":
            if open_now:
                journal.settle(txn)
            await new_visit(arg)
        await asyncio.sleep(0)
    await cashier.stop_accepting()
    for txn in journal.open_transactions():
        journal.settle(txn)
    return journal, notes, coins, hoppers, visits


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_every_closed_transaction_accounts_for_every_yen(ops):
    with tempfile.TemporaryDirectory() as d:
        journal, notes, coins, hoppers, visits = asyncio.run(play(Path(d) / "j.db", ops))
        paid_out = credited = 0
        for txn in visits:
            b = journal.balance(txn)
            assert not journal.is_open(txn)
            assert b.unaccounted == 0 and b.pending_payout == 0, (txn, b)
            paid_out += b.change_paid + b.refund_paid
            credited += b.credited
        # the journal agrees with the cash that moved
        assert paid_out == sum(h.paid_out * h.coin_value for h in hoppers)
        kinds = journal.totals()["kinds"]
        assert credited == kinds.get("credit", {"amount": 0})["amount"]
        assert kinds.get("credit", {"count": 0})["count"] == notes.stacked + coins.accepted
        # nothing crashed, so no payout is of unknown outcome and no settlement found money missing
        assert "reconciliation_needed" not in kinds
        journal.close()
