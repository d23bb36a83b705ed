"""E-applications (電子申請) in a visit: the forms offered, the form filled in, its quote.  Then the certificate's
own path takes over: Confirm, the same cashier and journal, the intake instead of the issuance (idempotent by the
same transaction id), the same verification and printing of the signed receipt, the same settlement.

A mixin of :class:`firmware.controller.Kiosk`.  Three screens for the resident: the menu (certificates and
applications), the form (rendered from its description: :mod:`certs.services`), the confirmation (fee, or the
stickers to buy).  The address is never asked: the server takes it from the registry.

The answers live in the visit's memory only.  A personal answer (the phone) never reaches the journal (which
refuses phone-shaped values anyway), a log, an audit event, or the view: the screens see its last two digits.
"""
from __future__ import annotations

from dataclasses import dataclass

from certs import wire
from certs.services import AnswerInvalid, check_answers
from firmware.visit import ChooseService, SubmitForm, VisitState as S
from firmware.visit_signin import message_for

SHOWN_DIGITS = 2
REFUSED_ANSWER = ("bad_answer", "date_not_offered", "unknown_service")


@dataclass(frozen=True)
class FormsArrived:
    """The forms' answer.  Not an operation the resident waits for: it never makes the visit busy, so a tap on a
    certificate while the forms load is not lost (and a quote under way stays busy when they arrive)."""
    visit: int
    epoch: int
    forms: list | None
    error: BaseException | None


class ApplicationSteps:
    def _fetch_forms(self) -> None:
        """After sign-in (and after a date was taken): the e-applications this city offers this resident now."""
        if not self.settings.applications or self.visit.session is None:
            return
        visit, epoch, session = self.visit.number, self._epoch, self.visit.session

        async def fetch():
            try:
                forms, error = await self.server.application_forms(session), None
            except Exception as exc:  # reported to the controller, which decides
                forms, error = None, exc
            await self._queue.put(FormsArrived(visit, epoch, forms, error))

        self._spawn_forever(fetch(), "op:forms")  # ("op:": Kiosk.idle() waits for it)

    def _on_forms_arrived(self, event: FormsArrived) -> None:
        if event.visit != self.visit.number or event.epoch != self._epoch:
            return  # an earlier visit's, or a step since abandoned
        forms, error = event.forms, event.error
        if error is not None:  # the certificates still sell; the applications are not offered this visit
            self._server_trouble("forms", error)
            self.visit.forms = []
            return
        self.visit.forms = list(forms)
        if self.visit.service and not self._form():
            self._enter(S.MENU, "not_available")  # the form went while it was being filled in

    def _form(self):
        return next((f for f in self.visit.forms if f.service == self.visit.service), None)

    def _on_choose_service(self, intent: ChooseService) -> None:
        self._activity()
        visit = self.visit
        if not any(f.service == intent.service for f in visit.forms):
            visit.message = "not_available"
            return
        visit.service, visit.answers, visit.problem_field, visit.certificate = intent.service, {}, None, None
        visit.quote = None
        self.audit.emit("application.chosen", visit=visit.number, service=intent.service)
        self._enter(S.OPTIONS)

    def _on_submit_form(self, intent: SubmitForm) -> None:
        self._activity()
        visit, form = self.visit, self._form()
        if form is None:
            return
        visit.answers = dict(intent.answers)
        try:
            checked = check_answers(form, intent.answers)
        except AnswerInvalid as exc:  # said at once, on this screen; nothing is sent
            visit.message, visit.problem_field = f"form.{exc.problem}", exc.field
            return
        visit.message, visit.problem_field = None, None
        self._spawn("application_quote", self.server.application_quote(visit.session, form.service, checked))

    def _done_application_quote(self, quote: wire.ApplicationQuote | None, error: BaseException | None) -> None:
        visit = self.visit
        if error is not None:
            self._server_trouble("application_quote", error)
            if isinstance(error, wire.ServerRefused) and error.code in REFUSED_ANSWER:
                problem = {"bad_answer": error.detail.get("problem"), "date_not_offered": "date_taken"}.get(error.code)
                visit.message = f"form.{problem}" if problem else f"server.{error.code}"  # (nothing taken yet)
                visit.problem_field = error.detail.get("field")
                if error.code == "date_not_offered":
                    self._fetch_forms()  # the dates offered now
                return
            self._enter(S.RETURN_CARD, message_for(error, "quote_failed"))
            return
        visit.quote = quote
        self.audit.emit("application.quoted", visit=visit.number, service=quote.service, fee=quote.total_fee,
                        payment=quote.payment.value)
        self._enter(S.CONFIRM)

    def _on_application_back(self, intent: object = None) -> None:
        """Back from the form: the menu again, the application dropped."""
        self.visit.service, self.visit.answers, self.visit.quote = None, {}, None
        self._enter(S.MENU)

    def _application_view(self) -> dict:
        """What the screens get of the application: the form, the answers (a personal one masked), the charges."""
        visit, form = self.visit, self._form()
        quote = visit.quote if isinstance(visit.quote, wire.ApplicationQuote) else None
        shown = {}
        if form is not None:
            for spec in form.fields:
                if spec.name in visit.answers:
                    value = visit.answers[spec.name]
                    shown[spec.name] = "…" + str(value)[-SHOWN_DIGITS:] if spec.personal and value else value
        return {"services": tuple((f.service, f.title_ja) for f in visit.forms), "service": visit.service,
                "form": form.to_dict() if form is not None else None, "answers": shown,
                "problem_field": visit.problem_field, "payment": quote.payment.value if quote else None,
                "application_fee": quote.fee if quote else 0, "stickers": quote.stickers if quote else ()}
