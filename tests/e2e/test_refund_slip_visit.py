"""Refund owed is a document: the kiosk prints a signed slip the counter verifies against the server's books, or,
when it cannot print, shows the reference large and reads it aloud; the beacon stays on until staff acknowledge."""
from __future__ import annotations

import asyncio
import contextlib
import io

import zxingcpp
from PIL import Image

from certs.refund_slip import reference_for
from server.cli import main as server_cli

EMPTY_HOPPERS = {"driver": "sim", "stock": {"500": 0, "100": 0, "50": 0, "10": 0}}


def kiosk_server(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = server_cli(list(argv))
    return code, out.getvalue()


async def until(predicate, timeout: float = 10.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def test_change_the_hoppers_cannot_pay_becomes_a_signed_slip_the_counter_verifies(run_kiosk, kiosk_config,
                                                                                  dev_world):
    config = kiosk_config()
    config["devices"]["printer"]["latency_per_page"] = 2.0  # a page takes 2 s: time to empty the hoppers meanwhile

    async def visit(k):
        await k.to_payment()
        await k.do("insert_note", value=1000)  # 300 fee, 700 change
        await k.wait("printing", timeout=30)
        for value in (500, 100, 50, 10):  # while it prints: the hoppers believed they held coins, but hold none
            await k.do("hopper_short", value=value, stock=0)
        await k.wait("return_card", timeout=30)
        txn = k.kiosk.visit.txn
        await k.do("lift_card")
        await k.wait("take_items")
        assert await until(lambda: k.kiosk.visit.slip_printed)  # the certificate, then the slip, in the outlet
        assert len(k.devices.printer.pages) == 2
        items, reference = k.kiosk.view.items_to_take, k.kiosk.view.refund_reference
        await k.do("take_document")
        await k.wait("idle")
        assert await until(lambda: k.journal.result(txn).delivery is not None)
        beacon_after_visit = k.devices.signals.beacon()
        acknowledged = k.kiosk.acknowledge_refund_alarm()
        return (txn, items, reference, k.devices.printer.pages[1].path, beacon_after_visit, acknowledged,
                k.devices.signals.beacon(), k.journal.balance(txn))

    txn, items, reference, slip_png, beacon, acked, beacon_after_ack, balance = run_kiosk(visit, config)
    assert set(items) == {"document", "slip"} and reference == reference_for(txn)
    assert balance.fee_collected == 300 and balance.refund_owed == 700 and balance.unaccounted == 0
    assert beacon and acked and not beacon_after_ack  # on until staff acknowledge, not switched off by the visit's end
    (code,) = [r.text for r in zxingcpp.read_barcodes(Image.open(slip_png)) if r.valid]
    status, out = kiosk_server("verify", "--config", str(dev_world / "server.toml"), code)
    assert status == 0 and out.startswith("GENUINE refund slip"), out
    assert "amount     700 yen" in out and txn in out and "payable    yes" in out


def test_a_slip_that_cannot_print_leaves_the_reference_on_screen_and_spoken(run_kiosk, kiosk_config):
    config = kiosk_config(**{"devices.hoppers": EMPTY_HOPPERS})

    async def visit(k):
        await k.to_payment()
        await k.do("paper_out", after_rows=10)  # the certificate fails, and there is no paper for a slip either
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card")
        txn = k.kiosk.visit.txn
        spoken = [m for m, _ in k.devices.voice.said]
        assert await until(lambda: "prompt.refund_reference" in [m for m, _ in k.devices.voice.said])
        for _ in range(20):  # let the characters be said (each waits for the one before, at most CHAR_GAP_S)
            k.devices.voice.finish()
            await asyncio.sleep(0.05)
        spoken = [m for m, _ in k.devices.voice.said]
        return txn, k.kiosk.view.refund_reference, k.kiosk.view.refund_owed, spoken, k.audit.recent

    txn, reference, owed, spoken, audit = run_kiosk(visit, config)
    assert owed == 300 and reference == reference_for(txn)
    start = spoken.index("prompt.refund_reference")
    assert spoken[start + 1:start + 13] == [f"prompt.char.{c}" for c in reference.replace("-", "")]
    assert [a["printed"] for a in audit if a["audit"] == "refund.slip"] == [False]
