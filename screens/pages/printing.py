"""Issuing (asking the server) and printing, with a steady progress bar per page.  Nothing to press: the
resident waits; the card stays on the reader."""
from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.progressbar import ProgressBar

from screens.pages.base import Page


class PrintingPage(Page):
    def render(self, view, t) -> None:
        super().render(view, t)
        self.clear()
        if view.state.value == "printing" and view.pages_total:
            done = min(view.pages_printed + 1, view.pages_total)
            self.add_text(t("printing.pages", n=done, total=view.pages_total), role="big")
            bar = ProgressBar(max=view.pages_total, value=view.pages_printed, size_hint_y=None, height=dp(40))
            self.ids.content.add_widget(bar)
        self.add_text(t("reading.sub"), role="muted")
