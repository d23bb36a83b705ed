"""Options, then copies: two steps of the firmware's one OPTIONS state, sent together as SetOptions.

Which options a certificate has comes from the offer; this screen only knows how to ask about them: a choice
between values (scope: only me / the whole household) or include / leave out.
"""
from __future__ import annotations

from kivy.metrics import dp, sp
from kivy.uix.gridlayout import GridLayout

from firmware.visit import Back, SetOptions
from screens.catalogue import JAPANESE
from screens.pages.base import Page
from screens.pages.form import FormDrawer

CHOICES = {"scope": ("self", "household")}  # every other option is include (True) / leave out (False)
NOT_ASKED = {"members"}  # the chosen household members: asked as names under "selected members", not as text


def choices_of(option: str, selectable: bool = False) -> tuple:
    """An option's choices; ``selectable``: the household is known, so a 住民票 may show selected members."""
    if option == "scope" and selectable:
        return CHOICES["scope"] + ("selected",)
    return CHOICES.get(option, (False, True))


def member_names(view, refs: str) -> list[str]:
    chosen = set(refs.split(","))
    return [f"{m.name}（{m.relationship}）" for m in view.household if m.member_ref in chosen]


def choice_label(t, option: str, value) -> str:
    if isinstance(value, bool):
        return t("opt.yes") if value else t("opt.no")
    return t(f"opt.{option}.{value}") if t.has(f"opt.{option}.{value}") else str(value)


def option_label(t, option: str, detail=None) -> str:
    """The catalogue's name for an option; else the server's Japanese label; else its id."""
    if t.has(f"opt.{option}"):
        return t(f"opt.{option}")
    return detail.label_ja if detail is not None and detail.label_ja else option


def server_default(detail, choices: tuple):
    """The server's default for an option when it is one of the choices this screen offers, else the first."""
    if detail is not None and detail.default in choices:
        return detail.default
    return choices[0]


