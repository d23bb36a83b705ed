"""What every screen shares: a heading (the state's prompt), a content area, keypad focus and digit keys."""
from __future__ import annotations

from kivy.app import App
from kivy.uix.screenmanager import Screen

from screens.widgets import KButton, KLabel, Notice


class Page(Screen):
    """A screen.  :meth:`render` draws a :class:`~firmware.visit.VisitView` in the resident's language ``t``."""

    back_allowed = False  # the footer's Back button sends Back (options, confirm)
    cancel_allowed = False  # the footer's Cancel button sends Cancel

    @property
    def app(self):
        return App.get_running_app()

    def render(self, view, t) -> None:
        self.ids.heading.text = t(f"prompt.{view.state.value}")

    # -- helpers for the subclasses --------------------------------------------------------------------------

    def clear(self):
        self.ids.content.clear_widgets()

    def add_text(self, text: str, role: str = "body", **kwargs) -> KLabel:
        label = KLabel(text=text, role=role, **kwargs)
        self.ids.content.add_widget(label)
        return label

    def add_notice(self, text: str, kind: str = "info") -> Notice:
        notice = Notice(text=text, kind=kind)
        self.ids.content.add_widget(notice)
        return notice

    def button(self, text: str, name: str, action, kind: str = "primary", **kwargs) -> KButton:
        return KButton(text=text, name=name, action=action, kind=kind, **kwargs)

    # -- keypad ---------------------------------------------------------------------------------------------

    def focus_order(self) -> list[KButton]:
        """The buttons the +/- keys move through, in reading order."""
        found = [w for w in self.walk(restrict=True) if isinstance(w, KButton) and not w.disabled]
        return found

    def on_digit(self, digit: str) -> bool:
        return False

    def on_backspace(self) -> bool:
        return False

    def default_button(self) -> KButton | None:
        return None
