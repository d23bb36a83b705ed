"""Refund owed is a document, not a sentence: the slip, the reference on screen and aloud, and the staff alarm.

A mixin of :class:`firmware.controller.Kiosk`.  When a settlement leaves money the hoppers could not pay
(``refund_owed``), the resident must not leave with nothing:

- the kiosk prints a refund slip (:mod:`firmware.refund_slip`: amount, date, kiosk, reference, a QR signed with
  the kiosk's device key that the counter checks with ``kiosk-server verify``) and waits for it to be taken with
  the rest (item ``slip``);
- the screen shows the reference in large characters whatever happens; if the slip cannot be printed (no paper,
  a fault, no key), the voice reads the reference out, character by character;
- the staff beacon goes on and stays on after the visit until staff acknowledge it in maintenance
  (:meth:`acknowledge_refund_alarm`); a refund owed found by recovery at start-up lights it too.

The amount itself reaches the server with the transaction's result (the journal's outbox), where staff pay it
and mark it paid (``kiosk-server refund-paid``).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from certs.refund_slip import reference_for
from firmware import refund_slip
from hal.signals import BuzzerPattern
from firmware.visit import VisitState as S

log = logging.getLogger("kiosk.refunds")

CHAR_GAP_S = 1.2
"""How long a character of the spoken reference may take before the next one is said."""


class RefundSteps:
    """Uses the Kiosk's declared ``slip_key`` (None: no slip can be signed, the voice reads the reference) and
    ``refund_alarm``."""

    def _refund_owed(self, txn: str, amount: int, unconfirmed: int = 0) -> None:
        """A settlement of the current visit left ``amount`` owed, ``unconfirmed`` of it from a payout of unknown
        outcome: the alarm for all of it, a slip only for what is owed for certain (a slip is a claim anyone
        holding it can make; coins that may have left need a count first)."""
        visit = self.visit
        visit.refund_reference = reference_for(txn)
        self.refund_alarm = True
        self.devices.signals.set_beacon(True)
        if amount - unconfirmed <= 0:
            return
        visit.items.add("slip")  # the visit waits for it (or for its failure) before it can end
        visit.slip_amount = amount - unconfirmed
        self._spawn("slip", self._print_slip(txn, visit.slip_amount))

    async def _done_slip(self, printed: bool | None, error: BaseException | None) -> None:
        visit = self.visit
        if error is not None:  # a slip that cannot print must never break the visit: the reference is spoken
            log.warning("refund slip for txn=%s did not print: %s", visit.txn, type(error).__name__)
        printed = bool(printed) and error is None
        self.audit.emit("refund.slip", txn=visit.txn, amount=visit.slip_amount, printed=printed)
        visit.slip_printed = printed
        if not printed:
            visit.items.discard("slip")
            self._say_reference(visit.refund_reference)
            if self.state is S.TAKE_ITEMS and not visit.items:
                await self._end_visit()

    async def _print_slip(self, txn: str, amount: int) -> bool:
        printer = self.devices.printer
        if self.slip_key is None or not (await printer.status()).can_print:
            return False
        slip = refund_slip.build_slip(txn, amount, self.settings.kiosk_id, datetime.now(timezone.utc), self.slip_key)
        raster = await asyncio.to_thread(refund_slip.render_slip, slip, printer.width_dots, printer.dpi)
        await printer.print_page(raster)
        await printer.cut()
        return True

    def _say_reference(self, reference: str) -> None:
        """"Your reference is" and then each character, in the visit's language (with screens, the screen says it
        as it shows it)."""
        if self.screens_speak:
            return
        ids = ["prompt.refund_reference"] + [f"prompt.char.{c}" for c in reference if c != "-"]
        language = self.language

        async def say_all() -> None:
            voice = self.devices.voice
            for message_id in ids:
                if not await voice.say(message_id, language):
                    self.devices.signals.buzz(BuzzerPattern.ATTENTION)
                    return
                end = self.clock.now() + CHAR_GAP_S
                while voice.speaking() == message_id and self.clock.now() < end:
                    await self.clock.sleep(0.05)

        self._spawn_forever(say_all(), "voice-reference")

    def acknowledge_refund_alarm(self) -> bool:
        """Staff saw the refund owed (maintenance): the beacon may go off.  False if there was nothing to ack."""
        if not self.refund_alarm:
            return False
        self.refund_alarm = False
        if self._fault_after_visit is None and self.out_of_service_reason is None:
            self.devices.signals.set_beacon(False)
        return True
