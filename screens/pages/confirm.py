"""Confirmation: the certificate, the options, the copies and the fee, before any money is taken."""
from __future__ import annotations

from firmware.visit import Confirm
from screens.pages.base import Page
from screens.pages.form import confirm_lines, title
from screens.pages.options import JAPANESE, choice_label, member_names, option_label


class ConfirmPage(Page):
    cancel_allowed = True
    back_allowed = True

    def render(self, view, t) -> None:
        super().render(view, t)
        self.clear()
        if view.service and view.form:
            self._application(view, t)
            return
        self.add_text(t(f"cert.{view.certificate}"), role="title")
        for name, value in view.options.items():
            if name == "members":  # the chosen members by name (said as a count in a language not Japanese)
                names = member_names(view, value)
                label = self.add_text(f"{t('opt.members')}:  {'、'.join(names)}")
                label.spoken_text = None if t.language in JAPANESE else t("speech.members_n", n=len(names))
                label.font_name = self.app.ui.font_for("ja")  # the registry's names are Japanese
                continue
            detail = next((d for o in view.offers if o.certificate == view.certificate for d in o.option_details
                           if d.name == name), None)
            self.add_text(f"{option_label(t, name, detail)}:  {choice_label(t, name, value)}")
        self.add_text(t("copies.n", n=view.copies) if view.copies else "")
        self.add_text(f"{t('confirm.total')}  {t.money(view.fee)}", role="title")
        self.pay = self.button(t("btn.pay"), "confirm.pay", self._pay, disabled=view.busy)
        self.ids.content.add_widget(self.pay)

    def _application(self, view, t) -> None:
        self.add_text(title(t, view.form), role="title")
        for line in confirm_lines(view, t):
            self.add_text(line)
        if view.payment == "stickers":
            stickers = t("form.and").join(t("form.sticker", value=t.money(v), count=n) for v, n in view.stickers)
            self.add_text(t("form.stickers", fee=t.money(view.application_fee), stickers=stickers))
            button = "btn.apply"
        elif view.fee:
            self.add_text(f"{t('confirm.total')}  {t.money(view.fee)}", role="title")
            button = "btn.pay"
        else:
            self.add_text(t("form.no_fee"))
            button = "btn.apply"
        self.pay = self.button(t(button), "confirm.pay", self._pay, disabled=view.busy)
        self.ids.content.add_widget(self.pay)

    def _pay(self) -> None:
        if self.app.bridge.send(Confirm()):
            self.pay.disabled = True

    def default_button(self):
        return self.pay
