"""The card simulator's own promises: card files, a counter that persists in them, latency, a PIN never kept."""
from __future__ import annotations

import asyncio
import gc
import json

import pytest

from hal.card.contract import CardKind, CardPlaced, Pin, digest_info_sha256
from hal.card.sim import SimCard, SimCardReader
from hal.card.testcards import make_citizen_card, make_test_card, write_card_file
from hal.events import DeviceError


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def cards_dir(tmp_path):
    write_card_file(make_test_card("resident A", pin="1234"), tmp_path, "resident-a")
    write_card_file(make_citizen_card("C0000001"), tmp_path, "resident-b")
    return tmp_path


def test_a_card_file_round_trips(cards_dir):
    card = SimCard.load(cards_dir / "resident-a.json")
    assert card.kind is CardKind.MY_NUMBER and card.label == "resident A" and card.tries_left == 3
    assert SimCard.load(cards_dir / "resident-b.json").card_id == "C0000001"
    data = json.loads((cards_dir / "resident-a.json").read_text())
    assert set(data) == {"kind", "label", "pin", "tries_left", "certificate", "private_key",
                         "sign_tries_left"}


def test_cards_are_placed_by_name_and_the_counter_is_written_back_to_the_file(cards_dir):
    async def main():
        events = []

        async def sink(e):
            events.append(e)
        reader = SimCardReader(cards_dir=cards_dir)
        await reader.start(sink)
        await reader.place_card("resident-a")
        assert (await reader.verify_pin(Pin("0000"))).tries_left == 2
        await reader.lift_card()
        assert json.loads((cards_dir / "resident-a.json").read_text())["tries_left"] == 2
        fresh = SimCardReader(cards_dir=cards_dir)  # another kiosk, the same card
        await fresh.start(sink)
        await fresh.place_card("resident-a")
        assert await fresh.pin_tries_left() == 2
        assert (await fresh.verify_pin(Pin("1234"))).tries_left == 3
        assert json.loads((cards_dir / "resident-a.json").read_text())["tries_left"] == 3
        assert (cards_dir / "resident-a.json").stat().st_mode & 0o077 == 0  # a private key stays private
        assert [e.kind for e in events if isinstance(e, CardPlaced)] == [CardKind.MY_NUMBER] * 2
    run(main())


def test_an_unknown_card_name_lists_the_known_ones(cards_dir):
    async def main():
        reader = SimCardReader(cards_dir=cards_dir)
        with pytest.raises(DeviceError, match="resident-a, resident-b"):
            await reader.place_card("resident-z")
        with pytest.raises(DeviceError, match="not a card name"):
            await reader.place_card("../etc/passwd")
        with pytest.raises(DeviceError, match="no cards directory"):
            await SimCardReader().place_card("resident-a")
    run(main())


def test_a_second_card_cannot_be_placed_on_top_of_the_first():
    async def main():
        reader = SimCardReader()
        await reader.place_card(make_citizen_card())
        with pytest.raises(DeviceError, match="already"):
            await reader.place_card(make_citizen_card("C2"))
    run(main())


def test_the_simulator_does_not_keep_the_pin():
    async def main():
        reader = SimCardReader()
        await reader.place_card(make_test_card(pin="1234"))
        pin = Pin("4321")
        await reader.verify_pin(pin)
        gc.collect()
        holders = [r for r in gc.get_referrers(pin) if r is not locals() and not asyncio.iscoroutine(r)
                   and not type(r).__name__ == "frame"]
        assert holders == []
    run(main())


def test_a_card_lifted_during_the_latency_of_a_command_is_noticed():
    async def main():
        reader = SimCardReader(latency=0.05)
        await reader.place_card(make_test_card())
        pending = asyncio.ensure_future(reader.pin_tries_left())
        await asyncio.sleep(0.01)
        await reader.lift_card()
        with pytest.raises(DeviceError, match="no card"):
            await pending
    run(main())


def test_the_card_does_not_sign_with_a_pin_verified_before_the_reader_was_unplugged():
    async def main():
        reader = SimCardReader()
        await reader.place_card(make_test_card(pin="1234"))
        await reader.verify_pin(Pin("1234"))
        await reader.unplug()
        await reader.plug_in()
        with pytest.raises(DeviceError, match="verified PIN"):
            await reader.sign(digest_info_sha256(b"x"))
    run(main())


def test_repr_shows_neither_pin_nor_key():
    card = make_test_card(pin="5678")
    assert "5678" not in repr(card) and "PRIVATE" not in repr(card)
