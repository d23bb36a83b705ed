"""The first half of a visit: reading the card, the PIN and sign-in, the menu, options and the quote.

A mixin of :class:`firmware.controller.Kiosk`.  No money is at stake yet; any failure sends the resident to take
their card back with a message id that says why.
"""
from __future__ import annotations

from certs import wire
from hal.card import CardKind
from firmware import operations as ops
from firmware.server_client import ServerUnavailable
from firmware.visit import EnterPin, SetOptions, Visit, VisitState as S


class SigninSteps:
    async def _begin_visit(self, kind: CardKind) -> None:
        reason = await self._readiness()
        if reason:
            await self._go_out_of_service(reason)
            return
        self._visits += 1
        self._epoch += 1
        self.visit = Visit(self._visits)
        self.audit.emit("visit.started", visit=self.visit.number, card=kind.value)
        self._enter(S.READING)
        self._spawn("read_card", ops.read_card(self.devices.card_reader))

    async def _done_read_card(self, card: ops.CardRead | None, error: BaseException | None) -> None:
        if error is not None or card is None or card.kind is CardKind.UNKNOWN:
            reason = "card_unreadable" if error is not None else "card_unsupported"
            self.audit.emit("card.refused", visit=self.visit.number, reason=reason)
            self._enter(S.RETURN_CARD, reason)
            return
        if card.kind is CardKind.CITIZEN and self.staff_card_check is not None and self.staff_card_check(
                card.card_id):
            await self._end_visit("staff_card")  # a staff card opens maintenance mode, not a visit
            return
        self.visit.card = card
        if card.kind is CardKind.MY_NUMBER and card.tries_left == 0:
            self.audit.emit("card.pin_locked", visit=self.visit.number)
            self._enter(S.RETURN_CARD, "pin_locked")
            return
        self.visit.tries_left = card.tries_left
        self._enter(S.PIN, "pin_last_try" if card.tries_left == 1 else None)

    def _read_staff_card(self, kind: CardKind) -> None:
        """A card placed on a kiosk out of service: only a staff card means anything (it opens maintenance)."""
        if kind is CardKind.CITIZEN and self.staff_card_check is not None and not self.visit.busy:
            self._spawn("staff_card", ops.read_card(self.devices.card_reader))

    async def _done_staff_card(self, card: ops.CardRead | None, error: BaseException | None) -> None:
        if error is None and card is not None and card.kind is CardKind.CITIZEN and self.state is S.OUT_OF_SERVICE:
            if self.staff_card_check(card.card_id):
                self._next_readiness = 0.0  # out of service for maintenance now, not for what it was

    def _enter_pin(self, intent: EnterPin) -> None:
        if intent.pin is None or intent.pin.wiped:
            self.visit.message = "pin_format"
            return
        pin = intent.pin.copy()  # the sign-in's own copy, wiped when the card or the server has answered
        card = self.visit.card
        if card.kind is CardKind.MY_NUMBER:
            self._spawn("sign_in", ops.sign_in_my_number(self.devices.card_reader, self.server,
                                                         self.settings.kiosk_id, card.certificate, pin,
                                                         self.nonces))
        else:
            self._spawn("sign_in", ops.sign_in_citizen(self.server, card.card_id, pin))

    async def _done_sign_in(self, result, error: BaseException | None) -> None:
        visit = self.visit
        if isinstance(result, ops.PinRefused):
            visit.tries_left = result.tries_left
            if result.tries_left == 0:
                self.audit.emit("card.pin_locked", visit=visit.number)
                self._enter(S.RETURN_CARD, "pin_locked")
            else:
                self.audit.emit("card.pin_wrong", visit=visit.number, tries_left=result.tries_left)
                self._enter(S.PIN, "pin_last_try" if result.tries_left == 1 else "pin_wrong")
            return
        if error is not None:
            self._server_trouble("sign_in", error)
            self._enter(S.RETURN_CARD, message_for(error, "signin_failed"))
            return
        visit.session, visit.offers, visit.household = result.session, result.offers, result.household
        if result.nonce_refused:  # a prefetched nonce the server would not take: a fresh one was signed instead
            self.audit.emit("signin.nonce_replaced", visit=visit.number, code=result.nonce_refused)
        self.audit.emit("signin.succeeded", visit=visit.number,
                        method="jpki" if visit.card.kind is CardKind.MY_NUMBER else "citizen")
        self._enter(S.MENU)
        self._fetch_forms()  # the e-applications, if this kiosk offers them (firmware.visit_application)

    def _choose(self, certificate: str) -> None:
        offer = next((o for o in self.visit.offers if o.certificate.value == certificate), None)
        if offer is None or not offer.available:
            self.visit.message = "not_available" if offer is None else f"reason.{offer.reason.value}"
            return
        self.visit.certificate, self.visit.options, self.visit.copies = certificate, {}, 1
        self.visit.service = None
        self._enter(S.OPTIONS)

    def _set_options(self, intent: SetOptions) -> None:
        offer = next(o for o in self.visit.offers if o.certificate.value == self.visit.certificate)
        limit = min(offer.max_copies, self.settings.max_copies)
        if not 1 <= intent.copies <= limit:
            self.visit.message = "copies_out_of_range"
            return
        self.visit.options, self.visit.copies = dict(intent.options), intent.copies
        if self.quote_at_confirm:  # version 2: the fee shown is the menu's; the quote is asked for at Confirm
            self.visit.quote, self.visit.expected_fee = None, offer.fee * intent.copies
            self._enter(S.CONFIRM)
            return
        self._spawn("quote", self.server.quote(self.visit.session, self.visit.certificate, self.visit.options,
                                               self.visit.copies))

    async def _done_quote(self, quote: wire.Quote | None, error: BaseException | None) -> None:
        if error is not None:
            self._server_trouble("quote", error)
            if isinstance(error, wire.ServerRefused) and error.status < 500 and error.code in (
                    "bad_option", "bad_copies", "not_eligible"):
                if self.state is S.CONFIRM:
                    self._enter(S.OPTIONS, f"quote.{error.code}")
                else:
                    self.visit.message = f"quote.{error.code}"
                return
            self._enter(S.RETURN_CARD, message_for(error, "quote_failed"))
            return
        self.visit.quote = quote
        if self.state is S.CONFIRM:  # version 2: the quote asked for at Confirm is also the server-link check
            if quote.total_fee != self.visit.expected_fee:  # the fee changed since the menu: show it, ask again
                self.visit.expected_fee = quote.total_fee
                self.visit.message = "quote.fee_changed"
                return
            await self._take_money()
            return
        self._enter(S.CONFIRM)


def message_for(error: BaseException, default: str) -> str:
    if isinstance(error, ServerUnavailable):
        return "server_unavailable"
    if isinstance(error, wire.ServerRefused):
        return f"server.{error.code}"
    if isinstance(error, wire.ProtocolError):
        return "server_protocol_error"
    return default
