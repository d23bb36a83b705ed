"""Staff screens (Japanese with English, for ward-office staff): the staff PIN pad and maintenance mode.

Entry: hold the top-left corner of the idle or out-of-service screen for 2 s, then the staff PIN; or place a
staff card.  Everything is done through :class:`firmware.maintenance.Maintenance`, which audits each step.
"""
from __future__ import annotations

import asyncio
import json

from kivy.metrics import dp
from kivy.uix.gridlayout import GridLayout

from screens.pages.base import Page
from screens.widgets import KLabel

STAFF_FONT_LANGUAGE = "ja"
ANSWERS = {"wrong": "暗証番号が違います / Wrong PIN", "locked_out": "ロック中 / Locked for a while",
           "not_configured": "職員暗証番号が未設定 / No staff PIN configured ([maintenance] staff_pin)",
           "busy": "利用中は入れません / A visit is in progress"}


class StaffPinPage(Page):
    _digits = ""

    def render(self, view, t) -> None:
        self.ids.heading.text = "職員暗証番号 / Staff PIN"
        self.clear()
        self.answer = self.add_text("", role="muted")
        self.dots = KLabel(role="big", halign="center")
        self.ids.content.add_widget(self.dots)
        grid = GridLayout(cols=3, spacing=dp(8), size_hint=(None, None), width=dp(420))
        grid.bind(minimum_height=grid.setter("height"))
        for key in "123456789":
            grid.add_widget(self.button(key, f"staff.{key}", lambda d=key: self.on_digit(d), kind="secondary"))
        grid.add_widget(self.button("戻る Back", "staff.back", self.app.close_staff, kind="secondary"))
        grid.add_widget(self.button("0", "staff.0", lambda: self.on_digit("0"), kind="secondary"))
        grid.add_widget(self.button("OK", "staff.ok", self.submit))
        self.ids.content.add_widget(grid)
        self._refresh()

    def on_leave(self, *args):
        self._digits = ""

    def _refresh(self):
        self.dots.text = "●" * len(self._digits) or "—"

    def on_digit(self, digit: str) -> bool:
        if len(self._digits) < 8:
            self._digits += digit
            self._refresh()
        return True

    def on_backspace(self) -> bool:
        self._digits = self._digits[:-1]
        self._refresh()
        return True

    def submit(self) -> None:
        digits, self._digits = self._digits, ""
        answer = self.app.bridge.maintenance.enter_with_pin(digits)
        if answer == "ok":
            self.app.open_maintenance()
        else:
            self.answer.text = ANSWERS.get(answer, answer)
            self._refresh()


class MaintenancePage(Page):
    def render(self, view, t) -> None:
        m = self.app.bridge.maintenance
        self.ids.heading.text = "点検モード / Maintenance"
        self.clear()
        row = GridLayout(cols=4, spacing=dp(8), size_hint_y=None)  # the actions first, the report below
        row.bind(minimum_height=row.setter("height"))
        row.add_widget(self.button("テスト印刷\nTest print", "maint.test_print", self._test_print, kind="secondary"))
        if m.keeps_out_of_service:
            row.add_widget(self.button("運用再開\nBack in service", "maint.in_service", self._in_service,
                                       kind="secondary"))
        else:
            row.add_widget(self.button("休止にする\nOut of service", "maint.out_of_service", self._out_of_service,
                                       kind="secondary"))
        row.add_widget(self.button("更新\nRefresh", "maint.refresh", lambda: self.render(view, t), kind="secondary"))
        row.add_widget(self.button("終了\nLeave", "maint.leave", self.app.close_staff))
        self.ids.content.add_widget(row)
        self.status = self.add_text("…", role="small")
        asyncio.get_event_loop().create_task(self._fill())

    async def _fill(self) -> None:
        m = self.app.bridge.maintenance
        if not m.active:
            return
        devices = await m.device_status()
        cash = m.cash_counts()
        today = m.journal_today()
        lines = ["機器 / Devices: " + ", ".join(f"{name} {state}" for name, state in devices.items())]
        lines += ["硬貨 / Hopper coins: " + ", ".join(f"{v}円×{n}" for v, n in cash["hoppers"].items())]
        lines += ["本日 / Today: " + json.dumps(today.get("transactions", {}), ensure_ascii=False)]
        kinds = today.get("kinds", {})
        lines += ["  " + ", ".join(f"{k} {v['count']} ({v['amount']}円)" for k, v in sorted(kinds.items()))]
        lines += ["累計 / Totals: " + ", ".join(f"{k} {v['amount']}円" for k, v in
                                                sorted(cash["totals"].get("kinds", {}).items()))]
        self.status.text = "\n".join(lines)

    def _test_print(self) -> None:
        async def run():
            state = await self.app.bridge.maintenance.test_print()
            self.status.text = f"テスト印刷 / Test print: {state}\n" + self.status.text
        asyncio.get_event_loop().create_task(run())

    def _out_of_service(self) -> None:
        self.app.bridge.maintenance.take_out_of_service()
        self.render(None, None)

    def _in_service(self) -> None:
        self.app.bridge.maintenance.put_back_in_service()
        self.render(None, None)
