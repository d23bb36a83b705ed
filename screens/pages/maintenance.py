"""Staff screens in the kiosk's current language (Japanese with English by default; ``staff.*`` and ``maint.*``
in every catalogue): the staff PIN pad and maintenance mode.

Entry: hold the top-left corner of the idle or out-of-service screen for 2 s, then the staff PIN; or place a
staff card.  Either alone opens the limited mode (status, test print, out of service / back in service, beacon
off); the cash part (hopper coins, totals, refunds owed, hopper refill, cash box emptied, coin acceptor reset,
cash counted)
needs the staff card and then the staff PIN (its button opens the PIN pad).  Everything is done through
:class:`firmware.maintenance.Maintenance`, which checks the factors and audits each step.  The PIN pad keeps its
digits in a bytearray, handed over as it is and wiped at once.
"""
from __future__ import annotations

import asyncio
import json

from kivy.metrics import dp
from kivy.uix.gridlayout import GridLayout

from screens.pages.base import Page
from screens.pages.pin import wipe
from screens.widgets import KLabel

STAFF_FONT_LANGUAGE = "ja"
ANSWERS = ("wrong", "locked_out", "not_configured", "busy")
"""What the maintenance model may answer to a staff PIN (each has its ``staff.<answer>`` text)."""
REFILL_STEP = 50
"""Coins per tap of a hopper's refill button (staff tap it once per roll of 50)."""


class StaffPinPage(Page):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._digits = bytearray()

    def render(self, view, t) -> None:
        m = self.app.bridge.maintenance
        self._t = t
        self.ids.heading.text = t("staff.pin_cash" if m is not None and m.wants_pin_for_cash else "staff.pin")
        self.clear()
        self.answer = self.add_text("", role="muted")
        self.dots = KLabel(role="big", halign="center")
        self.ids.content.add_widget(self.dots)
        grid = GridLayout(cols=3, spacing=dp(8), size_hint=(None, None), width=dp(420))
        grid.bind(minimum_height=grid.setter("height"))
        for key in "123456789":
            grid.add_widget(self.button(key, f"staff.{key}", lambda d=key: self.on_digit(d), kind="secondary"))
        grid.add_widget(self.button(t("staff.back"), "staff.back", self.app.close_staff, kind="secondary"))
        grid.add_widget(self.button("0", "staff.0", lambda: self.on_digit("0"), kind="secondary"))
        grid.add_widget(self.button("OK", "staff.ok", self.submit))
        self.ids.content.add_widget(grid)
        self._refresh()

    def on_leave(self, *args):
        wipe(self._digits)

    def _refresh(self):
        self.dots.text = "●" * len(self._digits) or "—"

    def on_digit(self, digit: str) -> bool:
        if len(self._digits) < 8:
            self._digits.append(ord(digit))
            self._refresh()
        return True

    def on_backspace(self) -> bool:
        if self._digits:
            self._digits[-1] = 0
            del self._digits[-1]
        self._refresh()
        return True

    def submit(self) -> None:
        try:
            answer = self.app.bridge.maintenance.enter_with_pin(self._digits)  # the bytearray itself, no copy
        finally:
            wipe(self._digits)
        if answer == "ok":
            self.app.open_maintenance()
        else:
            self.answer.text = self._t(f"staff.{answer}") if answer in ANSWERS else answer
            self._refresh()


