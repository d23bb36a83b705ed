"""The dev panel, shown only when every device is a simulator: be the world around the kiosk with the mouse.

Each button runs one of the firmware's control commands (:func:`firmware.headless.all_commands`, the same ones
``kiosk-sim`` sends), never a device directly.
"""
from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from firmware.visit import TakeChange
from screens.settings import DEV_PANEL_WIDTH
from screens.widgets import KButton

CARDS = ("resident-a", "resident-b", "citizen-a", "child", "locked", "expired", "revoked", "support-measures",
         "moved-out", "seal-abolished", "foreign", "domicile-elsewhere")
"""The development world's test cards (``kiosk-server devinit``); one missing here only logs a warning."""
ACTIONS = (
    ("Lift card", "lift_card", {}),
    ("Take certificate", "take_document", {}), ("Take change", None, {}),
    ("Paper out", "paper_out", {}), ("Refill paper", "refill_paper", {}),
    ("Cover open", "open_cover", {}), ("Cover close", "close_cover", {}),
    ("Door open", "door_open", {}), ("Door close", "door_close", {}),
    ("Server down", "server_down", {}), ("Server up", "server_up", {}),
)


class DevPanel(ScrollView):
    def __init__(self, bridge, **kwargs):
        super().__init__(size_hint_x=None, width=dp(DEV_PANEL_WIDTH), do_scroll_x=False, **kwargs)
        self.bridge = bridge
        box = BoxLayout(orientation="vertical", size_hint_y=None, padding=dp(6), spacing=dp(4))
        box.bind(minimum_height=box.setter("height"))
        box.add_widget(self._title("DEV PANEL (simulated devices)"))
        box.add_widget(self._title("Place a card"))
        box.add_widget(self._grid([(c, "place_card", {"card": c}) for c in CARDS]))
        box.add_widget(self._title("Coins / notes (yen)"))
        money = [(str(v), "insert_coin", {"value": v}) for v in (10, 50, 100, 500)]
        money += [(str(v), "insert_note", {"value": v}) for v in (1000, 5000, 10000)]
        box.add_widget(self._grid(money, cols=4))
        box.add_widget(self._title("World"))
        box.add_widget(self._grid(ACTIONS))
        self.add_widget(box)

    def _title(self, text: str) -> Label:
        return Label(text=text, size_hint_y=None, height=dp(28), bold=True, color=(0.1, 0.1, 0.1, 1))

    def _grid(self, entries, cols: int = 2) -> GridLayout:
        grid = GridLayout(cols=cols, spacing=dp(4), size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        for label, command, args in entries:
            action = (lambda: self.bridge.send(TakeChange())) if command is None else (
                lambda c=command, a=args: self.bridge.dev(c, **a))
            name = "dev." + (label.lower().replace(" ", "_") if command != "place_card" else f"card.{label}")
            if command in ("insert_coin", "insert_note"):
                name = f"dev.yen.{label}"
            grid.add_widget(KButton(text=label, name=name, action=action, kind="secondary", size_class="compact",
                                    font_override="Roboto"))
        return grid
