"""The PIN pad: masked digits, tries left, a plain warning before the last try.

The digits live in this screen only until OK, in a bytearray (never a ``str``, which could not be wiped); they are
sent once as :class:`~firmware.visit.EnterPin` holding a :class:`~hal.card.Pin` (its own bytearray) and the screen's
bytearray is overwritten at once (and whenever the screen is left).  The one-character key strings ("0"–"9") are
Python's shared constants, not a copy of the PIN.  The pad is laid out like a phone (1-2-3 on top); the
USB keypad's digits, Backspace and Enter do the same as the on-screen keys.
"""
from __future__ import annotations

from kivy.app import App
from kivy.graphics import Color, Ellipse, Line
from kivy.metrics import dp
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from firmware.visit import EnterPin
from screens.pages.base import Page
from screens.widgets import KLabel, Notice

PIN_LENGTH = 4


class PinDots(Widget):
    """The masked PIN as drawn circles, filled for each digit typed.  Shapes, not text: a label re-drawn at every
    digit costs a texture upload each time (on software GL it stalled each key press by up to a second)."""

    filled = NumericProperty(0)

    def __init__(self, **kwargs):
        super().__init__(size_hint_y=None, height=dp(56), **kwargs)
        self.bind(pos=self._draw, size=self._draw, filled=self._draw)
        App.get_running_app().ui.bind(fg=self._draw)  # high contrast changes the colour
        self._draw()

    def _draw(self, *_) -> None:
        size, gap = dp(34), dp(22)
        left = self.center_x - (PIN_LENGTH * size + (PIN_LENGTH - 1) * gap) / 2
        bottom = self.center_y - size / 2
        self.canvas.clear()
        with self.canvas:
            Color(rgba=App.get_running_app().ui.fg)
            for i in range(PIN_LENGTH):
                x = left + i * (size + gap)
                if i < self.filled:
                    Ellipse(pos=(x, bottom), size=(size, size))
                else:
                    Line(ellipse=(x, bottom, size, size), width=dp(2))


def wipe(buffer: bytearray) -> None:
    """Overwrite ``buffer`` and empty it (the bytes are zeroed before the bytearray shrinks)."""
    buffer[:] = bytes(len(buffer))
    del buffer[:]


class PinPage(Page):
    cancel_allowed = True
    _shown_for = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._digits = bytearray()

    def on_leave(self, *args):
        wipe(self._digits)

    def render(self, view, t) -> None:
        super().render(view, t)
        key = (view.visit, view.tries_left, view.message)
        if key != self._shown_for:  # a new visit or a refused PIN: start empty
            wipe(self._digits)
            self._shown_for = key
        self._t, self._view = t, view
        self.clear()
        row = BoxLayout(orientation="horizontal", spacing=dp(24), size_hint_y=None)
        info = BoxLayout(orientation="vertical", spacing=dp(10))  # as tall as the pad: its texts sit at the top
        if view.message in ("pin_wrong", "pin_format"):
            info.add_widget(Notice(text=t.message(view.message), kind="warn"))
        if view.tries_left == 1:
            info.add_widget(Notice(text=t("pin.last_try"), kind="danger"))
        elif view.tries_left is not None:
            info.add_widget(KLabel(text=t("pin.tries", tries=view.tries_left), role="muted"))
        self.dots = PinDots()
        self.checking = KLabel(role="big", halign="center")
        info.add_widget(self.dots)
        info.add_widget(self.checking)
        info.add_widget(Widget())
        grid = GridLayout(cols=3, spacing=dp(8), size_hint=(None, None), width=dp(400))
        grid.bind(minimum_height=grid.setter("height"))
        keys = [(k, f"pin.{k}", lambda d=k: self.on_digit(d), "secondary") for k in "123456789"]
        self.ok = None
        keys += [(t("btn.clear"), "pin.clear", self.on_backspace, "secondary"),
                 ("0", "pin.0", lambda: self.on_digit("0"), "secondary"), (t("btn.ok"), "pin.ok", self.submit, "primary")]
        for text, name, action, kind in keys:
            button = self.button(text, name, action, kind=kind, size_class="pad")
            grid.add_widget(button)
        self.ok = button
        row.add_widget(info)
        row.add_widget(grid)
        grid.bind(height=lambda *_: setattr(row, "height", max(grid.height, info.minimum_height)))
        info.bind(minimum_height=lambda *_: setattr(row, "height", max(grid.height, info.minimum_height)))
        self.ids.content.add_widget(row)
        self._refresh()

    def _refresh(self) -> None:
        busy = self._view.busy
        self.dots.filled = 0 if busy else len(self._digits)
        self.dots.opacity = 0 if busy else 1
        checking = self._t("pin.checking") if busy else ""
        if self.checking.text != checking:  # only when busy changes: a label re-drawn costs a texture upload
            self.checking.text = checking
        self.ok.disabled = busy or len(self._digits) != PIN_LENGTH

    def on_digit(self, digit: str) -> bool:
        if len(self._digits) < PIN_LENGTH and not self._view.busy:
            self._digits.append(ord(digit))
            self._refresh()
            self.app.narrator.tick()  # a neutral click: the digit itself is never said
        return True

    def spoken_lines(self, view, t) -> list[str]:
        """The heading, a refused PIN, the tries left (or the last-try warning); never the pad's keys."""
        lines = [self.ids.heading.text]
        if view.message in ("pin_wrong", "pin_format"):
            lines.append(t.message(view.message))
        if view.tries_left == 1:
            lines.append(t("pin.last_try"))
        elif view.tries_left is not None:
            lines.append(t("pin.tries", tries=view.tries_left))
        if view.busy:
            lines.append(t("pin.checking"))
        else:
            lines.append(t("speech.pin_keys"))
        return lines

    def focus_order(self):
        """Clear and OK only: focus moving over the digit keys would say the digits aloud."""
        return [b for b in super().focus_order() if not b.name[4:].isdigit()]

    def on_backspace(self) -> bool:
        if self._digits:
            self._digits[-1] = 0
            del self._digits[-1]
        self._refresh()
        return True

    def submit(self) -> None:
        if len(self._digits) != PIN_LENGTH:
            return
        intent = EnterPin.of(self._digits)  # the intent's Pin copies the bytes; the pad's are wiped now
        wipe(self._digits)
        if self.app.bridge.send(intent):
            self.ok.disabled = True
        elif intent.pin is not None:
            intent.pin.wipe()  # a repeated tap: not sent, gone
        self._refresh()

    def default_button(self):
        return self.ok
