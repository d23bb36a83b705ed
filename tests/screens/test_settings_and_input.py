"""The [screen] table, touch hygiene (one input provider), the keypad map and the double-tap guard."""
from __future__ import annotations

import pytest

from firmware.config import ConfigError
from firmware.visit import CallStaff, Confirm, VisitState, VisitView
from screens.settings import all_simulated, parse_screen


def test_screen_settings_are_checked():
    assert parse_screen({}).input == "mouse"
    assert parse_screen({"input": "mtdev:/dev/input/event0"}).input_provider == ("mtdev", "mtdev,/dev/input/event0")
    for bad in ({"input": "probesysfs"}, {"input": "mtdev"}, {"width": 10}, {"colour": "red"}, {"fullscreen": 1}):
        with pytest.raises(ConfigError):
            parse_screen(bad)
    assert all_simulated({"printer": {"driver": "sim"}}) and not all_simulated({"printer": {"driver": "escpos"}})


def test_kivy_is_left_with_exactly_one_input_provider():
    from screens.kivy_setup import configure_kivy, input_providers
    from screens.testing import add_pi_default_input

    add_pi_default_input()
    assert len(input_providers()) >= 2
    configure_kivy(parse_screen({"input": "hidinput:/dev/input/event3"}))
    assert input_providers() == [("hidinput", "hidinput,/dev/input/event3")]
    configure_kivy(parse_screen({}))
    assert input_providers() == [("mouse", "mouse,disable_multitouch")]


def test_keypad_map():
    from screens.keys import action_of

    assert action_of(261) == ("digit", "5") and action_of(53) == ("digit", "5")  # keypad 5 and top-row 5
    assert action_of(271)[0] == "enter" and action_of(27)[0] == "cancel" and action_of(270)[0] == "next"
    assert action_of(8)[0] == "backspace" and action_of(267)[0] == "silence" and action_of(999) == ("", None)


class FakeKiosk:
    def __init__(self):
        self.view, self.got, self._listener = VisitView(VisitState.CONFIRM, visit=1), [], None

    def subscribe(self, listener):
        self._listener = listener
        listener(self.view)

    def send(self, intent):
        self.got.append(intent)

    def publish(self, view):
        self.view = view
        self._listener(view)


def test_a_double_tap_sends_one_intent_until_the_view_moves_on():
    from screens.bridge import Bridge

    kiosk = FakeKiosk()
    bridge = Bridge(kiosk)
    assert bridge.send(Confirm()) and not bridge.send(Confirm())
    kiosk.publish(VisitView(VisitState.CONFIRM, visit=1))  # the same view again (a tick): still one
    assert not bridge.send(Confirm())
    kiosk.publish(VisitView(VisitState.CONFIRM, visit=1, message="quote.bad_copies"))
    assert bridge.send(Confirm())
    kiosk.publish(VisitView(VisitState.OPTIONS, visit=1))
    kiosk.publish(VisitView(VisitState.CONFIRM, visit=1, message="quote.bad_copies"))  # back where it was
    assert bridge.send(Confirm())  # the same view as before, but a new one: a new tap, not a double tap
    assert bridge.send(CallStaff()) and bridge.send(CallStaff())  # harmless to repeat
    assert [type(i).__name__ for i in kiosk.got] == ["Confirm", "Confirm", "Confirm", "CallStaff", "CallStaff"]


def test_the_dev_panel_fits_a_1280_by_800_window_and_every_button_text_fits(gui_config, screenshots):
    import asyncio

    from screens.app import run_kiosk_app

    async def look(app):
        from kivy.core.window import Window  # (imported once the app has configured the window's size)

        from screens.devpanel import DevPanel
        from screens.widgets import KButton

        await asyncio.sleep(0.2)
        panel = next(w for w in app.root.walk(restrict=True) if isinstance(w, DevPanel))
        cut = [b.text for b in panel.walk(restrict=True) if isinstance(b, KButton)
               and (b.texture_size[0] > b.width + 2 or b.right > panel.right + 1
                    or (" " not in b.text and b.texture_size[1] > b.font_size * 1.7))]  # a word broken in two
        app.root.export_to_png(str(screenshots / "dev-panel.png"))
        return Window.size, panel.right, cut

    (width, height), right, cut = asyncio.run(run_kiosk_app(gui_config(), look))
    assert width <= 1280 and height <= 800 and right <= 1280
    assert cut == []
