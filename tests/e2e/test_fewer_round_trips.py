"""Protocol version 2 (issue #17): the resident waits for at most three round trips to the server, the old
sequence still works for a kiosk configured for version 1, and a prefetched sign-in nonce is never a way around
the server's replay protection — a nonce refused for any reason is replaced by a fresh one, signed with the PIN
the card already verified, without asking for or trying the PIN again."""
from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from sqlalchemy import update

from certs import wire
from server.db import open_database, utcnow
from server.models import Nonce
from tests.support.server_process import jpki_signin_body, load_card
from tests.support.storm import make_storm_kiosks

CRITICAL = "op:"  # the visit's own operations (firmware.controller._spawn): what the resident waits for


def record_calls(k) -> list[tuple[str, str]]:
    """Every HTTP round trip the kiosk makes from now on, as (task that made it, "METHOD /path")."""
    client, calls = k.kiosk.server, []
    original = client._call

    async def recorded(method, path, *args, **kwargs):
        calls.append((asyncio.current_task().get_name(), f"{method} {path}"))
        return await original(method, path, *args, **kwargs)

    client._call = recorded
    return calls


def count_pin_checks(k) -> list[int]:
    """How many times the card is asked to verify a PIN (each one may cost a try)."""
    reader, count = k.devices.card_reader, [0]
    original = reader.verify_pin

    async def verify(pin):
        count[0] += 1
        return await original(pin)

    reader.verify_pin = verify
    return count


