"""The Kivy app: one frame (top bar, the current screen, bottom bar, and the dev panel when simulated), the
screens switched by the visit state, the keypad, the "need more time?" question and the staff screens."""
from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from firmware.visit import Back, CallStaff, Cancel, MoreTime, SilenceVoice, VisitState as S
from screens import keys
from screens.catalogue import Strings
from screens.devpanel import DevPanel
from screens.narration import Narrator
from screens.pages.confirm import ConfirmPage
from screens.pages.idle import IdlePage
from screens.pages.maintenance import MaintenancePage, StaffPinPage
from screens.pages.menu import MenuPage
from screens.pages.options import OptionsPage
from screens.pages.out_of_service import OutOfServicePage
from screens.pages.paying import PayingPage
from screens.pages.pin import PinPage
from screens.pages.printing import PrintingPage
from screens.pages.reading import ReadingPage
from screens.pages.return_card import ReturnCardPage
from screens.pages.take_items import TakeItemsPage
from screens.pages.thanks import ThanksPage
from screens.pages.timeout import TimeoutPage
from screens.theme import Ui
from screens.widgets import HoldArea, KButton, KLabel

KV_DIR = Path(__file__).with_name("kv")
PAGES = {S.IDLE: IdlePage, S.OUT_OF_SERVICE: OutOfServicePage, S.READING: ReadingPage, S.PIN: PinPage,
         S.MENU: MenuPage, S.OPTIONS: OptionsPage, S.CONFIRM: ConfirmPage, S.PAYING: PayingPage,
         S.ISSUING: PrintingPage, S.PRINTING: PrintingPage, S.RETURN_CARD: ReturnCardPage,
         S.TAKE_ITEMS: TakeItemsPage}
RESIDENT = {S.READING, S.PIN, S.MENU, S.OPTIONS, S.CONFIRM, S.PAYING}


