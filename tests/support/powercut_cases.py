"""The visits of the power-cut matrix: each is a script for the resident and the world (tests/support/powercut.py).

The fee of one 住民票の写し is 300 yen.  The notes are 1000 yen notes (the ID-003 emulator counts its box in yen);
the coins go through the ccTalk acceptor emulator and change comes out of the four hopper emulators.
"""
from __future__ import annotations

from hal.notes.id003_emulator import STACKING
from tests.support.powercut import Case, Visit
from tests.support.printer_emulator import PrinterScript


def paid_with_change(v: Visit) -> None:
    v.to_payment()
    v.world.insert_note(1000)  # 700 yen change: 500 + 100 + 100
    v.collect()


def cancel_while_stacking(v: Visit) -> None:
    v.to_payment(copies=2)  # 600 yen: a 1000 yen note is acceptable
    v.world.insert_note(1000)
    v.kiosk.until(lambda: v.world.notes.status() == STACKING, what="the note stacking")
    v.kiosk.do("cancel")
    v.collect(document=False)


def card_lifted_while_paying(v: Visit) -> None:
    v.to_payment()
    v.world.insert_coin(100)
    v.kiosk.until(lambda: (v.kiosk.state() or {}).get("paid") == 100, what="100 yen credited")
    v.kiosk.do("lift_card")
    v.collect(document=False)


def timeout(v: Visit) -> None:
    v.to_payment()
    v.world.insert_coin(100)
    v.kiosk.until(lambda: (v.kiosk.state() or {}).get("paid") == 100, what="100 yen credited")
    v.kiosk.wait("return_card", "take_items", timeout=20)  # the payment's 5 s run out
    v.collect(document=False)


def exact_coins(v: Visit) -> None:
    v.to_payment()
    for _ in range(3):
        v.world.insert_coin(100)
    v.collect()


def server_down_at_result(v: Visit) -> None:
    v.to_payment()
    for _ in range(3):
        v.world.insert_coin(100)
    v.kiosk.wait("printing", timeout=20)  # the documents are in; the result is sent once the page is out
    v.server.stop()
    v.collect()


def _hopper_short(world) -> None:
    world.hoppers[100].stock = 1  # the journal believes 30: the second 100 yen coin of the change is not there


def _hopper_silent(world) -> None:
    world.hoppers[500].silent_after_dispense = 1.5  # busy with its motor: no answer for 1.5 s, paying meanwhile


CASES = {c.name: c for c in [
    Case("paid_with_change", "1000 yen note for 300: printed, 700 change", paid_with_change),
    Case("cancel_while_stacking", "cancel while the note stacks: 1000 refunded", cancel_while_stacking),
    Case("card_lifted_while_paying", "card lifted after 100 yen: refunded", card_lifted_while_paying),
    Case("timeout", "payment times out after 100 yen: refunded", timeout, timeouts={"paying": 5}),
    Case("hopper_short", "change due, the 100 yen hopper runs dry: 100 owed", paid_with_change,
         world=_hopper_short),
    Case("hopper_silent", "the 500 yen hopper goes silent mid-payout", paid_with_change, world=_hopper_silent),
    Case("paper_out", "paper ends mid-page: refunded", exact_coins,
         printer=lambda: PrinterScript(paper_out_after_rows=300)),
    Case("cut_failure", "the cutter fails: refunded", exact_coins, printer=lambda: PrinterScript(cut_fails=True)),
    Case("server_down", "server down when the result is due: sent after", server_down_at_result,
         printer=lambda: PrinterScript(print_rows_per_second=1500)),
]}
