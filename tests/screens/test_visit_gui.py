"""A whole visit and the main failure paths, by simulated touches on the real app, against the real reference
server over HTTPS.  Every screen passed is saved as a screenshot (var/screenshots/visit/ unless
$KIOSK_SCREENSHOTS says otherwise)."""
from __future__ import annotations

import asyncio

from firmware.maintenance import hash_staff_pin
from screens.testing import find, hold_staff_corner, key, shot, tap, texts, wait_screen


def run(config, automation):
    from screens.app import run_kiosk_app

    return asyncio.run(run_kiosk_app(config, automation))


async def sign_in(app, card="resident-a", pin="1234"):
    await wait_screen(app, "idle")
    await tap(app, f"dev.card.{card}")
    await wait_screen(app, "pin")
    for digit in pin:
        await tap(app, f"pin.{digit}", settle=0.02)
    await tap(app, "pin.ok")


async def to_payment(app, out=None, signed_in=False):
    if not signed_in:
        await sign_in(app)
    await wait_screen(app, "menu")
    out and shot(app, out, "04-menu")
    await tap(app, "cert.residence_record_copy")
    await wait_screen(app, "options")
    out and shot(app, out, "05-options")
    await tap(app, "opt.household_head.True")
    await tap(app, "options.next")
    out and shot(app, out, "06-copies")
    await tap(app, "options.next")
    await wait_screen(app, "confirm")
    out and shot(app, out, "07-confirm")
    button = find(app, "confirm.pay")
    await tap(app, "confirm.pay", settle=0)
    button.dispatch("on_release")  # a second, fast tap on the same button
    await wait_screen(app, "paying")


def test_a_whole_visit_by_touch(gui_config, screenshots):
    out = screenshots / "visit"

    async def visit(app):
        await wait_screen(app, "idle")
        shot(app, out, "01-idle")
        await tap(app, "dev.card.resident-a")
        await wait_screen(app, "pin")
        for digit in "123":
            await tap(app, f"pin.{digit}", settle=0.02)
        shot(app, out, "02-pin")
        assert app.sm.current_screen.dots.filled == 3 and "123" not in texts(app)  # three of four circles filled
        pad = app.sm.current_screen
        assert pad._digits == bytearray(b"123")  # a bytearray the pad can wipe, never a str
        await tap(app, "pin.4")
        await tap(app, "pin.ok")
        assert pad._digits == bytearray()  # handed over as a Pin and wiped at once
        await to_payment(app, out, signed_in=True)
        assert "¥" not in texts(app) and "300円" in texts(app)
        shot(app, out, "08-paying")
        await tap(app, "dev.yen.100")
        await tap(app, "dev.yen.100")
        assert "100円" in texts(app) and "200円" in texts(app)  # inserted, still due
        await tap(app, "dev.yen.100")
        await wait_screen(app, "return_card", timeout=20)
        shot(app, out, "09-return-card")
        await tap(app, "dev.lift_card")
        await wait_screen(app, "take_items")
        shot(app, out, "10-take-certificate")
        await tap(app, "dev.take_certificate")
        await wait_screen(app, "idle")
        assert "thanks" in app.shown_at  # "thank you" was shown before idle came back
        devices = app.parts.devices
        confirms = [i for i in app.bridge.sent if type(i).__name__ == "Confirm"]
        return devices.printer.pages, confirms, devices.voice.spoken(), app.parts.journal.totals()

    pages, confirms, spoken, totals = run(gui_config(), visit)
    assert len(pages) == 1 and not pages[0].partial
    assert len(confirms) == 1  # the double tap on "pay" sent one intent
    from screens.catalogue import Strings
    t = Strings("ja")
    for prompt in ("prompt.idle", "prompt.pin", "prompt.menu", "prompt.paying", "prompt.return_card",
                   "prompt.take_items"):  # every screen said its heading (with what it shows)
        assert any(text.startswith(t(prompt)) for text in spoken), (prompt, spoken)
    assert totals["open_transactions"] == 0


def test_wrong_pins_warn_before_the_last_try_then_cancel(gui_config, screenshots):
    out = screenshots / "failures"

    async def visit(app):
        await sign_in(app, pin="9999")
        await wait_screen(app, "pin", message="pin_wrong")
        assert "あと2回" in texts(app)
        for digit in "9999":
            await key(app, 48 + int(digit))  # the USB keypad's digits
        await key(app, 271)  # keypad Enter
        await wait_screen(app, "pin", message="pin_last_try")
        shot(app, out, "pin-last-try")
        assert "ロック" in texts(app)
        await key(app, 27)  # Esc: cancel
        await wait_screen(app, "return_card", message="cancelled")
        shot(app, out, "cancelled")
        await tap(app, "dev.lift_card")
        await wait_screen(app, "idle")
        return app.view.tries_left

    run(gui_config(), visit)


