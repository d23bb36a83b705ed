"""Thank you: shown for a few seconds after the resident took everything (the firmware is already idle)."""
from __future__ import annotations

from screens.pages.base import Page


class ThanksPage(Page):
    def render(self, view, t) -> None:
        self.ids.heading.text = t("thanks")
        self.clear()
        self.add_text(t("prompt.idle"), role="muted")
