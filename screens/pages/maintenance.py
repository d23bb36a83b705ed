"""Staff screens (Japanese with English, for ward-office staff): the staff PIN pad and maintenance mode.

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
ANSWERS = {"wrong": "暗証番号が違います / Wrong PIN", "locked_out": "ロック中 / Locked for a while",
           "not_configured": "職員暗証番号が未設定 / No staff PIN configured ([maintenance] staff_pin)",
           "busy": "利用中は入れません / A visit is in progress"}
REFILL_STEP = 50
"""Coins per tap of a hopper's refill button (staff tap it once per roll of 50)."""


class StaffPinPage(Page):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._digits = bytearray()

    def render(self, view, t) -> None:
        m = self.app.bridge.maintenance
        self.ids.heading.text = ("現金操作: 職員暗証番号 / Cash: staff PIN" if m is not None and m.wants_pin_for_cash
                                 else "職員暗証番号 / Staff PIN")
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
            self.answer.text = ANSWERS.get(answer, answer)
            self._refresh()


class MaintenancePage(Page):
    def render(self, view, t) -> None:
        m = self.app.bridge.maintenance
        self.ids.heading.text = "点検モード / Maintenance" + ("" if m.cash_unlocked else " (限定 / limited)")
        self.clear()
        row = GridLayout(cols=5, spacing=dp(8), size_hint_y=None)  # the actions first, the report below
        row.bind(minimum_height=row.setter("height"))
        row.add_widget(self.button("テスト印刷\nTest print", "maint.test_print", self._test_print, kind="secondary"))
        if m.keeps_out_of_service:
            row.add_widget(self.button("運用再開\nBack in service", "maint.in_service", self._in_service,
                                       kind="secondary"))
        else:
            row.add_widget(self.button("休止にする\nOut of service", "maint.out_of_service", self._out_of_service,
                                       kind="secondary"))
        row.add_widget(self.button("呼出灯を消す\nBeacon off", "maint.beacon_off", self._beacon_off,
                                   kind="secondary"))
        row.add_widget(self.button("更新\nRefresh", "maint.refresh", lambda: self.render(view, t), kind="secondary"))
        row.add_widget(self.button("終了\nLeave", "maint.leave", self.app.close_staff))
        self.ids.content.add_widget(row)
        if m.cash_unlocked:
            self.ids.content.add_widget(self._cash_row(m))
        elif m.wants_pin_for_cash:
            self.ids.content.add_widget(self.button("現金操作: 職員暗証番号\nCash: staff PIN", "maint.cash_pin",
                                                    self.app.open_staff_pin, kind="secondary"))
        else:
            self.add_text("現金操作は職員カードと暗証番号で / Cash needs the staff card and the staff PIN",
                          role="small")
        self.status = self.add_text("…", role="small")
        asyncio.get_event_loop().create_task(self._fill())

    def _cash_row(self, m) -> GridLayout:
        row = GridLayout(cols=4, spacing=dp(8), size_hint_y=None)
        row.bind(minimum_height=row.setter("height"))
        for hopper in m.kiosk.devices.hoppers:
            value = hopper.coin_value
            row.add_widget(self.button(f"補充 {value}円 +{REFILL_STEP}\nRefill", f"maint.refill.{value}",
                                       lambda v=value: self._cash(lambda: m.refill_hopper(v, REFILL_STEP)),
                                       kind="secondary"))
        for device, label in ((m.kiosk.devices.notes, "紙幣庫回収\nNote box emptied"),
                              (m.kiosk.devices.coins, "硬貨庫回収\nCoin box emptied")):
            if device is not None:
                row.add_widget(self.button(label, f"maint.box.{device.name}",
                                           lambda n=device.name: self._cash(lambda: m.cash_box_emptied(n)),
                                           kind="secondary"))
        row.add_widget(self.button("硬貨機リセット\nReset coin acceptor", "maint.reset_coins", self._reset_coins,
                                   kind="secondary"))
        row.add_widget(self.button("現金確認済み\nCash counted", "maint.cash_reconciled",
                                   lambda: self._cash(m.cash_reconciled), kind="secondary"))
        return row

    async def _fill(self) -> None:
        m = self.app.bridge.maintenance
        if not m.active:
            return
        devices = await m.device_status()
        lines = ["機器 / Devices: " + ", ".join(f"{name} {state}" for name, state in devices.items())]
        if m.cash_unlocked:
            cash = m.cash_counts()
            today = m.journal_today()
            owed = m.refunds_owed(5)
            lines += ["硬貨 / Hopper coins: " + ", ".join(f"{v}円×{n}" for v, n in cash["hoppers"].items())]
            lines += ["本日 / Today: " + json.dumps(today.get("transactions", {}), ensure_ascii=False)]
            kinds = today.get("kinds", {})
            lines += ["  " + ", ".join(f"{k} {v['count']} ({v['amount']}円)" for k, v in sorted(kinds.items()))]
            lines += ["累計 / Totals: " + ", ".join(f"{k} {v['amount']}円" for k, v in
                                                    sorted(cash["totals"].get("kinds", {}).items()))]
            lines += ["返金未済 / Refunds owed: " + (", ".join(f"{o['txn'][:8]}… {o['amount']}円" for o in owed)
                                                     or "—")]
        self.status.text = "\n".join(lines)

    def _note(self, text: str) -> None:
        self.status.text = text + "\n" + self.status.text

    def _cash(self, action) -> None:
        try:
            result = action()
        except (PermissionError, ValueError) as exc:
            self._note(f"× {exc}")
            return
        self._note(f"記録 / Recorded ({result})")

    def _reset_coins(self) -> None:
        async def run():
            try:
                state = await self.app.bridge.maintenance.reset_acceptor()
            except (PermissionError, ValueError) as exc:
                self._note(f"× {exc}")
                return
            self._note(f"硬貨機 / Coin acceptor: {state}")
        asyncio.get_event_loop().create_task(run())

    def _beacon_off(self) -> None:
        self.app.bridge.maintenance.acknowledge_beacon()
        self._note("呼出灯 消灯 / Beacon off")

    def _test_print(self) -> None:
        async def run():
            state = await self.app.bridge.maintenance.test_print()
            self._note(f"テスト印刷 / Test print: {state}")
        asyncio.get_event_loop().create_task(run())

    def _out_of_service(self) -> None:
        self.app.bridge.maintenance.take_out_of_service()
        self.render(None, None)

    def _in_service(self) -> None:
        self.app.bridge.maintenance.put_back_in_service()
        self.render(None, None)
