"""Take your card: after a completed visit, and after every stop (cancel, timeout, refusal, fault) with a
message that says what happened and exactly what to do — where the money is, or that staff will pay it back."""
from __future__ import annotations

from screens.pages.base import Page

class ReturnCardPage(Page):
    def render(self, view, t) -> None:
        super().render(view, t)
        self.clear()
        if view.message and view.message != "take_card":
            self.add_notice(t.message(view.message), kind="warn")
        elif view.message == "take_card":
            self.add_text(t.message("take_card"), role="big")
        add_money_notes(self, view, t)
        add_reminder(self, view, t)


def add_money_notes(page: Page, view, t) -> None:
    if view.change_due:  # change after a sale, or the money back after a stop: either way, in the coin cup
        page.add_text(t("refund.paid", amount=t.money(view.change_due)), role="big")
    if view.refund_owed:
        page.add_notice(t("refund.owed", amount=t.money(view.refund_owed)), kind="danger")
        add_refund_reference(page, view, t)


def add_refund_reference(page: Page, view, t) -> None:
    """The refund's reference, large enough to copy down if the slip did not print, and what to do with the slip."""
    if view.refund_reference:
        page.add_text(t("refund.reference", reference=view.refund_reference), role="big")
    if "slip" in view.items_to_take:
        page.add_text(t("refund.slip"))


def add_reminder(page: Page, view, t) -> None:
    if view.reminder_level >= 1:
        page.add_notice(t("take.reminder"), kind="danger")
    if view.reminder_level >= 2:
        page.add_text(t("take.beacon"), role="muted")