async def nonce_ready(k, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if k.kiosk.nonces.usable():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the kiosk did not prefetch a sign-in nonce")


async def whole_visit(k) -> None:
    await k.to_payment()
    for value in (100, 100, 100):
        await k.do("insert_coin", value=value)
    await k.wait("return_card", timeout=30)
    await k.do("lift_card")
    await k.wait("take_items")
    await k.do("take_document")
    await k.wait("idle")


def on_path(calls) -> list[str]:
    return [call for task, call in calls if task.startswith(CRITICAL)]


def test_a_version_2_visit_waits_for_three_round_trips_and_prefetches_its_nonce(run_kiosk):
    async def visit(k):
        await nonce_ready(k)
        calls = record_calls(k)
        await whole_visit(k)
        printed = len(k.devices.printer.pages)
        await nonce_ready(k)  # the next resident's, fetched after this one left
        return calls, printed

    calls, printed = run_kiosk(visit)
    assert printed == 1
    assert on_path(calls) == ["POST /v2/signin", "POST /v1/quotes", "POST /v1/issuances"]
    off_path = [(task, call) for task, call in calls if not task.startswith(CRITICAL)]
    assert ("signin-nonce", "POST /v1/signin/challenge") in off_path
    assert ("sign-out", "POST /v1/signout") in off_path
    assert any(task == "result-outbox" and call.endswith("/result") for task, call in off_path)
    assert not any(call in ("GET /v1/menu", "GET /v1/health") for _, call in calls)


def test_an_old_style_kiosk_still_completes_a_visit_with_the_version_1_calls(run_kiosk, kiosk_config):
    config = kiosk_config(**{"server.protocol": 1})

    async def visit(k):
        assert k.kiosk.nonces is None
        calls = record_calls(k)
        await whole_visit(k)
        return calls, len(k.devices.printer.pages), k.journal.totals()

    calls, printed, totals = run_kiosk(visit, config)
    assert printed == 1 and totals["open_transactions"] == 0
    assert on_path(calls) == ["POST /v1/signin/challenge", "POST /v1/signin", "GET /v1/menu", "POST /v1/quotes",
                              "GET /v1/health", "POST /v1/issuances"]
    assert not any("/v2/" in call for _, call in calls)


def sign_in_with_a_bad_prefetched_nonce(run_kiosk, spoil):
    """Let the kiosk prefetch its nonce, ``spoil(k, nonce)`` it, then sign in: (state after, audit, PIN checks,
    calls made by the sign-in)."""
    async def visit(k):
        await nonce_ready(k)
        spoil(k, k.kiosk.nonces._held.nonce)
        checks, calls = count_pin_checks(k), record_calls(k)
        await k.sign_in()
        return k.state.value, list(k.audit.recent), checks[0], on_path(calls)

    return run_kiosk(visit)


def replaced_with(audit, code: str) -> bool:
    return any(e["audit"] == "signin.nonce_replaced" and e.get("code") == code for e in audit)


def test_a_prefetched_nonce_already_used_is_refused_and_replaced_without_a_second_pin_try(run_kiosk, server,
                                                                                          dev_world):
    def spend(k, nonce):
        with server.client() as http:  # someone (a replay) uses it first, from this kiosk's own certificate
            assert http.post("/v2/signin", json=jpki_signin_body(load_card(dev_world, "resident-b"),
                                                                 nonce)).status_code == 200

    state, audit, pin_checks, calls = sign_in_with_a_bad_prefetched_nonce(run_kiosk, spend)
    assert state == "menu" and pin_checks == 1
    assert replaced_with(audit, "nonce_reused")
    assert calls == ["POST /v2/signin", "POST /v1/signin/challenge", "POST /v2/signin"]


def test_a_nonce_issued_to_another_kiosk_is_refused_and_replaced_without_a_second_pin_try(run_kiosk, server,
                                                                                          dev_world):
    other = make_storm_kiosks(dev_world, 1, prefix="kiosk-e2e-other")[0].kiosk_id

    def swap(k, _nonce):
        with server.client(kiosk_id=other) as http:
            foreign = wire.Challenge.parse(http.post("/v1/signin/challenge", json={}).json())
        assert k.kiosk.nonces.hold(foreign)

    state, audit, pin_checks, calls = sign_in_with_a_bad_prefetched_nonce(run_kiosk, swap)
    assert state == "menu" and pin_checks == 1
    assert replaced_with(audit, "nonce_unknown")
    assert calls == ["POST /v2/signin", "POST /v1/signin/challenge", "POST /v2/signin"]


def test_an_expired_prefetched_nonce_is_refused_and_replaced_without_a_second_pin_try(run_kiosk, dev_world):
    def expire(k, nonce):  # the server's clock says it has expired (the kiosk's own clock still trusts it)
        sessions = open_database(f"sqlite:///{dev_world / 'server.db'}")
        try:
            with sessions() as db:
                db.execute(update(Nonce).where(Nonce.nonce == nonce)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
                db.commit()
        finally:
            sessions.kw["bind"].dispose()

    state, audit, pin_checks, calls = sign_in_with_a_bad_prefetched_nonce(run_kiosk, expire)
    assert state == "menu" and pin_checks == 1
    assert replaced_with(audit, "nonce_expired")
    assert calls == ["POST /v2/signin", "POST /v1/signin/challenge", "POST /v2/signin"]


def test_a_wrong_pin_spends_no_nonce_and_the_prefetched_one_serves_the_right_pin(run_kiosk):
    async def visit(k):
        await nonce_ready(k)
        held = k.kiosk.nonces._held.nonce
        calls = record_calls(k)
        await k.do("place_card", card="resident-a")
        await k.wait("pin")
        await k.do("enter_pin", pin="9999")
        for _ in range(200):
            if k.kiosk.view.message == "pin_wrong":
                break
            await asyncio.sleep(0.02)
        assert k.kiosk.nonces.usable() and k.kiosk.nonces._held.nonce == held and calls == []
        await k.do("enter_pin", pin="1234")
        await k.wait("menu")
        return on_path(calls)

    assert run_kiosk(visit) == ["POST /v2/signin"]


async def to_confirm(k, **options) -> None:
    await k.sign_in()
    await k.do("choose", certificate="residence_record_copy")
    await k.wait("options")
    await k.do("options", copies=1, options=options)
    await k.wait("confirm")


def test_an_option_the_server_refuses_at_confirm_sends_the_resident_back_to_options_and_takes_no_money(run_kiosk):
    async def visit(k):
        await to_confirm(k, resident_code=True)  # 住民票コード: refused everywhere (bad_option)
        shown = k.kiosk.view.fee
        await k.do("confirm")
        await k.wait("options")
        return shown, k.kiosk.view.message, k.journal.totals(), k.devices.coins.state().value

    shown, message, totals, coins = run_kiosk(visit)
    assert shown == 300  # the menu's fee, shown before the quote
    assert message == "quote.bad_option" and coins == "disabled"
    assert "opened" not in totals["kinds"] and totals["open_transactions"] == 0


def test_a_fee_that_changed_since_the_menu_is_shown_and_confirmed_again_before_money(run_kiosk):
    async def visit(k):
        await k.sign_in()
        stale = [dataclasses.replace(o, fee=200) if o.certificate.value == "residence_record_copy" else o
                 for o in k.kiosk.visit.offers]
        k.kiosk.visit.offers = stale  # the menu the kiosk holds says 200 yen; the server's quote says 300
        await k.do("choose", certificate="residence_record_copy")
        await k.wait("options")
        await k.do("options", copies=1)
        await k.wait("confirm")
        shown_first = k.kiosk.view.fee
        await k.do("confirm")
        for _ in range(200):
            if k.kiosk.view.message == "quote.fee_changed":
                break
            await asyncio.sleep(0.02)
        after_quote = (k.state.value, k.kiosk.view.message, k.kiosk.view.fee, k.journal.totals()["open_transactions"])
        await k.do("confirm")
        await k.wait("paying")
        return shown_first, after_quote, k.kiosk.view.fee

    shown_first, after_quote, due = run_kiosk(visit)
    assert shown_first == 200
    assert after_quote == ("confirm", "quote.fee_changed", 300, 0)  # no money taken at the stale fee
    assert due == 300
