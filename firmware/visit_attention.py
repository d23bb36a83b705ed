"""Lights, voice and reminders: telling the resident where to look, and not letting them leave their card,
their certificate or their change behind.

A mixin of :class:`firmware.controller.Kiosk`.  Each state has a spoken prompt (message id = ``prompt.<state>``)
and a guide light.  At the end of a visit the reminders escalate while an item is left: voice at once, the
buzzer after ``BUZZER_AFTER_S``, the staff beacon after ``BEACON_AFTER_S``.  A card is never left behind on an
idle kiosk: once its visit has ended the kiosk stays out of service (``CARD_LEFT``), its voice asking again every
``CARD_VOICE_EVERY_S``, with buzzer and beacon on, until the card leaves the reader.  A prompt that cannot be
played falls back to the buzzer.

A certificate is known to be taken only from the printer's outlet sensor.  A printer without one
(:attr:`hal.printer.PrinterCapabilities.outlet_sensor` False, e.g. ``status = "realtime"``) can never say so: the
resident is still told to take it, but it does not escalate, and when "take your certificate" times out the visit
ends normally (audit ``reminder.unconfirmed``) instead of taking the kiosk out of service for a document left in
an outlet nobody can see.
"""
from __future__ import annotations

from hal.printer import capabilities_of
from hal.signals import BuzzerPattern, GuideLight, LightPattern
from firmware.visit import VisitState as S

BUZZER_AFTER_S = 15.0
BEACON_AFTER_S = 30.0
CARD_LEFT = "card_left_on_reader"
"""Out-of-service reason while a card nobody's visit holds lies on the reader: voice, buzzer and beacon stay on
until it is lifted (by its owner, or by staff)."""
CARD_VOICE_EVERY_S = 30.0
OUTLET_ITEMS = frozenset({"document", "slip"})
"""What lies in the printer's outlet: the certificate and the refund slip (one outlet sensor sees both)."""

_LIGHTS = {
    S.IDLE: {GuideLight.CARD_READER: LightPattern.PULSE},
    S.PAYING: {GuideLight.CASH: LightPattern.PULSE},
    S.RETURN_CARD: {GuideLight.CARD_READER: LightPattern.PULSE},
}


class AttentionSteps:

    def _on_enter_attention(self, state: S) -> None:
        self._reminder_level = 0
        signals = self.devices.signals
        wanted = dict(_LIGHTS.get(state, {}))
        if state is S.TAKE_ITEMS:
            if self.visit.items & OUTLET_ITEMS:
                wanted[GuideLight.OUTLET] = LightPattern.PULSE
            if "change" in self.visit.items:
                wanted[GuideLight.CHANGE] = LightPattern.PULSE
        for light in GuideLight:
            signals.set_light(light, wanted.get(light, LightPattern.OFF))
        if state not in (S.RETURN_CARD, S.TAKE_ITEMS) and signals.buzzer() is BuzzerPattern.REMINDER:
            signals.buzz(BuzzerPattern.SILENT)
        if state is not S.OUT_OF_SERVICE and not self.screens_speak:
            self._say(f"prompt.{state.value}")  # (with screens, the screen says it, with what it shows)

    def _say(self, message_id: str) -> None:
        async def say() -> None:
            if not await self.devices.voice.say(message_id, self.language):
                self.devices.signals.buzz(BuzzerPattern.ATTENTION)

        self._spawn_forever(say(), "voice")

    def _remind_card_left(self) -> None:
        signals = self.devices.signals
        signals.set_beacon(True)
        signals.buzz(BuzzerPattern.REMINDER)
        self._card_voice_at = self.clock.now()
        self._say("prompt.return_card")

    def _unconfirmable(self) -> set[str]:
        """Items whose taking no sensor reports: the certificate, when the printer has no outlet sensor."""
        return set() if capabilities_of(self.devices.printer).outlet_sensor else set(OUTLET_ITEMS)

    async def _attention_tick(self, now: float) -> None:
        if self.state is S.RETURN_CARD and self.devices.card_reader.card_kind() is None:
            await self._after_card_returned()  # (its lift was seen before the visit asked for it)
            return
        if self.state is S.OUT_OF_SERVICE and self.out_of_service_reason == CARD_LEFT \
                and now - self._card_voice_at >= CARD_VOICE_EVERY_S:
            self._remind_card_left()
        if self.state not in (S.RETURN_CARD, S.TAKE_ITEMS):
            return
        elapsed = now - self._entered_at
        watched = self.visit.items - self._unconfirmable()
        if self.state is S.TAKE_ITEMS and not watched:
            return  # only a certificate nobody can see taken: no alarm for what is most likely gone
        item = "card" if self.state is S.RETURN_CARD else (
            "document" if watched & OUTLET_ITEMS else "change")
        if elapsed >= BEACON_AFTER_S and self._reminder_level < 2:
            self._reminder_level = 2
            self.devices.signals.set_beacon(True)
            self.audit.emit("reminder.escalated", visit=self.visit.number, item=item, level="beacon")
        elif elapsed >= BUZZER_AFTER_S and self._reminder_level < 1:
            self._reminder_level = 1
            self.devices.signals.buzz(BuzzerPattern.REMINDER)
            if not self.screens_speak:  # (a screen says the reminder it shows)
                self._say(f"prompt.{self.state.value}")
            self.audit.emit("reminder.escalated", visit=self.visit.number, item=item, level="buzzer")

    def _attention_off(self) -> None:
        signals = self.devices.signals
        signals.buzz(BuzzerPattern.SILENT)
        if self._fault_after_visit is None and not self.refund_alarm:
            signals.set_beacon(False)

    async def _return_card(self, message: str) -> None:
        """Ask for the card back, unless it has already left the reader (lifted while paying)."""
        self._enter(S.RETURN_CARD, message)
        if self.devices.card_reader.card_kind() is None:
            await self._after_card_returned()

    async def _after_card_returned(self) -> None:
        """The card is off the reader: what else must the resident take?"""
        if self.visit.items:
            self._enter(S.TAKE_ITEMS)
        else:
            await self._end_visit()

    async def _item_taken(self, *items: str) -> None:
        self.visit.items.difference_update(items)
        if self.state is S.TAKE_ITEMS:
            if self.visit.items:
                self._on_enter_attention(S.TAKE_ITEMS)
            else:
                await self._end_visit()

    async def _items_abandoned(self, item: object = None) -> None:
        if self.state is S.RETURN_CARD:
            self.audit.emit("reminder.abandoned", visit=self.visit.number, item="card")
            self.devices.signals.set_beacon(True)
            if self.visit.items:
                self._enter(S.TAKE_ITEMS)
                return
        unconfirmable = self._unconfirmable()
        for item in sorted(self.visit.items):
            event = "reminder.unconfirmed" if item in unconfirmable else "reminder.abandoned"
            self.audit.emit(event, visit=self.visit.number, item=item)
        if self.visit.items & OUTLET_ITEMS - unconfirmable:
            self._fault_after_visit = "document_left_in_outlet"
        await self._end_visit()
