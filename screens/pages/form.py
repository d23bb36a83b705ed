"""An e-application's form, drawn from its description (certs.services.Form.to_dict(), in the view): no
application is known here.  One screen: a column per choice field (counts with −/+, one choice among buttons),
and a column for the typed fields (phone, a customer number) sharing one number pad, with Next under it.

Labels: ``svc.<service>``, ``field.<name>`` and ``choice.<field>.<value>`` from the string catalogue when it has
them, else the form's own Japanese label (a city's own form shows in Japanese until its strings are added).
What the resident types stays in this widget and in the intent; the view gives a personal answer back masked.

Said as well as shown (:mod:`screens.narration`): each count's −, number and + name their item ("One more chair",
"Chair: 2"), so the keypad's focus tells a resident who cannot see which line it is on; an item known only by the
city's Japanese label is "Item 3" in a voice that is not Japanese.  A change made here (a count, a day, a key
typed) is said at once.  A typed field is said digit by digit as it grows (the resident checks the number by ear;
it is a contact number, not a secret like the PIN, which is never said), and "empty" while it is.
"""
from __future__ import annotations

from datetime import date

from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from firmware.visit import MoreTime, SubmitForm
from screens.catalogue import JAPANESE
from screens.fonts import FONT_OF_LANGUAGE
from screens.pages.base import _kept
from screens.widgets import KLabel

TYPED = ("phone", "digits")
PAD = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "-", "del")
DATE_COLUMNS = 3
CJK_FONTS = ("ipaex", "noto_cjk")
WIDTH = {"counts": 1.15, "choice": 1.0, "typed": 0.85}  # the columns' shares of the screen's width


def _day(t, value: str) -> str | None:
    """A choice whose value is a date is said in the resident's language (the city's label is Japanese)."""
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return t("form.day", month=day.month, day=day.day, weekday=t(f"weekday.{day.weekday()}"))


def data_font(app, language: str) -> str:
    """The font for text from the city's data (Japanese) on a screen in ``language``: its own if it has kana and
    kanji, else the Japanese one (no boxes for 粗大ごみ's items on an English screen)."""
    return "" if FONT_OF_LANGUAGE.get(language) in CJK_FONTS else app.ui.font_for("ja")


def title(t, form: dict) -> str:
    key = f"svc.{form['service']}"
    return t(key) if t.has(key) else form["title_ja"]


def field_label(t, spec: dict) -> str:
    key = f"field.{spec['name']}"
    text = t(key) if t.has(key) else spec["label_ja"]
    return text if spec.get("required", True) else f"{text} {t('form.optional')}"


def said_item(t, words: str, from_data: bool, number: int) -> str:
    """An item as the voice says it: its words, or "Item n" where they are the city's Japanese and the voice is not."""
    return t("speech.item", n=number) if from_data and t.language not in JAPANESE else words


def choice_label(t, spec: dict, choice: dict) -> str:
    return choice_text(t, spec, choice)[0]


def choice_text(t, spec: dict, choice: dict) -> tuple[str, bool]:
    """(the choice's words, whether they are the city's Japanese data)."""
    key = f"choice.{spec['name']}.{choice['value']}"
    if t.has(key):
        return t(key), False
    day = _day(t, choice["value"])
    return (day, False) if day else (choice["label_ja"], True)


