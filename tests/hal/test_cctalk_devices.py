"""The ccTalk coin acceptor and hopper drivers at the wire, against the bus emulator on a pty."""
from __future__ import annotations

import asyncio

import pytest

from hal.coins.cctalk import CcTalkCoinAcceptor
from hal.coins.cctalk_hopper import CcTalkHopper
from hal.coins.contract import (
    CoinAcceptorState as A, CoinCounterMoved, CoinCredited, CoinEventsLost, CoinRejected, DispenseResult,
    HopperState as H,
)
from hal.events import DeviceError, DeviceUnavailable
from hal.factory import DeviceConfigError, build_device
from tests.support.emulators import CcTalkBusEmulator, CoinAcceptorEmulator, HopperEmulator


class Events(list):
    refuse = 0

    async def __call__(self, event):
        if isinstance(event, CoinCredited) and self.refuse:
            self.refuse -= 1
            raise OSError("journal write failed")
        self.append(event)

    def of(self, kind):
        return [e for e in self if isinstance(e, kind)]


def with_acceptor(body, emulator=None, start=True, **options):
    emulator = emulator or CoinAcceptorEmulator(2)
    bus = CcTalkBusEmulator(emulator).start()
    acceptor = CcTalkCoinAcceptor(bus.port, poll_interval=0.01, reply_timeout=0.1, **options)
    events = Events()

    async def main():
        if start:
            await acceptor.start(events)
        try:
            await body(acceptor, emulator, bus, events)
        finally:
            await acceptor.stop()
    try:
        asyncio.run(main())
    finally:
        bus.close()


def world(bus, action, *args):
    with bus.lock:  # atomic with respect to the emulator's replies: all of it happens between two polls
        action(*args)


def test_coins_are_credited_through_echo_collisions_noise_and_bad_checksums():
    async def body(acceptor, emulator, bus, events):
        await acceptor.enable(frozenset({100, 500}))
        assert emulator.master_enabled and emulator.mask == 0b1100  # positions 3 (¥100) and 4 (¥500)
        bus.collide_next_echoes(2)
        bus.noise_before_next_reply(b"\x01\x05\x02")
        bus.corrupt_next_replies(2)
        bus.drop_next_replies(2)
        for value in (100, 500, 100):
            world(bus, emulator.insert_coin, value)
            await acceptor.sync(2)
        assert [c.value for c in events.of(CoinCredited)] == [100, 500, 100]
        assert acceptor.state() is A.ACCEPTING
    with_acceptor(body)


def test_the_counter_wraps_from_255_to_1_without_losing_or_doubling_a_coin():
    async def body(acceptor, emulator, bus, events):
        await acceptor.enable(frozenset({10}))
        for _ in range(5):
            world(bus, emulator.insert_coin, 10)
            await acceptor.sync(2)
        assert emulator.counter == 3
        credits = events.of(CoinCredited)
        assert len(credits) == 5 and len({c.credit_id for c in credits}) == 5
        assert not events.of(CoinEventsLost)
    with_acceptor(body, CoinAcceptorEmulator(2, counter=253))


def test_more_than_five_events_between_polls_are_reported_lost_never_credited():
    async def body(acceptor, emulator, bus, events):
        await acceptor.enable(frozenset({100}))
        with bus.lock:
            for _ in range(8):
                emulator.insert_coin(100)
        await acceptor.sync(2)
        assert [c.value for c in events.of(CoinCredited)] == [100] * 5  # the five still in the buffer
        assert [e.count for e in events.of(CoinEventsLost)] == [3]
        assert acceptor.state() is A.FAILURE and not emulator.master_enabled
        await acceptor.reset()
        assert acceptor.state() is A.DISABLED
    with_acceptor(body)


