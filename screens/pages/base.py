"""What every screen shares: a heading (the state's prompt), a content area, keypad focus and digit keys.

A screen redraws by clearing its content and adding it again, but the widgets are not built again: what
:meth:`Page.clear` takes off is kept aside and :meth:`Page.button`, :meth:`Page.add_text` and :meth:`Page.label`
take it back (a button by its name, a text by its role and words), only changing what differs.  Building a widget
applies its kv rules, and a new text is rasterised and uploaded as a new texture at the next frame: on the
software GL of the benchmark machine that made a touch -> next screen take 200-600 ms; a kept widget whose text is
unchanged keeps its texture.  Only the widgets of the last clear are kept, so a page holds at most one screenful.
"""
from __future__ import annotations

from kivy.app import App
from kivy.uix.screenmanager import Screen

from screens.widgets import KButton, KLabel, Notice, PlainLabel


BUTTON_DEFAULTS = {"disabled": False, "focused": False, "size_class": "normal", "font_override": ""}


def _kept(widget, kept: bool = True):
    widget._kept = kept
    return widget


def _key_of(widget):
    """How a widget taken off by :meth:`Page.clear` is found again (None: not kept, as one made by hand)."""
    if not getattr(widget, "_kept", False):
        return None
    if isinstance(widget, KButton):
        return ("button", widget.name) if widget.name else None
    if isinstance(widget, Notice):
        return ("notice", widget.kind, widget.text)
    if isinstance(widget, KLabel):
        return ("text", widget.role, widget.text)
    if isinstance(widget, PlainLabel):
        return ("label", widget.text)
    return None


def content_lines(root) -> list[str]:
    """The texts of the widgets under ``root`` in reading order: labels, notices, and buttons (with "chosen")."""
    from screens.narration import button_speech

    lines: list[str] = []

    def visit(widget) -> None:
        if getattr(widget, "opacity", 1) == 0:
            return
        spoken = getattr(widget, "spoken_text", None)  # what to say instead of the text (a name in kanji, …)
        if isinstance(widget, KButton):
            if widget.text:
                lines.append(button_speech(widget, App.get_running_app().t(), spoken))
            return
        if spoken is not None:
            lines.append(spoken)
            return
        if isinstance(widget, Notice):
            lines.append(widget.text)
            return
        if isinstance(widget, (KLabel, PlainLabel)):
            lines.append(widget.text)
            return
        for child in reversed(widget.children):  # Kivy keeps children last-added first
            visit(child)

    visit(root)
    return [line for line in lines if line and line.strip()]


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
        content = self.ids.content
        spare: dict = {}
        for widget in content.walk(restrict=True):
            key = _key_of(widget)
            if key is not None:
                spare.setdefault(key, []).append(widget)
        content.clear_widgets()
        self._spare = spare

    def _reuse(self, key, **values):
        """A widget kept by the last :meth:`clear` under ``key``, detached, with ``values`` set; else None."""
        kept = getattr(self, "_spare", {}).get(key)
        if not kept:
            return None
        widget = kept.pop()
        if widget.parent is not None:
            widget.parent.remove_widget(widget)
        for name, value in values.items():
            if getattr(widget, name) != value:
                setattr(widget, name, value)
        return widget

    def add_text(self, text: str, role: str = "body", **kwargs) -> KLabel:
        label = (not kwargs and self._reuse(("text", role, text))) or _kept(KLabel(text=text, role=role, **kwargs),
                                                                              not kwargs)
        self.ids.content.add_widget(label)
        return label

    def label(self, text: str, **kwargs) -> PlainLabel:
        """A plain label (not the wrapping KLabel), kept across redraws like the others."""
        return self._reuse(("label", text), **kwargs) or _kept(PlainLabel(text=text, **kwargs))

    def add_notice(self, text: str, kind: str = "info") -> Notice:
        notice = self._reuse(("notice", kind, text)) or _kept(Notice(text=text, kind=kind))
        self.ids.content.add_widget(notice)
        return notice

    def button(self, text: str, name: str, action, kind: str = "primary", **kwargs) -> KButton:
        values = dict(BUTTON_DEFAULTS, **kwargs)
        button = self._reuse(("button", name), text=text, action=action, kind=kind, **values)
        if button is None:
            return _kept(KButton(text=text, name=name, action=action, kind=kind, **kwargs))
        button.state = "normal"
        return button

    # -- keypad ---------------------------------------------------------------------------------------------

    def focus_order(self) -> list[KButton]:
        """The buttons the +/- keys move through, in reading order."""
        found = [w for w in self.walk(restrict=True) if isinstance(w, KButton) and not w.disabled]
        return found

    def on_digit(self, digit: str) -> bool:
        return False

    def spoken_lines(self, view, t) -> list[str]:
        """What the voice says for this screen (:mod:`screens.narration`): the heading, then every text, notice and
        button of the content in reading order."""
        return [self.ids.heading.text] + content_lines(self.ids.content)

    def on_backspace(self) -> bool:
        return False

    def default_button(self) -> KButton | None:
        return None