class FormDrawer:
    """Draws one form onto a page and keeps what the resident entered until the form is sent."""

    def __init__(self, page):
        self.page = page
        self.key = None

    def reset(self, view) -> None:
        self.key = (view.visit, view.service)
        self.answers: dict = {}
        for spec in view.form["fields"]:
            if spec["kind"] == "counts":
                self.answers[spec["name"]] = {}
            elif spec["name"] in view.answers and not spec.get("personal"):
                self.answers[spec["name"]] = view.answers[spec["name"]]
        typed = [s["name"] for s in view.form["fields"] if s["kind"] in TYPED]
        self.typing = typed[0] if typed else None

    def draw(self, view, t) -> None:
        if self.key != (view.visit, view.service):
            self.reset(view)
        self.view, self.t = view, t
        page = self.page
        page.ids.heading.text = title(t, view.form)
        page.clear()
        fields = view.form["fields"]
        chosen = [s for s in fields if s["kind"] not in TYPED]
        typed = [s for s in fields if s["kind"] in TYPED]
        row = BoxLayout(orientation="horizontal", spacing=dp(16), size_hint_y=None)
        columns = []
        for spec in chosen:
            columns.append(self._column(spec, self._counts if spec["kind"] == "counts" else self._choices,
                                        WIDTH[spec["kind"]]))
        if typed:
            columns.append(self._typed_column(typed))
        else:
            columns[-1].add_widget(self._next_button())
        def fit(*_):  # the row as tall as its tallest column, once the columns know their heights
            row.height = max(c.height for c in columns)

        for column in columns:
            row.add_widget(column)
            column.bind(height=fit)
        fit()
        page.ids.content.add_widget(row)

    # -- columns ---------------------------------------------------------------------------------------------

    def _column(self, spec: dict, fill, width: float) -> BoxLayout:
        column = BoxLayout(orientation="vertical", spacing=dp(4), size_hint=(width, None), pos_hint={"top": 1})
        column.bind(minimum_height=column.setter("height"))
        column.add_widget(self._heading(spec))
        fill(column, spec)
        return column

    def _heading(self, spec: dict):
        t, view, page = self.t, self.view, self.page
        ui = page.app.ui
        if view.message and view.problem_field == spec["name"]:  # said beside the field, in the warning colour
            warning = KLabel(text=f"{field_label(t, spec)}: {t.message(view.message)}", role="small",
                             font_name=ui.font_bold)
            warning.color = ui.danger  # (after the kv rule, which greys small text)
            return warning
        key = f"field.{spec['name']}"
        font = ui.font_bold if t.has(key) else (data_font(page.app, t.language) or ui.font_bold)
        text = field_label(t, spec)  # kept across redraws (its texture with it): no blank frame after a tap
        return page._reuse(("text", "small", text), font_name=font) or _kept(KLabel(text=text, role="small",
                                                                                     font_name=font))

    def _counts(self, column, spec: dict) -> None:
        t, counts = self.t, self.answers[spec["name"]]
        for number, choice in enumerate(spec["choices"], 1):
            value = choice["value"]
            line = BoxLayout(orientation="horizontal", spacing=dp(4), size_hint_y=None, height=dp(44))
            words, from_data = choice_text(t, spec, choice)
            fee = f"  {t.money(choice['fee'])}" if choice.get("fee") else ""
            item, count = said_item(t, words, from_data, number), counts.get(value, 0)
            name = self.page.button(words + fee, f"form.{spec['name']}.{value}", None, kind="quiet",
                                    size_class="compact",
                                    font_override=data_font(self.page.app, t.language) if from_data else "")
            less = self.page.button("−", f"form.{spec['name']}.{value}.less",
                                    lambda v=value: self._count(spec, v, -1), kind="secondary",
                                    size_class="compact", disabled=not count, size_hint_x=None, width=dp(46))
            shown = self.page.button(str(count), f"form.{spec['name']}.{value}.n", None,
                                     kind="quiet", size_class="compact", size_hint_x=None, width=dp(40))
            more = self.page.button("+", f"form.{spec['name']}.{value}.more",
                                    lambda v=value: self._count(spec, v, 1), kind="secondary",
                                    size_class="compact", size_hint_x=None, width=dp(46))
            name.spoken_text = item + fee if item != words else None
            less.spoken_text = t("speech.fewer", item=item)
            shown.spoken_text = t("speech.count", item=item, n=count)
            more.spoken_text = t("speech.more", item=item)
            for button in (name, less, shown, more):
                line.add_widget(button)
            column.add_widget(line)
        fees = {c["value"]: c.get("fee", 0) for c in spec["choices"]}
        total = sum(fees[k] * n for k, n in counts.items())
        if any(fees.values()):
            column.add_widget(self.page.button(f"{t('confirm.total')}  {t.money(total)}", f"form.{spec['name']}.total",
                                               None, kind="quiet", size_class="compact"))

    def _choices(self, column, spec: dict) -> None:
        choices = spec["choices"]
        if not choices:
            column.add_widget(self.page.button(self.t("form.no_choice"), f"form.{spec['name']}.none", None,
                                               kind="quiet", size_class="compact"))
            return
        grid = GridLayout(cols=min(DATE_COLUMNS, len(choices)), spacing=dp(4), size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        current = self.answers.get(spec["name"])
        for number, choice in enumerate(choices, 1):
            words, from_data = choice_text(self.t, spec, choice)
            button = self.page.button(words, f"form.{spec['name']}.{choice['value']}",
                                      lambda c=choice["value"]: self._choose(spec, c),
                                      kind="chosen" if choice["value"] == current else "secondary",
                                      size_class="compact",
                                      font_override=data_font(self.page.app, self.t.language) if from_data else "")
            item = said_item(self.t, words, from_data, number)
            button.spoken_text = item if item != words else None
            grid.add_widget(button)
        column.add_widget(grid)

    def _typed_column(self, typed: list[dict]) -> BoxLayout:
        column = BoxLayout(orientation="vertical", spacing=dp(4), size_hint=(WIDTH["typed"], None),
                           pos_hint={"top": 1})
        column.bind(minimum_height=column.setter("height"))
        for spec in typed:
            column.add_widget(self._heading(spec))
            text = self.answers.get(spec["name"], "")
            field = self.page.button(text or "_ _ _", f"form.{spec['name']}", lambda n=spec["name"]: self._type_into(n),
                                     kind="chosen" if self.typing == spec["name"] else "secondary",
                                     size_class="compact")
            typed = " ".join(text) if text else self.t("speech.empty")  # digit by digit, not as a number
            field.spoken_text = f"{field_label(self.t, spec)}{self.t('speech.pause')}{typed}"  # (a pad key says "0")
            field.only_looks_chosen = True  # the colour marks the field being typed into; each key says it again
            column.add_widget(field)
        pad = GridLayout(cols=4, spacing=dp(4), size_hint_y=None)
        pad.bind(minimum_height=pad.setter("height"))
        for key in PAD:
            pad.add_widget(self.page.button(self.t("form.delete") if key == "del" else key, f"form.key.{key}",
                                            lambda k=key: self._key(k), kind="secondary", size_class="compact"))
        column.add_widget(pad)
        column.add_widget(self._next_button())
        return column

    def _next_button(self):
        self.next = self.page.button(self.t("btn.next"), "form.next", self.send, disabled=self.view.busy,
                                     size_class="bar")
        return self.next

    # -- input -----------------------------------------------------------------------------------------------

    def _alive(self) -> None:
        """A tap on the form is the resident at work: the state's timeout starts again (as any intent does)."""
        self.page.app.bridge.send(MoreTime())

    def _redraw(self) -> None:
        """Drawn again after a tap or key here (not by the app): the voice says what changed (a count, a choice)."""
        self.draw(self.view, self.t)
        self.page.app.narrate(self.page)

    def _count(self, spec: dict, value: str, step: int) -> None:
        self._alive()
        counts = self.answers[spec["name"]]
        counts[value] = max(0, counts.get(value, 0) + step)
        self._redraw()

    def _choose(self, spec: dict, value: str) -> None:
        self._alive()
        self.answers[spec["name"]] = value
        self._redraw()

    def _type_into(self, name: str) -> None:
        self.typing = name
        self._redraw()

    def _key(self, key: str) -> None:
        if self.typing is None:
            return
        self._alive()
        text = self.answers.get(self.typing, "")
        text = text[:-1] if key == "del" else (text + key)[:16]
        if text:
            self.answers[self.typing] = text
        else:
            self.answers.pop(self.typing, None)
        self._redraw()

    def digit(self, digit: str) -> bool:
        """A key of the kiosk's keypad types into the field being typed."""
        if self.typing is None:
            return False
        self._key(digit)
        return True

    def send(self) -> None:
        answers = {k: v for k, v in self.answers.items() if v not in ({}, "", None)}
        if self.page.app.bridge.send(SubmitForm(answers)):
            self.next.disabled = True


def confirm_lines(view, t) -> list[str]:
    """The confirmation of an application: each answer as given (a personal one masked), then what it costs."""
    lines = []
    for spec in view.form["fields"]:
        value = view.answers.get(spec["name"])
        if value is None:
            continue
        if spec["kind"] == "counts":
            labels = {c["value"]: c for c in spec["choices"]}
            shown = t("form.and").join(f"{choice_label(t, spec, labels[k])} ×{n}" for k, n in value.items()
                                       if k in labels)
        elif spec["kind"] == "choice":
            choice = next((c for c in spec["choices"] if c["value"] == value), None)
            shown = choice_label(t, spec, choice) if choice else str(value)
        else:
            shown = str(value)
        lines.append(f"{field_label(t, spec)}:  {shown}".replace("\n", " "))  # (a date's two lines as one)
    return lines
