"""How the screens look: colours (normal and high contrast), text sizes (normal and large), the language's font.

Every kv rule reads these properties from ``app.ui``, so flipping a mode or a language restyles every screen at
once.  Nothing blinks: focus is a thick steady outline, progress is a steady bar.  Colour pairs meet WCAG AA
(normal) and AAA (high contrast) for text.
"""
from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty

from screens.fonts import language_font


def _hex(code: str) -> tuple[float, float, float, float]:
    code = code.lstrip("#")
    return tuple(int(code[i:i + 2], 16) / 255 for i in (0, 2, 4)) + (1.0,)


PALETTES = {
    False: {  # normal: dark text on a warm white, dark-blue action buttons with white text (contrast ≥ 7:1)
        "bg": "#F6F5F0", "fg": "#1A1A1A", "muted": "#4A4A4A", "panel": "#FFFFFF", "line": "#8C8C8C",
        "primary": "#0A4F99", "primary_text": "#FFFFFF", "secondary": "#E2E2DC", "secondary_text": "#1A1A1A",
        "danger": "#A3161A", "danger_text": "#FFFFFF", "warn_bg": "#FFF1C2", "warn_fg": "#4D3A00",
        "disabled": "#D0D0CC", "disabled_text": "#5A5A5A", "focus": "#E08A00", "bar": "#0A4F99",
    },
    True: {  # high contrast: white/yellow on black
        "bg": "#000000", "fg": "#FFFFFF", "muted": "#FFFFFF", "panel": "#000000", "line": "#FFFFFF",
        "primary": "#FFD400", "primary_text": "#000000", "secondary": "#000000", "secondary_text": "#FFFFFF",
        "danger": "#FFFFFF", "danger_text": "#000000", "warn_bg": "#000000", "warn_fg": "#FFD400",
        "disabled": "#000000", "disabled_text": "#9A9A9A", "focus": "#00E5FF", "bar": "#FFD400",
    },
}


class Ui(EventDispatcher):
    high_contrast = BooleanProperty(False)
    large_text = BooleanProperty(False)
    language = StringProperty("ja")
    font = StringProperty("")
    font_bold = StringProperty("")
    scale = NumericProperty(1.0)
    bg = ColorProperty()
    fg = ColorProperty()
    muted = ColorProperty()
    panel = ColorProperty()
    line = ColorProperty()
    primary = ColorProperty()
    primary_text = ColorProperty()
    secondary = ColorProperty()
    secondary_text = ColorProperty()
    danger = ColorProperty()
    danger_text = ColorProperty()
    warn_bg = ColorProperty()
    warn_fg = ColorProperty()
    disabled = ColorProperty()
    disabled_text = ColorProperty()
    focus = ColorProperty()
    bar = ColorProperty()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._apply_palette()
        self._apply_font()
        self.bind(high_contrast=lambda *_: self._apply_palette(), language=lambda *_: self._apply_font(),
                  large_text=lambda *_: setattr(self, "scale", 1.3 if self.large_text else 1.0))

    def _apply_palette(self) -> None:
        for name, code in PALETTES[self.high_contrast].items():
            setattr(self, name, _hex(code))

    def _apply_font(self) -> None:
        self.font = str(language_font(self.language))
        self.font_bold = str(language_font(self.language, bold=True))

    def font_for(self, language: str) -> str:
        return str(language_font(language))
