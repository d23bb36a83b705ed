"""Take your certificate and change.  The change cup has no sensor: the resident says they took it."""
from __future__ import annotations

from firmware.visit import TakeChange
from screens.pages.base import Page
from screens.pages.return_card import add_refund_reference, add_reminder


class TakeItemsPage(Page):
    def render(self, view, t) -> None:
        super().render(view, t)
        self.clear()
        if "document" in view.items_to_take:
            self.add_text("▶ " + t("take.receipt" if view.service else "take.document"), role="big")
        if "slip" in view.items_to_take:
            self.add_text("▶ " + t("take.slip"), role="big")
        if "change" in view.items_to_take:
            self.add_text("▶ " + t("take.change", amount=t.money(view.change_due)), role="big")
        if view.refund_owed:
            self.add_notice(t("refund.owed", amount=t.money(view.refund_owed)), kind="danger")
            add_refund_reference(self, view, t)
        add_reminder(self, view, t)
        if "change" in view.items_to_take:
            self.change = self.button(t("btn.change_taken"), "take.change", self._change_taken)
            self.ids.content.add_widget(self.change)

    def _change_taken(self) -> None:
        if self.app.bridge.send(TakeChange()):
            self.change.disabled = True

    def default_button(self):
        return getattr(self, "change", None)
