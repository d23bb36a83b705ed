"""The few widgets every screen is made of: text, a button that can hold the keypad's focus, a notice box."""
from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ObjectProperty, OptionProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget


class PlainLabel(Label):
    """A plain (not wrapping) label."""


class KLabel(Label):
    """Text that wraps to its width and grows to its height."""

    role = OptionProperty("body", options=["title", "body", "big", "small", "muted"])


class KButton(ButtonBehavior, Label):
    """A large button.  ``name`` identifies it for tests and the keypad; ``action`` runs on release.

    A button whose ``action`` sends an intent is disabled by the screen as soon as it is pressed, until the next
    view arrives (a double tap sends one intent; see :class:`screens.bridge.Bridge`)."""

    name = StringProperty("")
    kind = OptionProperty("primary", options=["primary", "secondary", "danger", "chosen", "quiet"])
    focused = BooleanProperty(False)
    action = ObjectProperty(None, allownone=True)
    size_class = OptionProperty("normal", options=["normal", "bar", "compact", "pad", "menu"])  # bar: the top bar; compact: dev
    font_override = StringProperty("")  # a language button shows its language in that language's font
    min_state_time = 0.05

    def on_release(self):
        if self.action is not None and not self.disabled:
            self.action()


class Notice(BoxLayout):
    """A framed message: ``kind`` "info", "warn" (amber) or "danger" (the resident must act)."""

    text = StringProperty("")
    kind = OptionProperty("info", options=["info", "warn", "danger"])


class Spacer(Widget):
    pass


class PageContent(BoxLayout):
    """A screen's content, top-aligned: a stretchy filler always stays last and takes the room left below."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._filler = Widget(size_hint_y=1)
        super().add_widget(self._filler)

    def add_widget(self, widget, index=0, *args, **kwargs):
        super().add_widget(widget, max(index, 1) if widget is not self._filler else index, *args, **kwargs)

    def clear_widgets(self, children=None):
        super().clear_widgets(children)
        if self._filler.parent is None:
            super().add_widget(self._filler)


class HoldArea(ButtonBehavior, Widget):
    """An unmarked area that fires ``action`` only when held for ``hold_s`` (the staff entry on the idle screen)."""

    hold_s = 2.0
    action = ObjectProperty(None, allownone=True)
    _event = None

    def on_press(self):
        self._event = Clock.schedule_once(lambda dt: self.action and self.action(), self.hold_s)

    def on_release(self):
        if self._event is not None:
            self._event.cancel()
            self._event = None
