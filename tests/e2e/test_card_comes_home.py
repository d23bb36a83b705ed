"""The card comes home: with a card on the reader the kiosk never returns to idle, the reminder escalates (voice,
buzzer, beacon) and stays until the card is lifted; a card already lifted is not asked for again."""
from __future__ import annotations

from firmware.clock import FakeClock
from firmware.visit_attention import BEACON_AFTER_S
from hal.signals import BuzzerPattern


async def tick(k, seconds: float, clock: FakeClock, step: float = 1.0):
    for _ in range(int(seconds / step)):
        clock.advance(step)
        await k.do("state")


def test_a_card_forgotten_after_a_cancel_keeps_the_reminder_on_until_it_is_lifted(run_kiosk):
    clock = FakeClock()

    async def visit(k):
        await k.do("place_card", card="resident-a")
        await k.wait("pin")
        await k.do("cancel")
        await k.wait("return_card")
        await tick(k, k.kiosk.settings.timeouts["return_card"] + 1, clock)
        forgotten = (k.kiosk.view.state.value, k.kiosk.view.out_of_service_reason, k.kiosk.visit.session,
                     k.devices.signals.beacon(), k.devices.signals.buzzer())
        said_before = len(k.devices.voice.said)
        await tick(k, 300, clock, step=5.0)  # five minutes later, nobody has come back
        later = (k.kiosk.view.state.value, k.devices.signals.beacon(), k.devices.signals.buzzer(),
                 len(k.devices.voice.said) - said_before)
        await k.do("lift_card")  # the resident (or staff) takes it
        await tick(k, 2, clock)
        back = (k.kiosk.view.state.value, k.devices.signals.beacon(), k.devices.signals.buzzer())
        return forgotten, later, back, k.audit.ids()

    forgotten, later, back, audit = run_kiosk(visit, clock=clock)
    assert forgotten == ("out_of_service", "card_left_on_reader", None, True, BuzzerPattern.REMINDER)
    state, beacon, buzzer, spoken = later
    assert state == "out_of_service" and beacon and buzzer is BuzzerPattern.REMINDER
    assert spoken >= 5  # the voice keeps asking, not once and then silence
    assert back == ("idle", False, BuzzerPattern.SILENT)
    assert "reminder.abandoned" in audit and audit.count("visit.started") == 1


def test_a_card_left_on_an_out_of_service_kiosk_keeps_it_from_going_idle_until_lifted(run_kiosk):
    clock = FakeClock()

    async def visit(k):
        await k.do("door_open")
        await k.wait("out_of_service")
        await k.do("place_card", card="resident-a")  # nobody's visit: the kiosk was not selling
        await k.do("door_close")
        await tick(k, k.kiosk.settings.readiness_every_s + 1, clock)
        stuck = k.kiosk.view.state.value, k.kiosk.view.out_of_service_reason, k.devices.signals.beacon()
        await k.do("lift_card")
        await tick(k, 2, clock)
        return stuck, k.kiosk.view.state.value

    stuck, after = run_kiosk(visit, clock=clock)
    assert stuck == ("out_of_service", "card_left_on_reader", True) and after == "idle"


def test_a_card_lifted_while_paying_is_not_asked_for_and_raises_no_alarm(run_kiosk):
    clock = FakeClock()

    async def visit(k):
        await k.to_payment()
        await k.do("insert_coin", value=100)
        await k.do("lift_card")
        await k.wait("take_items")  # the refund is in the tray; the card is already in the resident's hand
        await k.do("take_change")
        await k.wait("idle")
        await tick(k, BEACON_AFTER_S + 5, clock)
        return k.kiosk.view.state.value, k.devices.signals.beacon(), k.audit.ids()

    state, beacon, audit = run_kiosk(visit, clock=clock)
    assert state == "idle" and not beacon
    assert "reminder.abandoned" not in audit and "reminder.escalated" not in audit
