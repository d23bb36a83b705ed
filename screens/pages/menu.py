"""The certificate menu: what this resident may get, with its fee; what they may not, with the reason."""
from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.gridlayout import GridLayout

from firmware.visit import ChooseCertificate, ChooseService
from screens.pages.base import Page


class MenuPage(Page):
    cancel_allowed = True

    def render(self, view, t) -> None:
        super().render(view, t)
        self.clear()
        if view.message:
            self.add_notice(t.message(view.message), kind="warn")
        self._available = []
        grid = GridLayout(cols=3 if view.services else 2, spacing=dp(8), size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        for offer in view.offers:
            name = t(f"cert.{offer.certificate}")
            if offer.available:
                self._available.append(offer.certificate)
                label = f"{len(self._available)}.  {name}\n{t.money(offer.fee)}"
                if offer.window_fee and offer.window_fee > offer.fee:  # the server's counter fee: the saving
                    label += f"  {t('menu.window_fee', amount=t.money(offer.window_fee))}"
                button = self.button(label, f"cert.{offer.certificate}",
                                     lambda c=offer.certificate: self.app.bridge.send(ChooseCertificate(c)),
                                     size_class="menu")
            else:
                button = self.button(f"{name}\n{t.reason(offer.reason)}", f"cert.{offer.certificate}", None,
                                     kind="secondary", disabled=True, size_class="menu")
            grid.add_widget(button)
        for service, title_ja in view.services:  # e-applications (their forms come with the view)
            self._available.append(("service", service))
            label = t(f"svc.{service}") if t.has(f"svc.{service}") else title_ja
            button = self.button(f"{len(self._available)}.  {label}\n{t('menu.application')}", f"svc.{service}",
                                 lambda s=service: self.app.bridge.send(ChooseService(s)), kind="chosen",
                                 size_class="menu")
            button.only_looks_chosen = True  # the colour sets applications apart; the voice must not say "selected"
            grid.add_widget(button)
        self.ids.content.add_widget(grid)

    def spoken_lines(self, view, t) -> list[str]:
        return super().spoken_lines(view, t) + [t("speech.menu_keys")]

    def on_digit(self, digit: str) -> bool:
        index = int(digit) - 1
        if 0 <= index < len(self._available):
            chosen = self._available[index]
            self.app.bridge.send(ChooseService(chosen[1]) if isinstance(chosen, tuple) else ChooseCertificate(chosen))
            return True
        return False