def test_a_reset_acceptor_counter_zero_is_reported_and_nothing_is_invented():
    async def body(acceptor, emulator, bus, events):
        await acceptor.enable(frozenset({100}))
        world(bus, emulator.insert_coin, 100)
        await acceptor.sync(2)
        world(bus, emulator.power_cycle)
        await acceptor.sync(2)
        assert [e.count for e in events.of(CoinEventsLost)] == [0]  # 0: an unknown number
        assert len(events.of(CoinCredited)) == 1 and acceptor.state() is A.FAILURE
        world(bus, emulator.insert_coin, 100)  # inhibited after the reset: returned
        await acceptor.sync(2)
        assert len(events.of(CoinCredited)) == 1 and events.of(CoinRejected)[-1].reason == "inhibited coin"
    with_acceptor(body)


def test_refused_credits_stay_in_the_buffer_and_come_back_in_order():
    async def body(acceptor, emulator, bus, events):
        await acceptor.enable(frozenset({50, 100}))
        events.refuse = 10**6  # the journal fails at every try (retries included) until it is back
        world(bus, emulator.insert_coin, 50)
        await acceptor.sync(2)
        world(bus, emulator.insert_coin, 100)
        await acceptor.sync(2)
        assert not events.of(CoinCredited)
        events.refuse = 0  # the journal is back: the next retry delivers both, in order
        for _ in range(40):  # retries every 0.05 s; a loaded machine may need a few
            await asyncio.sleep(0.05)
            await acceptor.sync(2)
            if len(events.of(CoinCredited)) >= 2:
                break
        assert [c.value for c in events.of(CoinCredited)] == [50, 100]
    with_acceptor(body, retry_interval=0.05)


def coins_while_the_kiosk_was_down(emulator, *values):
    """The kiosk process died with the acceptor enabled; the acceptor went on counting."""
    emulator.master_enabled, emulator.mask = True, 0xFFFF
    for value in values:
        emulator.insert_coin(value)


def test_credits_carry_the_acceptor_counter_and_other_events_move_it():
    async def body(acceptor, emulator, bus, events):
        assert events.of(CoinCounterMoved) == [CoinCounterMoved("coins", 17)]  # a first start: journal it
        await acceptor.enable(frozenset({100}))
        world(bus, emulator.insert_coin, 100)
        await acceptor.sync(2)
        assert [c.counter for c in events.of(CoinCredited)] == [18]
        assert len(events.of(CoinCounterMoved)) == 1  # the credit itself carries it
        world(bus, emulator.insert_coin, 10)  # inhibited: no money, but the counter moved
        await acceptor.sync(2)
        assert events.of(CoinCounterMoved)[-1].counter == 19
    with_acceptor(body, CoinAcceptorEmulator(2, counter=17))


def test_coins_the_acceptor_counted_beyond_the_journal_are_reconciled_never_credited():
    emulator = CoinAcceptorEmulator(2, counter=40)
    coins_while_the_kiosk_was_down(emulator, 100, 500)

    async def body(acceptor, emulator, bus, events):
        acceptor.resume_from(40)  # the journal holds every event up to 40
        await acceptor.start(events)
        assert [(e.count, e.unjournalled, e.amount) for e in events.of(CoinEventsLost)] == [(2, True, 600)]
        assert not events.of(CoinCredited) and acceptor.state() is A.FAILURE and not emulator.master_enabled
        assert events.of(CoinCounterMoved)[-1].counter == 42  # the journal catches up: reported once
        await acceptor.enable(frozenset({100}))  # out of service until staff count the box
        assert not emulator.master_enabled
    with_acceptor(body, emulator, start=False)


def test_more_coins_beyond_the_journal_than_the_buffer_holds_are_an_unknown_number():
    emulator = CoinAcceptorEmulator(2, counter=250)
    coins_while_the_kiosk_was_down(emulator, *[100] * 8)  # wraps to 3, with counter > 5 events unseen

    async def body(acceptor, emulator, bus, events):
        acceptor.resume_from(250)
        await acceptor.start(events)
        assert [(e.count, e.unjournalled) for e in events.of(CoinEventsLost)] == [(0, True)]
        assert not events.of(CoinCredited) and acceptor.state() is A.FAILURE
    with_acceptor(body, emulator, start=False)


