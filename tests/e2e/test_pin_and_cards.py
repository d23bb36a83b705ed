"""The card's PIN counter is sacred: tries read without spending one, a warning before the last try, a locked
card sent to the counter without touching the counter."""
from __future__ import annotations

import json


def _tries(config, card: str) -> int:
    cards_dir = config["devices"]["card_reader"]["cards_dir"]
    with open(f"{cards_dir}/{card}.json", encoding="utf-8") as f:
        return json.load(f)["tries_left"]


def test_wrong_pin_twice_then_right(run_kiosk, kiosk_config):
    config = kiosk_config()

    async def visit(k):
        await k.do("place_card", card="resident-a")
        await k.wait("pin")
        seen = [(k.kiosk.view.tries_left, k.kiosk.view.message)]
        for expected_tries in (2, 1):
            await k.do("enter_pin", pin="9999")
            for _ in range(200):
                if k.kiosk.view.tries_left == expected_tries and not k.kiosk.view.busy:
                    break
                await k.do("state")
            seen.append((k.kiosk.view.tries_left, k.kiosk.view.message))
        await k.do("enter_pin", pin="1234")
        await k.wait("menu")
        return seen, k.audit.ids()

    seen, audit = run_kiosk(visit, config)
    assert seen == [(3, None), (2, "pin_wrong"), (1, "pin_last_try")]
    assert audit.count("card.pin_wrong") == 2 and "signin.succeeded" in audit
    assert _tries(config, "resident-a") == 3  # a right PIN resets the counter, as on a real card


def test_third_wrong_pin_locks_and_sends_to_the_counter(run_kiosk, kiosk_config):
    config = kiosk_config()

    async def visit(k):
        await k.do("place_card", card="resident-b")
        await k.wait("pin")
        for _ in range(3):
            await k.do("enter_pin", pin="0000")
            for _ in range(200):
                if not k.kiosk.view.busy:
                    break
                await k.do("state")
        await k.wait("return_card")
        return k.kiosk.view.message

    assert run_kiosk(visit, config) == "pin_locked"
    assert _tries(config, "resident-b") == 0


def test_locked_card_is_refused_without_touching_the_counter(run_kiosk, kiosk_config):
    config = kiosk_config()
    before = open(f"{config['devices']['card_reader']['cards_dir']}/locked.json", "rb").read()

    async def visit(k):
        await k.do("place_card", card="locked")
        await k.wait("return_card")
        message = k.kiosk.view.message
        await k.do("lift_card")
        await k.wait("idle")
        return message, k.audit.ids()

    message, audit = run_kiosk(visit, config)
    assert message == "pin_locked" and "card.pin_locked" in audit and "signin.succeeded" not in audit
    assert open(f"{config['devices']['card_reader']['cards_dir']}/locked.json", "rb").read() == before


def test_revoked_certificate_is_refused_by_the_server(run_kiosk):
    async def visit(k):
        await k.do("place_card", card="revoked")
        await k.wait("pin")
        await k.do("enter_pin", pin="1234")
        await k.wait("return_card")
        return k.kiosk.view.message

    assert run_kiosk(visit) == "server.certificate_revoked"


def test_citizen_card_signs_in_with_its_password(run_kiosk):
    async def visit(k):
        await k.do("place_card", card="citizen-a")
        await k.wait("pin")
        await k.do("enter_pin", pin="2580")
        await k.wait("menu")
        return {o.certificate: o.reason for o in k.kiosk.view.offers}

    offers = run_kiosk(visit)  # resident-a's spouse: every certificate but the seal one (she has no 印鑑登録)
    assert offers.pop("seal_registration") == "seal_not_registered"
    assert len(offers) == 6 and set(offers.values()) == {None}


def test_card_lifted_before_paying_ends_the_visit(run_kiosk):
    async def visit(k):
        await k.sign_in()
        await k.do("lift_card")
        await k.wait("idle")
        return k.audit.ids()

    audit = run_kiosk(visit)
    assert "visit.card_lifted" in audit and "payment.started" not in audit
