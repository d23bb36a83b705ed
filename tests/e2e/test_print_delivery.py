"""Printed means printed: a page counts (and is charged) once its sheet is cut and presented, and a kiosk whose
printer has no outlet sensor ends 'take your certificate' on its timeout and keeps selling."""
from __future__ import annotations

from firmware.clock import FakeClock
from tests.support.emulators import PrinterEmulator
from tests.support.printer_emulator import PrinterScript


def test_a_cut_failure_after_the_last_page_is_a_print_failure_and_refunded(run_kiosk):
    async def visit(k):
        await k.to_payment()
        await k.do("fail_cut")  # the cutter fails at the next cut: the one page stays uncut in the printer
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card")
        txn = k.kiosk.visit.txn
        message, pages_printed = k.kiosk.view.message, k.kiosk.view.pages_printed
        await k.do("lift_card")
        await k.wait("take_items")
        assert k.kiosk.view.items_to_take == ("change",)  # no certificate to take
        await k.do("take_change")
        await k.wait("out_of_service")
        return message, pages_printed, k.journal.balance(txn), k.kiosk.view.out_of_service_reason, k.audit.ids()

    message, pages_printed, balance, reason, audit = run_kiosk(visit)
    assert message == "print_failed.jammed" and reason == "printer_jammed" and pages_printed == 0
    assert balance.fee_collected == 0 and balance.refund_paid == 300 and balance.unaccounted == 0
    assert "print.completed" not in audit and "print.fault" in audit


def test_a_cut_failure_on_the_second_copy_charges_only_the_sheet_delivered(run_kiosk):
    async def visit(k):
        await k.to_payment(copies=2)
        printer = k.devices.printer
        original = printer.cut

        async def second_cut_fails():
            if printer.cuts == 1:
                await printer.fail_cut()
            await original()
        printer.cut = second_cut_fails
        await k.do("insert_coin", value=500)
        await k.do("insert_coin", value=100)
        await k.wait("return_card")
        return k.kiosk.view.message, k.kiosk.view.pages_printed, k.journal.balance(k.kiosk.visit.txn)

    message, pages_printed, balance = run_kiosk(visit)
    assert message == "print_failed.jammed" and pages_printed == 1
    assert balance.fee_collected == 0 and balance.unaccounted == 0  # one of two sheets: the fee is held


def test_without_an_outlet_sensor_take_your_certificate_ends_on_its_timeout_in_service(run_kiosk, kiosk_config,
                                                                                       tmp_path):
    clock = FakeClock()
    config = kiosk_config(**{"devices.printer": {"driver": "sim", "out_dir": str(tmp_path / "printed"), "dpi": 203,
                                                 "outlet_sensor": False}})

    async def visit(k):
        await k.to_payment()
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card")
        txn = k.kiosk.visit.txn
        await k.do("lift_card")
        await k.wait("take_items")
        assert k.kiosk.view.items_to_take == ("document",)  # still told to take it
        clock.advance(k.kiosk.settings.timeouts["take_items"] + 1)
        await k.wait("idle")
        clock.advance(k.kiosk.settings.readiness_every_s + 1)
        await k.do("state")
        return k.kiosk.view, k.journal.balance(txn), k.audit.ids(), k.devices.signals.beacon()

    view, balance, audit, beacon = run_kiosk(visit, config=config, clock=clock)
    assert view.state.value == "idle" and view.out_of_service_reason is None and not beacon
    assert balance.fee_collected == 300 and balance.unaccounted == 0
    assert "reminder.unconfirmed" in audit and "reminder.abandoned" not in audit
    assert "kiosk.out_of_service" not in audit


def test_a_plain_escpos_printer_sells_and_ends_the_visit_on_the_timeout(run_kiosk, kiosk_config):
    """The real ESC/POS driver in ``status = "realtime"`` (no outlet sensor) against the emulator."""
    clock = FakeClock()
    emulator = PrinterEmulator(PrinterScript(model="realtime", print_rows_per_second=6000))
    host, port = emulator.start_tcp()
    config = kiosk_config(**{"devices.printer": {
        "driver": "escpos", "connection": "network", "host": host, "port": port, "status": "realtime",
        "width_dots": 1680, "poll_interval": 0.05, "print_rows_per_second": 6000, "cut_time": 0.1}})

    async def visit(k):
        await k.to_payment()
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card", 20)
        await k.do("lift_card")
        await k.wait("take_items")
        clock.advance(k.kiosk.settings.timeouts["take_items"] + 1)
        await k.wait("idle")
        return k.kiosk.view, k.audit.ids()

    try:
        view, audit = run_kiosk(visit, config=config, clock=clock)
    finally:
        emulator.stop()
    assert view.out_of_service_reason is None and "print.completed" in audit
    assert "kiosk.out_of_service" not in audit and emulator.cuts == 1 and not emulator.busy
    assert emulator.errors == []