class KioskApp(App):
    title = "Certificate kiosk"

    def __init__(self, bridge, settings, **kwargs):
        super().__init__(**kwargs)
        self.bridge, self.settings = bridge, settings
        self.ui = Ui(language=bridge.view.language)
        self.mode = "visit"  # or "staff_pin", "maintenance"
        self.view = bridge.view
        self.shown_at: dict[str, float] = {}  # screen name -> when it was last drawn (for benchmarks)
        self._thanks_until = 0.0
        self._focus: int | None = None
        self._render_event = None
        self._staff_note_event = None
        self.narrator = Narrator(bridge)

    # ---- building ---------------------------------------------------------------------------------------------

    def build(self):
        for name in ("widgets.kv", "pages.kv", "app.kv"):
            path = str(KV_DIR / name)
            if path not in Builder.files:  # a second app in the same process (tests) must not apply rules twice
                Builder.load_file(path)
        root = BoxLayout(orientation="horizontal")
        from kivy.factory import Factory
        self.area = Factory.KioskArea(size_hint_x=None, width=self.settings.width)
        top = Factory.TopBar()
        top.add_widget(HoldArea(size_hint_x=None, width=dp(90), action=self.open_staff_pin))
        self.staff_note = KLabel(role="small")
        top.add_widget(self.staff_note)
        self.large_button = KButton(name="bar.large_text", size_class="bar", kind="secondary",
                                    action=self.toggle_large_text)
        self.contrast_button = KButton(name="bar.contrast", size_class="bar", kind="secondary",
                                       action=self.toggle_contrast)
        self.silence_button = KButton(name="bar.silence", size_class="bar", kind="secondary",
                                      action=lambda: self.bridge.send(SilenceVoice()))
        self.staff_button = KButton(name="bar.staff", size_class="bar", kind="danger", action=self.call_staff)
        for button in (self.large_button, self.contrast_button, self.silence_button, self.staff_button):
            top.add_widget(button)
        self.sm = ScreenManager(transition=NoTransition())
        for state, page in PAGES.items():
            self.sm.add_widget(page(name=state.value))
        for name, page in (("thanks", ThanksPage), ("timeout", TimeoutPage), ("staff_pin", StaffPinPage),
                           ("maintenance", MaintenancePage)):
            self.sm.add_widget(page(name=name))
        self.bottom = bottom = Factory.BottomBar()
        self.back_button = KButton(name="footer.back", kind="secondary", action=self.back)
        self.cancel_button = KButton(name="footer.cancel", kind="danger", action=self.cancel)
        # A hidden footer button is taken off its holder, not disabled: disabling it would change its colour, and
        # Kivy draws a label's colour into its texture, so each screen change would draw it again (slow, see Page).
        self.back_holder, self.cancel_holder = BoxLayout(), BoxLayout()
        self.back_holder.add_widget(self.back_button)
        self.cancel_holder.add_widget(self.cancel_button)
        bottom.add_widget(self.back_holder)
        bottom.add_widget(Factory.Spacer())
        bottom.add_widget(self.cancel_holder)
        for widget in (top, self.sm, bottom):
            self.area.add_widget(widget)
        root.add_widget(self.area)
        if self.bridge.dev_enabled:
            root.add_widget(DevPanel(self.bridge))
        Window.bind(on_key_down=self._on_key)
        self.ui.bind(language=lambda *_: self._render(), large_text=lambda *_: self._render(),
                     high_contrast=lambda *_: self._render())
        return root

    def on_start(self):
        self.bridge.screens_speak()
        self.bridge.listen(self._on_view)

    # ---- views ------------------------------------------------------------------------------------------------

    def _on_view(self, view) -> None:
        previous, self.view = self.view, view
        if previous.state in (S.TAKE_ITEMS, S.RETURN_CARD) and view.state is S.IDLE and self.settings.thanks_s:
            self._thanks_until = Clock.get_boottime() + self.settings.thanks_s
            Clock.schedule_once(lambda dt: self._render(), self.settings.thanks_s + 0.05)
        if view.state not in (S.IDLE, S.OUT_OF_SERVICE) and self.mode != "visit":
            self.mode = "visit"  # a visit began (a card on the reader): the staff screens give way
        m = self.bridge.maintenance
        if self.mode == "visit" and view.out_of_service_reason == "maintenance" and m is not None and m.active:
            self.mode = "maintenance"  # a staff card opened it
        self.ui.language = view.language
        if self._render_event is None:
            self._render_event = Clock.schedule_once(lambda dt: self._render(), 0)

    def t(self) -> Strings:
        return Strings(self.view.language)

    def current_page(self):
        return self.sm.current_screen

    def _render(self) -> None:
        self._render_event = None
        if App.get_running_app() is not self:
            return  # a late timer after the app stopped (Kivy's clock outlives an app in tests)
        view, t = self.view, self.t()
        if self.mode != "visit":
            name = self.mode
        elif view.state is S.IDLE and Clock.get_boottime() < self._thanks_until:
            name = "thanks"
        elif view.timeout_warning and view.state in RESIDENT:
            name = "timeout"
        else:
            name = view.state.value
        page = self.sm.get_screen(name)
        if self.sm.current != name:
            self.sm.current = name
        page.render(view, t)
        self._focus = None
        self._update_bars(page, view, t)
        self.shown_at[name] = Clock.get_boottime()
        self.narrate(page)

    def narrate(self, page) -> None:
        """Say what ``page`` shows now (new lines only, if it was already being shown); staff screens are silent."""
        if self.mode == "visit" and page is self.current_page():
            if self.narrator.shown(self.sm.current, page, self.view, self.t()) and self._focus is not None:
                self._focus = None  # a new screen or step: the keypad's focus starts again from the top
                for button in self.focusables():
                    button.focused = False

    def _update_bars(self, page, view, t) -> None:
        self.large_button.text = t("btn.large_text")
        self.large_button.kind = "chosen" if self.ui.large_text else "secondary"
        self.contrast_button.text = t("btn.contrast")
        self.contrast_button.kind = "chosen" if self.ui.high_contrast else "secondary"
        self.silence_button.text = t("btn.silence")
        self.staff_button.text = t("btn.staff")
        visit_screen = self.mode == "visit" and self.sm.current not in ("thanks",)
        for button, holder, allowed, label in (
                (self.back_button, self.back_holder, page.back_allowed, "btn.back"),
                (self.cancel_button, self.cancel_holder, page.cancel_allowed, "btn.cancel")):
            shown = visit_screen and allowed and not (view.busy and label == "btn.back")
            button.text = t(label)
            if shown and button.parent is None:
                holder.add_widget(button)
            elif not shown and button.parent is not None:
                holder.remove_widget(button)
        shown_any = self.back_button.parent is not None or self.cancel_button.parent is not None
        self.bottom.height = dp(88) if shown_any else 0
        self.bottom.opacity = 0 if self.bottom.height == 0 else 1

    # ---- actions ----------------------------------------------------------------------------------------------

    def back(self) -> None:
        page = self.current_page()
        if hasattr(page, "back"):
            page.back()
        elif page.back_allowed:
            self.bridge.send(Back())

    def cancel(self) -> None:
        if self.current_page().cancel_allowed:
            self.bridge.send(Cancel())

    def call_staff(self) -> None:
        self.bridge.send(CallStaff())
        self.staff_note.text = self.t()("staff.called")
        if self._staff_note_event:
            self._staff_note_event.cancel()
        self._staff_note_event = Clock.schedule_once(lambda dt: setattr(self.staff_note, "text", ""), 20)

    def toggle_large_text(self) -> None:
        self.ui.large_text = not self.ui.large_text

    def toggle_contrast(self) -> None:
        self.ui.high_contrast = not self.ui.high_contrast

    def open_staff_pin(self) -> None:
        if self.bridge.maintenance is not None and self.view.state in (S.IDLE, S.OUT_OF_SERVICE):
            self.mode = "staff_pin"
            self._render()

    def open_maintenance(self) -> None:
        self.mode = "maintenance"
        self._render()

    def close_staff(self) -> None:
        m = self.bridge.maintenance
        if self.mode == "staff_pin" and m is not None and m.active:
            self.mode = "maintenance"  # back from the cash PIN to the maintenance screen the staff card opened
        else:
            if self.mode == "maintenance":
                m.leave()
            self.mode = "visit"
        self._render()

    # ---- the keypad -------------------------------------------------------------------------------------------

    def focusables(self) -> list[KButton]:
        extra = [b for b in (self.back_button, self.cancel_button) if b.parent is not None]
        return self.current_page().focus_order() + extra

    def _on_key(self, window, key, scancode=None, codepoint=None, modifiers=None, *args) -> bool:
        action, digit = keys.action_of(key)
        page = self.current_page()
        if action == "digit":
            return page.on_digit(digit)
        if action in ("next", "previous"):
            buttons = self.focusables()
            if not buttons:
                return True
            step = 1 if action == "next" else -1
            self._focus = 0 if self._focus is None else (self._focus + step) % len(buttons)
            for i, button in enumerate(buttons):
                button.focused = i == self._focus
            self.narrator.focused(buttons[self._focus], self.t())
            return True
        if action == "enter":
            buttons = self.focusables()
            target = buttons[self._focus] if self._focus is not None and self._focus < len(buttons) else (
                page.default_button())
            if target is not None and not target.disabled:
                target.trigger_action(duration=0)
            return True
        if action == "backspace":
            return page.on_backspace() or (self.back() or True)
        if action == "repeat":
            buttons = self.focusables()
            focused = buttons[self._focus] if self._focus is not None and self._focus < len(buttons) else None
            self.narrator.repeat(focused)
            return True
        if action in ("louder", "softer", "slower"):
            self.narrator.voice_key(action, self.view, self.t())
            return True
        handlers = {"cancel": self.cancel, "silence": lambda: self.bridge.send(SilenceVoice()),
                    "staff": self.call_staff, "large_text": self.toggle_large_text, "contrast": self.toggle_contrast}
        if action in handlers:
            handlers[action]()
            return True
        return False

    # ---- screenshots ------------------------------------------------------------------------------------------

    def screenshot(self, path: str | Path) -> Path:
        """The kiosk area as the resident sees it (without the dev panel), as a PNG."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.area.export_to_png(str(path))
        return path
