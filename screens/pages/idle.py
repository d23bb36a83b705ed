"""Idle: "place your card", the hours, the seven language buttons (each in its own script and font)."""
from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.gridlayout import GridLayout

from firmware.config import LANGUAGES
from firmware.visit import ChooseLanguage
from screens.catalogue import Strings
from screens.pages.base import Page, content_lines


class IdlePage(Page):
    def render(self, view, t) -> None:
        super().render(view, t)
        self.clear()
        self.add_text(t("idle.sub"))
        self.add_text(t("idle.hours", hours=self.app.settings.hours), role="muted")
        self.add_text(t("idle.languages"), role="small")
        grid = GridLayout(cols=4, spacing=dp(10), size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        for number, language in enumerate(LANGUAGES, start=1):
            own = Strings(language)
            chosen = language == view.language
            button = self.button(f"{number}  {own('lang.name')}", f"lang.{language}",
                                 lambda lang=language: self.app.bridge.send(ChooseLanguage(lang)),
                                 kind="chosen" if chosen else "secondary")
            button.font_override = self.app.ui.font_for(language)
            button.spoken_language = language  # the keypad's focus says it in its own language
            grid.add_widget(button)
        self.ids.content.add_widget(grid)

    def spoken_lines(self, view, t) -> list[str]:
        lines = [self.ids.heading.text] + [line for line in content_lines(self.ids.content)
                                           if line != t("idle.languages")][:2]  # not the language buttons
        return lines + [t("speech.languages"), t("speech.keys")]

    def on_digit(self, digit: str) -> bool:
        index = int(digit) - 1
        if 0 <= index < len(LANGUAGES):
            self.app.bridge.send(ChooseLanguage(LANGUAGES[index]))
            return True
        return False