class MaintenancePage(Page):
    def render(self, view, t) -> None:
        m = self.app.bridge.maintenance
        t = t or self._t
        self._t, self._view = t, view
        self.ids.heading.text = t("maint.title") + ("" if m.cash_unlocked else t("maint.limited"))
        self.clear()
        cols = 3 if self.app.ui.large_text else 5  # (large text: the words would break in five columns)
        row = GridLayout(cols=cols, spacing=dp(8), size_hint_y=None)  # the actions first, the report below
        row.bind(minimum_height=row.setter("height"))
        row.add_widget(self.button(t("maint.test_print"), "maint.test_print", self._test_print, kind="secondary"))
        if m.keeps_out_of_service:
            row.add_widget(self.button(t("maint.in_service"), "maint.in_service", self._in_service,
                                       kind="secondary"))
        else:
            row.add_widget(self.button(t("maint.out_of_service"), "maint.out_of_service", self._out_of_service,
                                       kind="secondary"))
        row.add_widget(self.button(t("maint.beacon_off"), "maint.beacon_off", self._beacon_off, kind="secondary"))
        row.add_widget(self.button(t("maint.refresh"), "maint.refresh", lambda: self.render(view, t),
                                   kind="secondary"))
        row.add_widget(self.button(t("maint.leave"), "maint.leave", self.app.close_staff))
        self.ids.content.add_widget(row)
        if m.cash_unlocked:
            self.ids.content.add_widget(self._cash_row(m, t))
        elif m.wants_pin_for_cash:
            self.ids.content.add_widget(self.button(t("maint.cash_pin"), "maint.cash_pin", self.app.open_staff_pin,
                                                    kind="secondary"))
        else:
            self.add_text(t("maint.cash_needs"), role="small")
        self.status = self.add_text("…", role="small")
        asyncio.get_event_loop().create_task(self._fill())

    def _cash_row(self, m, t) -> GridLayout:
        row = GridLayout(cols=4, spacing=dp(8), size_hint_y=None)
        row.bind(minimum_height=row.setter("height"))
        for hopper in m.kiosk.devices.hoppers:
            value = hopper.coin_value
            row.add_widget(self.button(t("maint.refill", value=t.money(value), step=REFILL_STEP),
                                       f"maint.refill.{value}",
                                       lambda v=value: self._cash(lambda: m.refill_hopper(v, REFILL_STEP)),
                                       kind="secondary"))
        for device, label in ((m.kiosk.devices.notes, t("maint.note_box")),
                              (m.kiosk.devices.coins, t("maint.coin_box"))):
            if device is not None:
                row.add_widget(self.button(label, f"maint.box.{device.name}",
                                           lambda n=device.name: self._cash(lambda: m.cash_box_emptied(n)),
                                           kind="secondary"))
        row.add_widget(self.button(t("maint.reset_coins"), "maint.reset_coins", self._reset_coins,
                                   kind="secondary"))
        row.add_widget(self.button(t("maint.cash_counted"), "maint.cash_reconciled",
                                   lambda: self._cash(m.cash_reconciled), kind="secondary"))
        return row

    async def _fill(self) -> None:
        m = self.app.bridge.maintenance
        if not m.active:
            return
        t = self._t
        devices = await m.device_status()
        lines = [f"{t('maint.devices')}: " + ", ".join(f"{name} {state}" for name, state in devices.items())]
        if m.cash_unlocked:
            cash = m.cash_counts()
            today = m.journal_today()
            owed = m.refunds_owed(5)
            lines += [f"{t('maint.hopper_coins')}: "
                      + ", ".join(f"{t.money(int(v))}×{n}" for v, n in cash["hoppers"].items())]
            lines += [f"{t('maint.today')}: " + json.dumps(today.get("transactions", {}), ensure_ascii=False)]
            kinds = today.get("kinds", {})
            lines += ["  " + ", ".join(f"{k} {v['count']} ({t.money(v['amount'])})" for k, v in sorted(kinds.items()))]
            lines += [f"{t('maint.totals')}: " + ", ".join(f"{k} {t.money(v['amount'])}" for k, v in
                                                          sorted(cash["totals"].get("kinds", {}).items()))]
            lines += [f"{t('maint.refunds_owed')}: "
                      + (", ".join(f"{o['txn'][:8]}… {t.money(o['amount'])}" for o in owed) or "—")]
        self.status.text = "\n".join(lines)

    def _note(self, text: str) -> None:
        self.status.text = text + "\n" + self.status.text

    def _cash(self, action) -> None:
        try:
            result = action()
        except (PermissionError, ValueError) as exc:
            self._note(f"× {exc}")
            return
        self._note(f"{self._t('maint.recorded')} ({result})")

    def _reset_coins(self) -> None:
        async def run():
            try:
                state = await self.app.bridge.maintenance.reset_acceptor()
            except (PermissionError, ValueError) as exc:
                self._note(f"× {exc}")
                return
            self._note(f"{self._t('maint.coin_acceptor')}: {state}")
        asyncio.get_event_loop().create_task(run())

    def _beacon_off(self) -> None:
        self.app.bridge.maintenance.acknowledge_beacon()
        self._note(self._t("maint.beacon_is_off"))

    def _test_print(self) -> None:
        async def run():
            state = await self.app.bridge.maintenance.test_print()
            self._note(f"{self._t('maint.test_print_done')}: {state}")
        asyncio.get_event_loop().create_task(run())

    def _out_of_service(self) -> None:
        self.app.bridge.maintenance.take_out_of_service()
        self.render(self._view, self._t)

    def _in_service(self) -> None:
        self.app.bridge.maintenance.put_back_in_service()
        self.render(self._view, self._t)