class OptionsPage(Page):
    cancel_allowed = True
    back_allowed = True
    _key = None

    def render(self, view, t) -> None:
        if view.service and view.form:  # an e-application: its form, drawn from its description
            self._form = getattr(self, "_form", None) or FormDrawer(self)
            self._view = view
            self._form.draw(view, t)
            return
        offer = next((o for o in view.offers if o.certificate == view.certificate), None)
        key = (view.visit, view.certificate)
        if key != self._key:  # a fresh choice: defaults, and start with the options step if there is one
            self._key = key
            details = {d.name: d for d in (offer.option_details if offer else ())}
            self.details = details
            self.chosen = {name: server_default(details.get(name), choices_of(name))
                           for name in (offer.options if offer else ())
                           if name not in NOT_ASKED and not (details.get(name) and details[name].free_text)}
            self.members: list[str] = []  # member_refs chosen, for scope "selected"
            self.copies = 1
            self.step = "options" if self.chosen else "copies"
        self._t, self._view, self._offer = t, view, offer
        self._draw()

    def _draw(self) -> None:
        t, view = self._t, self._view
        self.ids.heading.text = t({"options": "prompt.options", "members": "members.pick"}.get(self.step,
                                                                                           "prompt.copies"))
        self.clear()
        if self.step == "copies":  # (on the options step the buttons need the room; the name was just chosen)
            self.add_text(t(f"cert.{view.certificate}"), role="title")
        if view.message:
            self.add_notice(t.message(view.message), kind="warn")
        if self.step == "options":
            for name, value in self.chosen.items():
                row = GridLayout(cols=3, spacing=dp(8), size_hint_y=None)
                row.bind(minimum_height=row.setter("height"))
                ui = self.app.ui  # a plain label: its text sits centred beside the two buttons
                label = option_label(t, name, self.details.get(name))
                row.add_widget(self.label(label, font_name=ui.font, color=ui.fg,
                                          font_size=sp(24) * ui.scale, size_hint_y=None, height=dp(72)))
                for choice in choices_of(name, self._selectable()):
                    row.add_widget(self.button(choice_label(t, name, choice), f"opt.{name}.{choice}",
                                               lambda n=name, c=choice: self._pick(n, c),
                                               kind="chosen" if choice == value else "secondary",
                                               size_class="menu"))
                self.ids.content.add_widget(row)
        elif self.step == "members":
            self._draw_members(t, view)
        else:
            limit = self._offer.max_copies if self._offer else 1
            row = GridLayout(cols=min(limit, 5), spacing=dp(10), size_hint_y=None)
            row.bind(minimum_height=row.setter("height"))
            for n in range(1, limit + 1):
                row.add_widget(self.button(t("copies.n", n=n), f"copies.{n}", lambda n=n: self._copies(n),
                                           kind="chosen" if n == self.copies else "secondary"))
            self.ids.content.add_widget(row)
            fee = self._offer.fee * self.copies if self._offer else 0
            self.add_text(f"{t('confirm.total')}  {t.money(fee)}", role="big")
        waiting = self.step == "members" and not self.members
        self.next = self.button(t("btn.next"), "options.next", self._next, disabled=self._view.busy or waiting)
        self.ids.content.add_widget(self.next)
        self.app.narrate(self)  # (a step or a choice drawn here, not by the app)

    def _selectable(self) -> bool:
        return bool(self._view.household) and self._offer is not None and "members" in self._offer.options

    def _draw_members(self, t, view) -> None:
        """The "selected members" step: one button per household member (name and relationship), chosen or not;
        the names are said in Japanese (the registry's), and a screen said in another language says "member 2"."""
        self.add_text(t(f"cert.{view.certificate}"), role="title")
        grid = GridLayout(cols=2, spacing=dp(8), size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        for n, member in enumerate(view.household, start=1):
            button = self.button(f"{member.name}（{member.relationship}）", f"member.{n}",
                                 lambda ref=member.member_ref: self._toggle(ref),
                                 kind="chosen" if member.member_ref in self.members else "secondary")
            button.spoken_language = "ja"
            button.font_override = self.app.ui.font_for("ja")  # registry names are Japanese, in any language
            button.spoken_text = None if t.language in JAPANESE else t("speech.member", n=n)
            grid.add_widget(button)
        self.ids.content.add_widget(grid)

    def _toggle(self, ref: str) -> None:
        self.members = [m for m in self.members if m != ref] if ref in self.members else self.members + [ref]
        self._draw()

    def _pick(self, name: str, choice) -> None:
        self.chosen[name] = choice
        self._draw()

    def _options(self) -> dict:
        options = dict(self.chosen)
        if options.get("scope") == "selected":
            options["members"] = ",".join(m.member_ref for m in self._view.household if m.member_ref in self.members)
        return options

    def _copies(self, n: int) -> None:
        self.copies = n
        self._draw()

    def _next(self) -> None:
        if self.step == "options":
            self.step = "members" if self.chosen.get("scope") == "selected" and self._selectable() else "copies"
            self._draw()
        elif self.step == "members":
            self.step = "copies"
            self._draw()
        elif self.app.bridge.send(SetOptions(self._options(), self.copies)):
            self.next.disabled = True

    def back(self) -> None:
        """The footer's Back: from copies to options (on this screen), else to the menu (the firmware)."""
        if self._view.service:
            self.app.bridge.send(Back())
        elif self.step == "copies" and self.chosen:
            self.step = "members" if self.chosen.get("scope") == "selected" and self._selectable() else "options"
            self._draw()
        elif self.step == "members":
            self.step = "options"
            self._draw()
        else:
            self.app.bridge.send(Back())

    def on_digit(self, digit: str) -> bool:
        if self._view.service and getattr(self, "_form", None):
            return self._form.digit(digit)
        n = int(digit)
        if self.step == "copies" and self._offer and 1 <= n <= self._offer.max_copies:
            self._copies(n)
            return True
        return False

    def default_button(self):
        if self._view.service and getattr(self, "_form", None):
            return self._form.next
        return self.next
