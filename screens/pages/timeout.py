"""Need more time?  Shown over a resident's screen before its inactivity timeout; Continue (or Enter) asks the
firmware for more time, anything else lets the visit end cleanly (card back, money back)."""
from __future__ import annotations

from firmware.visit import MoreTime
from screens.pages.base import Page


class TimeoutPage(Page):
    cancel_allowed = True

    def render(self, view, t) -> None:
        self.ids.heading.text = t("timeout.title")
        self.clear()
        self.add_notice(t("timeout.sub"), kind="warn")
        self.more = self.button(t("btn.more_time"), "timeout.more", lambda: self.app.bridge.send(MoreTime()))
        self.ids.content.add_widget(self.more)

    def default_button(self):
        return self.more
