"""Harnesses that run the conformance suites against the simulators (see ``harness.py`` for the protocol)."""
from __future__ import annotations

from hal.card.sim import SimCard, SimCardReader
from hal.card.testcards import make_citizen_card, make_test_card, make_unknown_card
from hal.coins.sim import SimCoinAcceptor, SimHopper
from hal.notes.sim import SimNoteValidator
from hal.signals.sim import SimIndicators
from hal.voice.sim import SimVoice

from .harness import RecordingSink


class _SimHarness:
    device = None

    def __init__(self):
        self.sink = RecordingSink()

    async def start(self) -> None:
        await self.device.start(self.sink)

    async def stop(self) -> None:
        await self.device.stop()

    async def settle(self) -> None:
        pass  # a simulator reports at once


class SimCardReaderHarness(_SimHarness):
    def __init__(self):
        super().__init__()
        self.reader = self.device = SimCardReader("card_reader")
        self._last: SimCard | None = None

    async def _place(self, card: SimCard) -> None:
        self._last = card
        await self.reader.place_card(card)

    async def place_my_number_card(self, pin: str = "1234", tries_left: int = 3) -> None:
        await self._place(make_test_card(pin=pin, tries_left=tries_left))

    async def place_citizen_card(self, card_id: str) -> None:
        await self._place(make_citizen_card(card_id))

    async def place_unknown_card(self) -> None:
        await self._place(make_unknown_card())

    async def lift_card(self) -> None:
        await self.reader.lift_card()

    async def replace_card(self) -> None:
        assert self._last is not None, "no card was placed"
        await self.reader.lift_card()
        await self.reader.place_card(self._last)

    async def lift_during_next_operation(self) -> None:
        self.reader.lift_during_next_operation()

    async def unplug_reader(self) -> None:
        await self.reader.unplug()

    async def plug_in_reader(self) -> None:
        await self.reader.plug_in()

    def tries_left_on_card(self) -> int:
        assert self._last is not None, "no card was placed"
        return self._last.tries_left


class SimNoteValidatorHarness(_SimHarness):
    def __init__(self):
        super().__init__()
        self.validator = self.device = SimNoteValidator("notes", retry_interval=None)

    async def insert_note(self, value: int) -> None:
        await self.validator.insert_note(value)

    async def insert_unrecognised_note(self) -> None:
        await self.validator.insert_note(1000, genuine=False)

    async def jam_stacker_on_next_stack(self) -> None:
        self.validator.jam_stacker_on_next_stack()

    async def jam_acceptor(self) -> None:
        await self.validator.jam_acceptor()

    async def remove_cashbox(self) -> None:
        await self.validator.remove_cashbox()

    async def fill_stacker_after(self, notes: int) -> None:
        await self.validator.fill_stacker_after(notes)

    async def power_cycle(self) -> None:
        await self.validator.power_cycle()

    async def let_device_retry(self) -> None:
        await self.validator.redeliver_unacknowledged()


class SimCoinAcceptorHarness(_SimHarness):
    def __init__(self):
        super().__init__()
        self.acceptor = self.device = SimCoinAcceptor("coins", retry_interval=None)

    async def insert_coin(self, value: int) -> None:
        await self.acceptor.insert_coin(value)

    async def insert_unrecognised_coin(self) -> None:
        await self.acceptor.insert_coin(100, genuine=False)

    async def jam(self) -> None:
        await self.acceptor.jam()

    async def lose_events(self, count: int) -> None:
        await self.acceptor.lose_events(count)

    async def let_device_retry(self) -> None:
        await self.acceptor.redeliver_unacknowledged()


class SimHopperHarness:
    def __init__(self):
        self.sink = RecordingSink()
        self._hoppers: list[SimHopper] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for hopper in self._hoppers:
            await hopper.stop()

    async def settle(self) -> None:
        pass

    async def hopper(self, coin_value: int, stock: int, low_level: int = 10) -> SimHopper:
        hopper = SimHopper(coin_value, stock=stock, low_level=low_level)
        await hopper.start(self.sink)
        self._hoppers.append(hopper)
        return hopper

    def short_of_coins(self, hopper: SimHopper, actual: int) -> None:
        hopper.short_of_coins(actual)

    def jam_after(self, hopper: SimHopper, coins: int) -> None:
        hopper.jam_after(coins)

    def lose_contact_during_next_payout(self, hopper: SimHopper) -> None:
        hopper.lose_contact_during_next_payout()

    def coins_in_tray(self, hopper: SimHopper) -> int:
        return hopper.paid_out


class SimSignalsHarness(_SimHarness):
    def __init__(self):
        super().__init__()
        self.now = 1000.0
        self.indicators = self.device = SimIndicators("signals", clock=lambda: self.now)

    def observed(self, what) -> list:
        return self.indicators.history(what)

    async def open_door(self) -> None:
        await self.indicators.open_door()

    async def close_door(self) -> None:
        await self.indicators.close_door()

    async def press_staff_call(self) -> None:
        await self.indicators.press_staff_call()

    async def wait(self, seconds: float) -> None:
        self.now += seconds


class SimVoiceHarness(_SimHarness):
    def __init__(self):
        super().__init__()
        self.voice = self.device = SimVoice("voice")

    def make_missing(self, message_id: str, language: str) -> None:
        self.voice.make_missing(message_id, language)

    def played(self) -> list[tuple[str, str]]:
        return list(self.voice.said)
