"""The visit table's small actions: each event the table routes to a step that is only a line or two (an audit
entry, a flag, handing on to the step that does the work).  A mixin of :class:`firmware.controller.Kiosk`; the
table itself is :mod:`firmware.visit_table`."""
from __future__ import annotations

from hal.card import CardPlaced, CardRemoved
from hal.notes import NoteEscrowed
from hal.printer import DocumentTaken
from hal.signals import DoorClosed, DoorOpened
from hal.signals import BuzzerPattern
from firmware.visit import (Back, ChooseCertificate, ChooseLanguage, EnterPin, MoreTime, SetOptions, SilenceVoice,
                            Speak, TakeChange, VoiceControl, VisitState as S, next_volume)


class TableActions:
    async def _on_note_escrowed(self, event: NoteEscrowed) -> None:
        await self.cashier.on_note_escrowed(event.value)

    async def _on_cash_device_state(self, event) -> None:
        await self._cash_device_failed(event.device, event.state.value)

    async def _on_outlet_emptied(self, event: DocumentTaken) -> None:
        # the certificate, and the refund slip once it has been printed into the outlet
        await self._item_taken("document", *(("slip",) if self.visit.slip_printed else ()))

    async def _on_change_taken(self, intent: TakeChange) -> None:
        await self._item_taken("change")

    async def _on_door_opened(self, event: DoorOpened) -> None:
        self.audit.emit("door.opened")
        await self._fault("door_open")

    def _on_door_closed(self, event: DoorClosed) -> None:
        self.audit.emit("door.closed")
        self._next_readiness = 0.0

    def _on_staff_call(self, item) -> None:
        self._call_staff()

    def _on_language(self, intent: ChooseLanguage) -> None:
        self.language = intent.language
        if self.state is not S.OUT_OF_SERVICE and not self.screens_speak:
            self._say(f"prompt.{self.state.value}")

    def _on_silence(self, intent: SilenceVoice) -> None:
        self.devices.voice.silence()

    def _on_speak(self, intent: Speak) -> None:
        if intent.by_key:
            self._activity()
        text, language = intent.text, intent.language or self.language
        fallback = None if intent.by_key or self.state is S.OUT_OF_SERVICE else f"prompt.{self.state.value}"

        async def speak() -> None:
            # no speech engine (or it failed): the state's recorded prompt, else the buzzer; a key's echo stays quiet
            voice = self.devices.voice
            if await voice.speak(text, language) or fallback is None:
                return
            if not await voice.say(fallback, language):
                self.devices.signals.buzz(BuzzerPattern.ATTENTION)

        self._spawn_forever(speak(), "voice")

    def _on_voice_control(self, intent: VoiceControl) -> None:
        voice = self.devices.voice
        if intent.action == "tick":
            self._activity()
            self._spawn_forever(voice.tick(), "voice-tick")
            return
        if intent.action in ("louder", "softer"):
            step = 1 if intent.action == "louder" else -1
            self.voice_volume = next_volume(self.voice_volume, step)
            voice.set_volume(self.voice_volume)
        elif intent.action == "slower":
            self.voice_slow = not self.voice_slow
            voice.set_slow(self.voice_slow)
        else:
            return
        self._activity()

    async def _on_card_placed(self, event: CardPlaced) -> None:
        await self._begin_visit(event.kind)

    def _on_card_placed_out_of_service(self, event: CardPlaced) -> None:
        self._read_staff_card(event.kind)  # staff come when it is out of service: their card opens it

    def _on_card_lifted_out_of_service(self, event: CardRemoved) -> None:
        self._next_readiness = 0.0  # (a forgotten card lifted: back in service at the next tick)

    async def _on_card_lifted_before_paying(self, event: CardRemoved) -> None:
        self.audit.emit("visit.card_lifted", visit=self.visit.number, state=self.state.value)
        self._abandon_operations()
        await self._end_visit("card_lifted")

    async def _on_card_returned(self, event: CardRemoved) -> None:
        await self._after_card_returned()

    def _on_enter_pin(self, intent: EnterPin) -> None:
        self._activity()
        self._enter_pin(intent)

    def _on_choose(self, intent: ChooseCertificate) -> None:
        self._activity()
        self._choose(intent.certificate)

    def _on_set_options(self, intent: SetOptions) -> None:
        self._activity()
        self._set_options(intent)

    def _on_back(self, intent: Back) -> None:
        self._enter(S.MENU if self.state is S.OPTIONS else S.OPTIONS)

    def _on_more_time(self, intent: MoreTime) -> None:
        self._arm_deadline()
