"""Reading the card: keep it still."""
from __future__ import annotations

from screens.pages.base import Page


class ReadingPage(Page):
    cancel_allowed = True

    def render(self, view, t) -> None:
        super().render(view, t)
        self.clear()
        self.add_text(t("reading.sub"), role="big")