def test_rejects_beyond_the_journal_or_a_power_up_move_no_money():
    emulator = CoinAcceptorEmulator(2, counter=40)
    emulator.insert_coin(100)  # inhibited: returned to the resident

    async def body(acceptor, emulator, bus, events):
        acceptor.resume_from(40)
        await acceptor.start(events)
        assert not events.of(CoinEventsLost) and acceptor.state() is A.DISABLED
        assert events.of(CoinCounterMoved)[-1].counter == 41
        await acceptor.stop()
        world(bus, emulator.power_cycle)  # counter 0: its buffer is empty, nothing was taken since
        events.clear()
        acceptor.resume_from(41)
        await acceptor.start(events)
        assert not events.of(CoinEventsLost) and acceptor.state() is A.DISABLED
        assert events.of(CoinCounterMoved) == [CoinCounterMoved("coins", 0)]
    with_acceptor(body, emulator, start=False)


def test_an_acceptor_without_our_coins_or_address_refuses_to_start():
    async def body(acceptor, emulator, bus, events):
        with pytest.raises(DeviceError, match=r"not programmed for JP coins \[500\]"):
            await acceptor.start(events)
        elsewhere = CcTalkCoinAcceptor(bus.port, address=7, reply_timeout=0.05)
        with pytest.raises(DeviceUnavailable, match="no answer at ccTalk address 7"):
            await elsewhere.start(events)
    with_acceptor(body, CoinAcceptorEmulator(2, coin_ids={1: b"JP010A", 2: b"JP050A", 3: b"JP100A",
                                                         4: b"GB050A"}), start=False)


# -- the hopper ------------------------------------------------------------------------------------------------


def with_hopper(body, stock=50, actual=None, **options):
    emulator = HopperEmulator(3, stock=stock if actual is None else actual, low_level=5,
                              security=options.get("security", "serial_number"))
    bus = CcTalkBusEmulator(emulator).start()
    hopper = CcTalkHopper(bus.port, 3, 100, stock=stock, poll_interval=0.005, reply_timeout=0.1, **options)

    async def main():
        await hopper.start(Events())
        try:
            await body(hopper, emulator, bus)
        finally:
            await hopper.stop()
    try:
        asyncio.run(main())
    finally:
        bus.close()


def test_a_lost_dispense_reply_is_reconciled_from_the_status_and_never_sent_again():
    async def body(hopper, emulator, bus):
        bus.drop_next_replies(1, header=167)
        assert await hopper.dispense(4) == DispenseResult(4, 4, 0)
        assert emulator.dispenses == 1 and emulator.tray == 4 and hopper.coins_estimate() == 46
    with_hopper(body)


def test_a_dispense_the_hopper_never_heard_is_sent_again_once_the_status_shows_it():
    async def body(hopper, emulator, bus):
        bus.ignore_next(167)
        assert await hopper.dispense(3) == DispenseResult(3, 3, 0)
        assert emulator.dispenses == 1 and emulator.tray == 3
        assert [h for a, h in bus.received].count(167) == 1  # the garbled one never reached the hopper
    with_hopper(body)


def test_a_hopper_that_empties_mid_payout_reports_the_rest_unpaid():
    async def body(hopper, emulator, bus):
        assert hopper.state() is H.LOW  # 3 coins really inside: the low-level sensor is uncovered
        assert await hopper.dispense(5) == DispenseResult(5, 3, 2)
        assert emulator.tray == 3 and emulator.dispenses == 1
        assert hopper.state() is H.EMPTY and hopper.coins_estimate() == 0
        assert await hopper.dispense(1) == DispenseResult(1, 0, 1) and emulator.dispenses == 1
    with_hopper(body, stock=20, actual=3)


def test_a_jam_mid_payout_reports_what_left_and_stops_the_hopper():
    async def body(hopper, emulator, bus):
        emulator.jam_after = 2
        assert await hopper.dispense(6) == DispenseResult(6, 2, 4)
        assert hopper.state() is H.JAMMED and emulator.tray == 2
        assert await hopper.dispense(1) == DispenseResult(1, 0, 1) and emulator.dispenses == 1
        await hopper.reset()  # staff cleared the jam
        assert hopper.state() is H.READY and await hopper.dispense(1) == DispenseResult(1, 1, 0)
    with_hopper(body)


