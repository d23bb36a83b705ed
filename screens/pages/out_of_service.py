"""Out of service: why, and where to go instead (the counter).  Nothing here takes money."""
from __future__ import annotations

from screens.pages.base import Page


class OutOfServicePage(Page):
    def render(self, view, t) -> None:
        super().render(view, t)
        self.clear()
        self.add_notice(t.out_of_service(view.out_of_service_reason), kind="warn")
        if view.out_of_service_reason == "out_of_hours":  # (the city's hours, from the server)
            if view.opens_at:
                self.add_text(t("oos.opens_at", time=view.opens_at), role="big")
            self.add_text(t("idle.hours", hours=self.app.settings.hours), role="muted")
            return
        self.add_text(t("oos.counter"), role="big")
        self.add_text(t("idle.hours", hours=self.app.settings.hours), role="muted")
