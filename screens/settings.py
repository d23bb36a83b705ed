"""The ``[screen]`` table of the kiosk configuration: how the touchscreen app looks and takes input.

    [screen]
    width = 1024            # the kiosk area in pixels (the dev panel, if shown, is added to the right)
    height = 600
    fullscreen = false      # true on a kiosk
    input = "mouse"         # the ONE input provider: "mouse" (development), "mtdev:/dev/input/event0" or
                            # "hidinput:/dev/input/event0" (a Pi touchscreen).  Kivy's default config adds a
                            # second provider (probesysfs) on a Pi, which fires every touch twice.
    dev_panel = "auto"      # "auto": shown only when every device is a simulator; "off"
    hours = "6:30–23:00"    # shown on the idle screen
    thanks_s = 4            # how long "thank you" stays up after a visit
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from firmware.config import ConfigError

INPUT_KINDS = ("mouse", "mtdev", "hidinput")
DEV_PANEL_WIDTH = 256  # pixels added to the right of the kiosk area when the dev panel is shown
"""1024 + 256: the app with its dev panel fits a 1280 × 800 screen (300 cut the panel's right column off)."""


@dataclass(frozen=True)
class ScreenSettings:
    width: int = 1024
    height: int = 600
    fullscreen: bool = False
    input: str = "mouse"
    dev_panel: str = "auto"
    hours: str = "6:30–23:00"
    thanks_s: float = 4.0

    @property
    def input_provider(self) -> tuple[str, str]:
        """(provider name, its Kivy config value), e.g. ("mtdev", "mtdev,/dev/input/event0")."""
        kind, _, device = self.input.partition(":")
        if kind == "mouse":
            return "mouse", "mouse,disable_multitouch"
        return kind, f"{kind},{device}"


def parse_screen(table: Mapping[str, Any], source: str = "kiosk.toml") -> ScreenSettings:
    defaults = ScreenSettings()
    unknown = set(table) - set(ScreenSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{source}: [screen] has unknown keys: {', '.join(sorted(unknown))}")

    def whole(key: str, low: int, high: int) -> int:
        value = table.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{source}: [screen] {key} must be a whole number from {low} to {high}")
        return value

    fullscreen = table.get("fullscreen", False)
    if not isinstance(fullscreen, bool):
        raise ConfigError(f"{source}: [screen] fullscreen must be true or false")
    input_ = table.get("input", "mouse")
    kind, _, device = input_.partition(":") if isinstance(input_, str) else ("", "", "")
    if kind not in INPUT_KINDS or (kind != "mouse" and not device.startswith("/dev/")):
        raise ConfigError(f"{source}: [screen] input must be \"mouse\", \"mtdev:/dev/input/eventN\" or "
                          f"\"hidinput:/dev/input/eventN\" (got {input_!r})")
    dev_panel = table.get("dev_panel", "auto")
    if dev_panel not in ("auto", "off"):
        raise ConfigError(f"{source}: [screen] dev_panel must be \"auto\" or \"off\"")
    hours = table.get("hours", defaults.hours)
    if not isinstance(hours, str) or len(hours) > 40:
        raise ConfigError(f"{source}: [screen] hours must be a short text such as \"6:30–23:00\"")
    thanks = table.get("thanks_s", defaults.thanks_s)
    if isinstance(thanks, bool) or not isinstance(thanks, (int, float)) or not 0 <= thanks <= 30:
        raise ConfigError(f"{source}: [screen] thanks_s must be 0 to 30 seconds")
    return ScreenSettings(whole("width", 480, 3840), whole("height", 320, 2160), fullscreen, input_, dev_panel,
                          hours, float(thanks))


def all_simulated(devices: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether every configured device is a simulator (the dev panel is offered only then)."""
    return bool(devices) and all(table.get("driver") == "sim" for table in devices.values())
