"""Driving the real app the way a resident does — touches at a button's centre, keys, waiting for screens — for
the GUI tests (tests/screens/) and the app benchmark.  It lives here because Kivy is imported in screens/ only."""
from __future__ import annotations

import asyncio
import itertools
from pathlib import Path


_TOUCH_IDS = itertools.count(1000)


def find(app, name: str):
    """The visible, enabled button named ``name`` on the current screen, the bars, the popup or the dev panel."""
    from screens.widgets import KButton

    for root in [app.root]:
        for widget in root.walk(restrict=True):
            if isinstance(widget, KButton) and widget.name == name and widget.get_root_window() is not None:
                screen = _screen_of(widget)
                if screen is None or screen is app.sm.current_screen:
                    return widget
    raise AssertionError(f"no button {name!r} on screen {app.sm.current!r}")


def _screen_of(widget):
    from kivy.uix.screenmanager import Screen

    while widget is not None and widget.parent is not widget:
        if isinstance(widget, Screen):
            return widget
        widget = widget.parent
    return None


async def tap(app, name: str, settle: float = 0.08):
    """Press and release the button ``name`` with a simulated finger; returns the button."""
    from kivy.tests.common import UnitTestTouch

    from kivy.uix.scrollview import ScrollView

    button = find(app, name)
    assert not button.disabled, f"button {name!r} is disabled"
    holder = button.parent
    while holder is not None and holder.parent is not holder and not isinstance(holder, ScrollView):
        holder = holder.parent
    if isinstance(holder, ScrollView):  # a finger scrolls first: bring the button into view
        holder.scroll_to(button, padding=10, animate=False)
        await asyncio.sleep(0.05)
    x, y = button.to_window(*button.center)
    touch = UnitTestTouch(x, y)
    touch.id = next(_TOUCH_IDS)  # a new finger each time (UnitTestTouch gives every touch id 99)
    touch.touch_down()
    await asyncio.sleep(0.06)
    touch.touch_up()
    await asyncio.sleep(settle)
    return button


async def hold_staff_corner(app, seconds: float = 2.2):
    """Hold the unmarked top-left corner (the staff entry) with a finger."""
    from kivy.tests.common import UnitTestTouch
    from screens.widgets import HoldArea

    area = next(w for w in app.root.walk(restrict=True) if isinstance(w, HoldArea))
    touch = UnitTestTouch(*area.to_window(*area.center))
    touch.id = next(_TOUCH_IDS)
    touch.touch_down()
    await asyncio.sleep(seconds)
    touch.touch_up()
    await asyncio.sleep(0.1)


async def key(app, code: int):
    from kivy.core.window import Window

    Window.dispatch("on_key_down", code, 0, None, [])
    Window.dispatch("on_key_up", code, 0)
    await asyncio.sleep(0.05)


async def wait_screen(app, name: str, timeout: float = 15.0, message: str | None = None):
    """Wait until the screen ``name`` is shown (and drawn)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        drawn = app.sm.current == name and app._render_event is None
        if drawn and (message is None or app.view.message == message):
            await asyncio.sleep(0.05)
            return
        if loop.time() > deadline:
            raise AssertionError(f"expected screen {name!r} (message {message!r}); on {app.sm.current!r}, "
                                 f"state {app.view.state.value}, message {app.view.message!r}")
        await asyncio.sleep(0.02)


def shot(app, directory: Path, name: str) -> Path:
    return app.screenshot(directory / f"{name}.png")


def texts(app) -> str:
    """Every text on the current screen and the bars (to assert on what the resident reads)."""
    from kivy.uix.label import Label

    root = app.area
    return "\n".join(w.text for w in root.walk(restrict=True) if isinstance(w, Label) and w.text
                     and (_screen_of(w) in (None, app.sm.current_screen)))


def press(app, name: str):
    """Put a finger on the button ``name``; returns the touch (call ``touch.touch_up()`` to release)."""
    from kivy.tests.common import UnitTestTouch

    button = find(app, name)
    touch = UnitTestTouch(*button.to_window(*button.center))
    touch.id = next(_TOUCH_IDS)
    touch.touch_down()
    return touch


def text_pixels(text: str, font_name: str, size: int = 40) -> bytes:
    """``text`` rendered by Kivy's text provider in ``font_name``, as raw RGBA pixels."""
    from kivy.core.text import Label as CoreLabel

    label = CoreLabel(text=text, font_name=font_name, font_size=size)
    label.refresh()
    return bytes(label.texture.pixels)


def add_pi_default_input() -> None:
    """What a Pi's default Kivy configuration adds beside the configured provider (each touch twice)."""
    from kivy.config import Config

    Config.set("input", "%(name)s", "probesysfs,provider=hidinput")


class frozen_frames:
    """``with frozen_frames():`` — Kivy's frame loop stops (its idle step waits) while the asyncio loop, the
    controller and the devices go on: no frame, no Clock callback, no input.  Frames come again on leaving."""

    def __enter__(self):
        from kivy.base import EventLoop

        self._loop, self._idle, self._thaw = EventLoop, EventLoop.async_idle, asyncio.Event()
        idle, thaw = self._idle, self._thaw

        async def frozen_idle():
            await thaw.wait()
            return await idle()

        EventLoop.async_idle = frozen_idle
        return self

    def __exit__(self, *exc) -> None:
        self._loop.async_idle = self._idle
        self._thaw.set()