def test_cancel_while_paying_gives_the_money_back(gui_config, screenshots):
    out = screenshots / "failures"

    async def visit(app):
        await to_payment(app)
        await tap(app, "dev.yen.100")
        await tap(app, "footer.cancel")
        await wait_screen(app, "return_card", message="cancelled_refunded")
        shot(app, out, "cancelled-refunded")
        assert "入れたお金をお返しします" in texts(app)
        await tap(app, "dev.lift_card")
        await wait_screen(app, "take_items")
        shot(app, out, "take-change")
        await tap(app, "take.change")
        await wait_screen(app, "idle", timeout=5)
        return app.parts.journal.totals()

    totals = run(gui_config(), visit)
    assert totals["kinds"]["credit"]["amount"] == 100
    assert totals["kinds"]["refund_paid"]["amount"] == 100 and totals["open_transactions"] == 0


def test_paper_out_while_printing_refunds_and_goes_out_of_service(gui_config, screenshots):
    out = screenshots / "failures"

    async def visit(app):
        await to_payment(app)
        app.bridge.dev("paper_out", after_rows=200)  # the paper ends half way down the page
        for _ in range(3):
            await tap(app, "dev.yen.100")
        await wait_screen(app, "return_card", timeout=20)
        assert app.view.message == "print_failed.paper_out"
        assert "300円をおつり口からお取りください" in texts(app)  # nothing printed: all of it back
        shot(app, out, "print-failed-paper-out")
        await tap(app, "dev.lift_card")
        await wait_screen(app, "take_items")
        await tap(app, "take.change")
        await wait_screen(app, "out_of_service", timeout=10)
        shot(app, out, "out-of-service-paper")
        assert "印刷機" in texts(app)
        # staff come: hold the corner, staff PIN, refill the paper, a test print, back in service
        await hold_staff_corner(app)
        await wait_screen(app, "staff_pin")
        for digit in "2468":
            await tap(app, f"staff.{digit}", settle=0.02)
        await tap(app, "staff.ok")
        await wait_screen(app, "maintenance")
        await tap(app, "dev.refill_paper")
        await tap(app, "maint.test_print", settle=0.5)
        shot(app, out, "maintenance")
        assert "Devices" in texts(app) and "paper_out" not in texts(app).split("Test print:")[1][:20]
        await tap(app, "dev.take_certificate")  # the test page
        await tap(app, "maint.leave")
        await wait_screen(app, "idle", timeout=10)
        return app.parts.journal.totals(), app.parts.kiosk.audit.ids()

    totals, audit = run(gui_config(maintenance={"staff_pin": hash_staff_pin("2468", rounds=1000)}), visit)
    assert totals["open_transactions"] == 0
    assert {"maintenance.entered", "maintenance.test_print", "maintenance.left"} <= set(audit)


def test_a_staff_card_opens_limited_maintenance_and_the_staff_pin_opens_the_cash(gui_config, screenshots):
    out = screenshots / "failures"

    async def visit(app):
        from hal.card.testcards import make_citizen_card

        await wait_screen(app, "idle")
        await app.parts.devices.card_reader.place_card(make_citizen_card("S0000009", "staff card"))
        await wait_screen(app, "maintenance")
        limited = texts(app)
        assert "maint.refill.100" not in [w.name for w in app.root.walk() if hasattr(w, "name")]
        await tap(app, "maint.cash_pin")
        await wait_screen(app, "staff_pin")
        for digit in "2468":
            await tap(app, f"staff.{digit}", settle=0.02)
        pad = app.sm.current_screen
        await tap(app, "staff.ok")
        assert pad._digits == bytearray()
        await wait_screen(app, "maintenance")
        await tap(app, "maint.refill.100", settle=0.3)
        shot(app, out, "maintenance-cash")
        full = texts(app)
        await tap(app, "maint.leave")
        await tap(app, "dev.lift_card")
        await wait_screen(app, "idle", timeout=10)
        return limited, full, app.parts.journal.totals(), app.parts.kiosk.audit.ids()

    config = gui_config(maintenance={"staff_pin": hash_staff_pin("2468", rounds=1000), "staff_cards": ["S0000009"]})
    limited, full, totals, audit = run(config, visit)
    assert "limited" in limited and "Hopper coins" not in limited
    assert "Hopper coins" in full and "Refunds owed" in full and "Recorded" in full
    assert totals["kinds"]["hopper_stock"]["count"] >= 1
    assert {"maintenance.entered", "maintenance.cash_unlocked", "maintenance.hopper"} <= set(audit)


def test_need_more_time_then_the_visit_times_out(gui_config, screenshots):
    out = screenshots / "failures"
    config = gui_config(**{"timeouts.pin": 8, "kiosk.warn_before_timeout_s": 5})

    async def visit(app):
        await wait_screen(app, "idle")
        await tap(app, "dev.card.resident-a")
        await wait_screen(app, "pin")
        for _ in range(300):
            if app.sm.current == "timeout":
                break
            await asyncio.sleep(0.02)
        assert app.sm.current == "timeout" and app.view.state.value == "pin"
        await tap(app, "timeout.more")
        await wait_screen(app, "pin", timeout=3)  # more time: the PIN screen again, the deadline re-armed
        for _ in range(300):
            if app.sm.current == "timeout":
                break
            await asyncio.sleep(0.02)
        shot(app, out, "need-more-time")
        await wait_screen(app, "return_card", timeout=8, message="timeout")
        shot(app, out, "timed-out")
        return app.parts.audit if hasattr(app.parts, "audit") else app.parts.kiosk.audit.ids()

    audit = run(config, visit)
    assert "visit.timed_out" in audit
