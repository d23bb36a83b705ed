"""Conformance: coin acceptors credit each coin once; hoppers say truthfully what they paid."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hal.coins.contract import (
    YEN_COINS, CoinAcceptor, CoinAcceptorState, CoinCredited, CoinEventsLost, CoinRejected, Hopper, HopperState,
)

from .harness import CoinAcceptorHarness, HopperHarness, exercise

# -- the acceptor ----------------------------------------------------------------------------------------------


def test_the_acceptor_fulfils_the_protocol(coin_harness):
    async def body(h: CoinAcceptorHarness):
        assert isinstance(h.acceptor, CoinAcceptor)
        assert h.acceptor.denominations() <= YEN_COINS
        assert h.acceptor.state() is CoinAcceptorState.DISABLED
    exercise(coin_harness, body)


def test_coins_inserted_while_disabled_are_returned(coin_harness):
    async def body(h: CoinAcceptorHarness):
        await h.insert_coin(100)
        await h.settle()
        assert len(h.sink.of(CoinRejected)) == 1 and not h.sink.of(CoinCredited)
    exercise(coin_harness, body)


def test_enabled_coins_are_credited_each_with_its_own_id(coin_harness):
    async def body(h: CoinAcceptorHarness):
        await h.acceptor.enable(frozenset({100, 500}))
        assert h.acceptor.state() is CoinAcceptorState.ACCEPTING
        for value in (100, 500, 100):
            await h.insert_coin(value)
        await h.settle()
        credits = h.sink.of(CoinCredited)
        assert [c.value for c in credits] == [100, 500, 100]
        assert len({c.credit_id for c in credits}) == 3
    exercise(coin_harness, body)


def test_a_coin_not_enabled_or_not_recognised_is_returned(coin_harness):
    async def body(h: CoinAcceptorHarness):
        await h.acceptor.enable(frozenset({500}))
        await h.insert_coin(10)
        await h.insert_unrecognised_coin()
        await h.settle()
        assert len(h.sink.of(CoinRejected)) == 2 and not h.sink.of(CoinCredited)
    exercise(coin_harness, body)


def test_a_coin_the_sink_refused_is_reported_again_with_the_same_id(coin_harness):
    async def body(h: CoinAcceptorHarness):
        await h.acceptor.enable(frozenset({100}))
        h.sink.refuse_next(CoinCredited)
        await h.insert_coin(100)
        await h.settle()
        assert not h.sink.of(CoinCredited)
        await h.let_device_retry()
        await h.settle()
        await h.let_device_retry()
        credits = h.sink.of(CoinCredited)
        assert [c.value for c in credits] == [100]
        assert credits[0].credit_id == h.sink.refused[0].credit_id
    exercise(coin_harness, body)


def test_disabling_stops_crediting(coin_harness):
    async def body(h: CoinAcceptorHarness):
        await h.acceptor.enable(frozenset({100}))
        await h.acceptor.disable()
        await h.insert_coin(100)
        await h.settle()
        assert h.acceptor.state() is CoinAcceptorState.DISABLED
        assert not h.sink.of(CoinCredited) and len(h.sink.of(CoinRejected)) == 1
    exercise(coin_harness, body)


def test_a_jam_puts_the_acceptor_out_of_service(coin_harness):
    async def body(h: CoinAcceptorHarness):
        await h.acceptor.enable(frozenset({100}))
        await h.jam()
        await h.settle()
        assert h.acceptor.state() is CoinAcceptorState.JAMMED and h.acceptor.state().out_of_service
        await h.insert_coin(100)
        await h.settle()
        assert not h.sink.of(CoinCredited)
    exercise(coin_harness, body)


def test_lost_events_are_reported_and_stop_the_acceptor(coin_harness):
    async def body(h: CoinAcceptorHarness):
        await h.acceptor.enable(frozenset({100}))
        await h.lose_events(3)
        await h.settle()
        assert [e.count for e in h.sink.of(CoinEventsLost)] == [3]
        assert h.acceptor.state().out_of_service
    exercise(coin_harness, body)


# -- the hopper ----------------------------------------------------------------------------------------------------


def test_a_hopper_fulfils_the_protocol(hopper_harness):
    async def body(h: HopperHarness):
        hopper = await h.hopper(100, stock=50)
        assert isinstance(hopper, Hopper) and hopper.coin_value == 100
        assert hopper.state() is HopperState.READY
        assert hopper.coins_estimate() in (50, None)
    exercise(hopper_harness, body)


def test_a_hopper_pays_what_was_asked_when_it_can(hopper_harness):
    async def body(h: HopperHarness):
        hopper = await h.hopper(500, stock=40)
        result = await hopper.dispense(3)
        assert (result.requested, result.paid, result.unpaid) == (3, 3, 0)
        assert h.coins_in_tray(hopper) == 3
        assert hopper.coins_estimate() in (37, None)
        assert (await hopper.dispense(0)).paid == 0
    exercise(hopper_harness, body)


def test_a_hopper_short_of_coins_reports_the_unpaid_rest(hopper_harness):
    async def body(h: HopperHarness):
        hopper = await h.hopper(100, stock=20)
        h.short_of_coins(hopper, 2)
        result = await hopper.dispense(5)
        assert (result.paid, result.unpaid) == (2, 3)
        assert h.coins_in_tray(hopper) == 2
        assert hopper.state() is HopperState.EMPTY and not hopper.state().can_pay
        again = await hopper.dispense(1)
        assert (again.paid, again.unpaid) == (0, 1)
    exercise(hopper_harness, body)


def test_a_hopper_that_jams_reports_what_left_before_the_jam(hopper_harness):
    async def body(h: HopperHarness):
        hopper = await h.hopper(50, stock=40)
        h.jam_after(hopper, 2)
        result = await hopper.dispense(6)
        assert (result.paid, result.unpaid) == (2, 4)
        assert h.coins_in_tray(hopper) == 2
        assert hopper.state() is HopperState.JAMMED and not hopper.state().can_pay
        assert (await hopper.dispense(1)).paid == 0
    exercise(hopper_harness, body)


def test_a_hopper_silent_for_good_mid_payout_says_unknown_never_unpaid(hopper_harness):
    async def body(h: HopperHarness):
        hopper = await h.hopper(100, stock=20)
        h.lose_contact_during_next_payout(hopper)
        result = await hopper.dispense(3)
        assert h.coins_in_tray(hopper) == 3  # the coins left
        assert result.unpaid == 0 and result.paid + result.unknown == 3 and result.unknown > 0
        assert not hopper.state().can_pay and hopper.coins_estimate() is None
        assert (await hopper.dispense(1)).paid == 0 and h.coins_in_tray(hopper) == 3  # never paid twice
    exercise(hopper_harness, body)


def test_a_hopper_takes_the_count_the_journal_kept(hopper_harness):
    async def body(h: HopperHarness):
        hopper = await h.hopper(100, stock=20)
        hopper.restore_estimate(7)
        assert hopper.coins_estimate() in (7, None)
        hopper.restore_estimate(None)
        assert hopper.coins_estimate() is None
    exercise(hopper_harness, body)


@pytest.mark.parametrize("stock, state", [(11, HopperState.READY), (9, HopperState.LOW), (0, HopperState.EMPTY)])
def test_the_level_sensors(hopper_harness, stock, state):
    async def body(h: HopperHarness):
        hopper = await h.hopper(10, stock=stock, low_level=10)
        assert hopper.state() is state
    exercise(hopper_harness, body)


def test_paying_down_to_the_low_level_turns_the_hopper_low_then_empty(hopper_harness):
    async def body(h: HopperHarness):
        hopper = await h.hopper(10, stock=12, low_level=10)
        await hopper.dispense(3)
        assert hopper.state() is HopperState.LOW and hopper.state().can_pay
        await hopper.dispense(9)
        assert hopper.state() is HopperState.EMPTY
        assert h.coins_in_tray(hopper) == 12
    exercise(hopper_harness, body)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stock=st.integers(0, 30), actual=st.integers(0, 30), jam=st.none() | st.integers(0, 30),
       count=st.integers(0, 40))
def test_paid_plus_unpaid_is_what_was_asked_and_paid_is_what_left(hopper_harness, stock, actual, jam, count):
    async def body(h: HopperHarness):
        hopper = await h.hopper(100, stock=stock)
        h.short_of_coins(hopper, min(actual, stock))
        if jam is not None:
            h.jam_after(hopper, jam)
        result = await hopper.dispense(count)
        assert result.requested == count and result.paid + result.unpaid == count and result.unknown == 0
        assert result.paid == h.coins_in_tray(hopper)
        assert result.paid == min(count, min(actual, stock), count if jam is None else jam)
    exercise(hopper_harness, body)
