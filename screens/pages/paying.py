"""Payment: the fee, what went in, what is still due.  Cancel gives every yen back."""
from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.gridlayout import GridLayout

from screens.pages.base import Page
from screens.widgets import KLabel


class PayingPage(Page):
    cancel_allowed = True

    def render(self, view, t) -> None:
        super().render(view, t)
        self.clear()
        grid = GridLayout(cols=2, spacing=dp(8), size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        due = max(view.fee - view.paid, 0)
        for label, amount, role in (("paying.fee", view.fee, "title"), ("paying.paid", view.paid, "title"),
                                    ("paying.due", due, "big")):
            grid.add_widget(KLabel(text=t(label), role=role))
            grid.add_widget(KLabel(text=t.money(amount), role=role, halign="right"))
        self.ids.content.add_widget(grid)
        self.add_notice(t("paying.cancel_note"))

    def spoken_lines(self, view, t) -> list[str]:
        """Each amount with its label ("Still due 200 yen"): after a coin or a note, the new amounts are said."""
        due = max(view.fee - view.paid, 0)
        return [self.ids.heading.text] + [f"{t(label)} {t.money(amount)}" for label, amount in (
            ("paying.fee", view.fee), ("paying.paid", view.paid), ("paying.due", due))] + [t("paying.cancel_note")]
