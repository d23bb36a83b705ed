"""Everything Kivy must be told before its window exists.  Import this module before any other kivy module.

Touch hygiene: Kivy's default configuration lists the ``mouse`` provider and, on Linux, ``probesysfs`` (which on a
Pi adds an ``mtdev`` or ``hidinput`` provider for the same touchscreen).  With two providers every touch arrives
twice.  :func:`configure_kivy` empties the ``[input]`` section and adds exactly the one provider configured.
"""
from __future__ import annotations

import os

from screens.settings import ScreenSettings

os.environ.setdefault("KIVY_NO_ARGS", "1")  # Kivy must not read the kiosk's (or pytest's) command line
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")


def configure_kivy(settings: ScreenSettings, extra_width: int = 0) -> None:
    from kivy.config import Config

    for key, _ in list(Config.items("input")):
        Config.remove_option("input", key)
    name, value = settings.input_provider
    Config.set("input", name, value)
    Config.set("graphics", "width", str(settings.width + extra_width))
    Config.set("graphics", "height", str(settings.height))
    Config.set("graphics", "fullscreen", "auto" if settings.fullscreen else "0")
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "maxfps", "30")  # nothing moves on these screens: 30 frames a second spare the CPU
    Config.set("kivy", "exit_on_escape", "0")  # Escape is the keypad's cancel key, not "quit"
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("postproc", "double_tap_time", "250")
    Config.set("postproc", "ignore", "[]")


def input_providers() -> list[tuple[str, str]]:
    from kivy.config import Config

    return list(Config.items("input"))
