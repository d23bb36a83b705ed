"""The money half of a visit: taking the fee, fetching and verifying the documents, printing, change, refunds.

A mixin of :class:`firmware.controller.Kiosk`.  Every yen goes through the cashier and the journal; the visit
only decides when.  Once money was taken the visit never just stops: it ends in exactly one of printed (fee
earned, change paid), partly printed (fee held for a reprint at the counter, change paid) or refunded (paid back,
or owed back where the hoppers could not pay) — and the server is told which: the settlement queues the result
in the journal, and :mod:`firmware.result_outbox` delivers it.
"""
from __future__ import annotations

import asyncio
import secrets

from certs import wire
from certs.envelope import DocumentRejected
from hal.signals import BuzzerPattern
from firmware import operations as ops
from firmware import printing, recovery
from firmware.server_client import ServerUnavailable
from firmware.visit import VisitState as S


ISSUE_MARGIN_S = 3.0
"""The issue request's retries end this long before the issuing state's own timeout."""


class PaymentSteps:
    async def _start_payment(self, intent: object = None) -> None:
        """Confirmed: check that the kiosk can deliver (its devices, then the server link), then take money."""
        reason = await self._readiness()
        if reason:
            self._enter(S.RETURN_CARD, f"cannot_sell.{reason}")
            return
        if self.quote_at_confirm and not self.visit.service:  # version 2: the quote's answer, fetched now, shows
            visit = self.visit                                  # the server link is up (an application was quoted)
            self._spawn("quote", self.server.quote(visit.session, visit.certificate, visit.options, visit.copies))
            return
        self._spawn("health", self.server.health())

    async def _done_health(self, ok: bool | None, error: BaseException | None) -> None:
        if self.state is not S.CONFIRM:
            return
        if error is not None or not ok:
            self._server_trouble("health", error or ServerUnavailable("health: not ok"))
            self._enter(S.RETURN_CARD, "server_unavailable")  # nothing was taken
            return
        await self._take_money()

    async def _take_money(self) -> None:
        """The kiosk can deliver and the server answered just now: open the transaction and take the fee."""
        visit, quote = self.visit, self.visit.quote
        txn = secrets.token_hex(16)
        self.journal.open(txn, kiosk_id=self.settings.kiosk_id)
        self.journal.quote(txn, certificate=quote.certificate.value, copies=quote.copies, fee=quote.total_fee)
        visit.txn = txn
        self.cashier.begin(txn, quote.total_fee)
        self.audit.emit("payment.started", visit=visit.number, txn=txn, fee=quote.total_fee)
        if quote.total_fee == 0:  # an application with no fee, or paid with stickers: no money is taken
            await self._payment_complete()
            return
        self._enter(S.PAYING)
        await self.cashier.start_accepting()

    async def _on_credit(self, event) -> None:
        visit = self.visit
        if self.state is S.PAYING:
            self._activity()
            if self.cashier.remaining() == 0:
                await self._payment_complete()
        elif visit.txn is not None and self.journal.is_open(visit.txn) and self.state not in (S.ISSUING,
                                                                                               S.PRINTING):
            # A note or coin that arrived after the payment was over (cancelled, timed out): give it back.
            outcome = await self.cashier.refund(visit.txn, min(event.value, self.cashier.refundable(visit.txn)))
            visit.change_paid += outcome.paid
            visit.refund_owed += outcome.owed

    async def _cash_device_failed(self, device: str, state: str) -> None:
        """A note validator or coin acceptor jammed, filled up or went offline.  While paying, act now rather
        than at the payment's timeout: stop, pay back what was taken, give the card back, then stop selling.
        (Outside a payment, the readiness check takes the kiosk out of service.)"""
        self.audit.emit("device.fault", device=device, state=state)
        if self.state is not S.PAYING:
            return
        self._abandon_operations()
        await self._refund_and_close("cash_device")
        self._fault_after_visit = self._fault_after_visit or "cash_device"
        self.visit.outcome = "failed"
        await self._return_card("cash_device_refunded")

    async def _payment_complete(self) -> None:
        visit = self.visit
        await self.cashier.stop_accepting()
        self.journal.note(visit.txn, "payment_complete")
        self.audit.emit("payment.completed", visit=visit.number, txn=visit.txn, amount=self.cashier.paid())
        self._enter(S.ISSUING)
        self.journal.note(visit.txn, "issue_requested")
        budget = max(self.settings.timeouts.get("issuing", 30.0) - ISSUE_MARGIN_S, 1.0)
        call = self.server.submit_application if visit.service else self.server.issue  # an e-application's
        self._spawn("issue", ops.fetch_documents(self.server, visit.session, visit.txn, visit.quote.quote_id,
                                                 self.cashier.paid(), budget_s=budget, call=call))  # intake

    async def _done_issue(self, envelope: dict | None, error: BaseException | None) -> None:
        visit = self.visit
        if error is not None:
            self._server_trouble("issue", error)
            await self._abort_after_payment(_issue_message(error))
            return
        quote = visit.quote
        purchase = printing.Purchase(quote.certificate.value, quote.copies, quote.pages, self.settings.kiosk_id)
        self._spawn("verify", asyncio.to_thread(printing.verify_documents, envelope, self.trusted_keys, visit.txn,
                                                visit.session.subject_ref, purchase))

    async def _done_verify(self, verified: printing.VerifiedSet | None, error: BaseException | None) -> None:
        visit = self.visit
        if error is not None:
            reason = error.reason.value if isinstance(error, DocumentRejected) else "unverifiable"
            self.journal.note(visit.txn, "document_rejected", detail={"reason": reason})
            self.audit.emit("document.rejected", visit=visit.number, txn=visit.txn, reason=reason)
            self.devices.signals.set_beacon(True)
            self.devices.signals.buzz(BuzzerPattern.ALARM)
            await self._abort_after_payment("document_rejected", outcome=wire.ResultOutcome.FAILED,
                                            out_of_service="document_rejected")
            return
        visit.pages_total = verified.total_pages
        self.journal.record_documents_received(visit.txn, pages=verified.total_pages)
        self._enter(S.PRINTING)
        txn = visit.txn

        def page_printed(document_id: str, page_no: int) -> None:
            if visit.txn == txn and self.journal.is_open(txn):
                visit.pages_printed += 1
                self.journal.record_page_printed(txn, page=visit.pages_printed)
                self._publish()

        def page_starting(document_id: str, page_no: int) -> None:
            # (a transaction already closed raises JournalError here, which stops the job before the page)
            self.journal.record_page_intent(txn, page=visit.pages_printed + 1)

        self._spawn("print", printing.print_verified(verified, self.devices.printer, on_page_printed=page_printed,
                                                     on_page_starting=page_starting))

    async def _done_print(self, report: printing.PrintReport | None, error: BaseException | None) -> None:
        visit = self.visit
        if report is not None and report.complete:
            self.audit.emit("print.completed", txn=visit.txn, pages=report.pages_printed)
            await self._settle_printed(wire.ResultOutcome.PRINTED)
            self._enter(S.RETURN_CARD, "take_card")
            visit.outcome = "completed"
            if self.devices.card_reader.card_kind() is None:
                await self._after_card_returned()
            return
        state = report.fault.state.value if report is not None and report.fault else "error"
        if report is not None and report.fault and self.journal.is_open(visit.txn):
            # the printer said this page failed: its intent has an outcome (the page is not the resident's)
            self.journal.note(visit.txn, "print_failed", detail={"state": state, "page": visit.pages_printed + 1})
        self.audit.emit("print.fault", txn=visit.txn, printer=state, pages=visit.pages_printed)
        await self._abort_after_payment(f"print_failed.{state}", out_of_service=f"printer_{state}")

    async def _abort_after_payment(self, message: str, outcome: str = wire.ResultOutcome.REFUNDED,
                                   out_of_service: str | None = None) -> None:
        """The documents cannot be delivered: refund what was not printed, tell the server, send the resident
        to the counter if anything is owed."""
        self._abandon_operations()
        self._cancel_print()
        await self._close_money(message, outcome)
        self.visit.outcome = "failed"
        self._fault_after_visit = out_of_service
        self._enter(S.RETURN_CARD, message)
        if self.devices.card_reader.card_kind() is None:
            await self._after_card_returned()

    async def _close_money(self, reason: str, outcome: str = wire.ResultOutcome.REFUNDED) -> None:
        """Settle the transaction wherever the visit stopped: once a page printed (or may have: a page cut off by a
        timeout), the fee is earned or held for a reprint and the rest paid as change; before that, everything is
        refunded (:func:`firmware.recovery.fee_is_due`)."""
        txn = self.visit.txn
        if txn is None or not self.journal.is_open(txn):
            return
        if recovery.fee_is_due(*self.journal.page_outcomes(txn)):
            complete = self.visit.pages_printed == self.visit.pages_total
            await self._settle_printed(wire.ResultOutcome.PRINTED if complete
                                       else wire.ResultOutcome.PARTIALLY_PRINTED)
        else:
            await self._refund_and_close(reason, outcome)

    def _cancel_print(self) -> None:
        for task in list(self._tasks):
            if task.get_name() == "op:print":
                task.cancel()

    async def _settle_printed(self, outcome: str) -> None:
        visit = self.visit
        change = await self.cashier.pay_change(visit.txn)
        if self.cashier.unknown_state:  # a hopper could not say what it paid: staff count before the next sale
            self._fault_after_visit = self._fault_after_visit or "cash_device"
        settlement = self.journal.settle(visit.txn, outcome=outcome)
        self._after_settlement(settlement, change)
        if visit.pages_printed:
            visit.items.add("document")
        self.results.wake()

    async def _refund_and_close(self, reason: str, outcome: str = wire.ResultOutcome.REFUNDED) -> None:
        """Pay back everything the transaction holds and close it."""
        visit = self.visit
        txn = visit.txn
        if txn is None or not self.journal.is_open(txn):
            return
        if reason in ("cancelled", "timed_out"):
            self.journal.note(txn, reason)
        refund = await self.cashier.refund_all(txn)
        if self.cashier.unknown_state:
            self._fault_after_visit = self._fault_after_visit or "cash_device"
        settlement = self.journal.settle(txn, outcome=outcome, reason=reason.split(".")[0])
        self._after_settlement(settlement, refund)
        self.results.wake()

    def _after_settlement(self, settlement, payout) -> None:
        visit = self.visit
        visit.change_paid += payout.paid
        visit.refund_owed = settlement.refund_owed
        if payout.paid:
            visit.items.add("change")
        if settlement.refund_owed:
            self.audit.emit("money.refund_owed", txn=settlement.transaction_id, amount=settlement.refund_owed)
            self._refund_owed(settlement.transaction_id, settlement.refund_owed, settlement.unconfirmed)


def _issue_message(error: BaseException) -> str:
    if isinstance(error, ServerUnavailable):
        return "server_unavailable_refunded"
    if isinstance(error, wire.ServerRefused):
        return f"server.{error.code}"
    return "server_protocol_error"