def test_a_hopper_silent_for_a_while_after_the_dispense_reports_what_it_really_paid():
    async def body(hopper, emulator, bus):
        emulator.silent_after_dispense = 1.5  # busy with its motor: no answer for longer than three polls
        result = await hopper.dispense(4)
        assert emulator.tray == 4 and emulator.dispenses == 1  # the coins did leave, once
        assert result == DispenseResult(4, 4, 0)  # and the kiosk books them as paid, not owed
        assert hopper.state() is H.READY and hopper.coins_estimate() == 46
    with_hopper(body)


def test_a_hopper_lost_for_good_after_the_dispense_says_unknown_and_never_pays_twice():
    async def body(hopper, emulator, bus):
        emulator.silent_after_dispense = True  # it took the dispense, then its cable came loose
        result = await hopper.dispense(2)
        assert emulator.tray == 2 and emulator.dispenses == 1  # it paid both; the kiosk cannot know that
        assert result == DispenseResult(2, 0, 0, unknown=2)  # unknown: not booked as unpaid, never resent
        assert hopper.state() is H.OFFLINE and hopper.coins_estimate() is None
        assert await hopper.dispense(1) == DispenseResult(1, 0, 1) and emulator.dispenses == 1
    with_hopper(body, seconds_per_coin=0.05, payout_grace=0.2, answer_within=0.3)


def test_a_lost_dispense_reply_then_silence_is_unknown_not_unpaid():
    async def body(hopper, emulator, bus):
        bus.drop_next_replies(1, header=167)
        emulator.silent_after_dispense = True
        result = await hopper.dispense(3)
        assert emulator.tray == 3 and emulator.dispenses == 1
        assert result == DispenseResult(3, 0, 0, unknown=3) and hopper.state() is H.OFFLINE
    with_hopper(body, seconds_per_coin=0.05, payout_grace=0.2, answer_within=0.3)


def test_a_lost_dispense_reply_then_a_pause_is_reconciled_once_the_hopper_answers():
    async def body(hopper, emulator, bus):
        bus.drop_next_replies(1, header=167)
        emulator.silent_after_dispense = 1.5
        assert await hopper.dispense(3) == DispenseResult(3, 3, 0)
        assert emulator.tray == 3 and emulator.dispenses == 1 and hopper.state() is H.READY
    with_hopper(body)


def test_large_payouts_go_in_batches_of_255_and_the_low_sensor_is_read():
    async def body(hopper, emulator, bus):
        emulator.seconds_per_coin = 0.0001
        assert await hopper.dispense(300) == DispenseResult(300, 300, 0)
        assert emulator.dispenses == 2 and hopper.state() is H.LOW and hopper.coins_estimate() == 3
    with_hopper(body, stock=303)


def test_the_no_encryption_dispense_variant():
    async def body(hopper, emulator, bus):
        assert await hopper.dispense(2) == DispenseResult(2, 2, 0)
        headers = [h for a, h in bus.received]
        assert headers[headers.index(167) - 2:headers.index(167) + 1] == [161, 160, 167]
    with_hopper(body, security="no_encryption")


def test_the_factory_builds_an_acceptor_and_hoppers_on_one_bus():
    acceptor = build_device("coins", {"driver": "cctalk", "port": "/dev/ttyUSB1", "address": 2})
    hoppers = build_device("hoppers", {"driver": "cctalk", "port": "/dev/ttyUSB1", "addresses": {"500": 3, "100": 4},
                                       "stock": {"500": 40, "100": 50}})
    assert isinstance(acceptor, CcTalkCoinAcceptor) and [h.coin_value for h in hoppers] == [500, 100]
    assert all(h.bus is acceptor.bus for h in hoppers) and hoppers[1].coins_estimate() == 50
    with pytest.raises(DeviceConfigError, match="devices.hoppers: two hoppers share one address"):
        build_device("hoppers", {"driver": "cctalk", "port": "/dev/ttyUSB1", "addresses": {"500": 3, "100": 3},
                                 "stock": {}})
    with pytest.raises(DeviceConfigError, match="devices.coins: port must be"):
        build_device("coins", {"driver": "cctalk"})
