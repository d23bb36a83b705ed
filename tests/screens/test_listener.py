"""A visit by ear: a test resident who sees nothing.  It hears only the texts the speech simulator was given and
presses only keypad keys (and does what a resident's hands do: put the card down, insert money, take the card,
the certificate and the change).  Every key press is decided from what it heard: it finds English by listening to
the language buttons say their own names, finds the certificate by listening to the focus move, learns the fee and
what is still due, the tries left, the change and the refund from the voice — never from the screen or a script.

Runs in Japanese and in English against the real app and the real reference server (Xvfb)."""
from __future__ import annotations

import asyncio
import re

import pytest

from screens.catalogue import Strings
from screens.testing import key

PLUS, ENTER, STAR = 43, 13, 42
DIGIT = {str(d): 48 + d for d in range(10)}
AMOUNT = {"ja": re.compile(r"(\d+)円"), "en": re.compile(r"(\d+) yen")}


def run(config, automation):
    from screens.app import run_kiosk_app

    return asyncio.run(run_kiosk_app(config, automation))


class Listener:
    """The resident's ears (the voice simulator's utterances, from where it last listened) and hands."""

    def __init__(self, app, language: str):
        self.app, self.language = app, language
        self.voice = app.parts.devices.voice
        self.t = Strings(language)
        self.cursor = 0
        self.transcript: list[str] = []

    async def hear(self, *phrases: str, timeout: float = 20.0) -> str:
        """Listen until a spoken text holds every one of ``phrases``; returns that text."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            heard = self.voice.heard
            while self.cursor < len(heard):
                utterance = heard[self.cursor]
                self.cursor += 1
                if utterance.kind != "speech":
                    continue
                self.transcript.append(f"[{utterance.language}] {utterance.text}")
                if all(p in utterance.text for p in phrases):
                    return utterance.text
            if loop.time() > deadline:
                raise AssertionError(f"never heard {phrases!r}; heard:\n" + "\n".join(self.transcript[-12:]))
            await asyncio.sleep(0.02)

    async def next_utterance(self, timeout: float = 10.0):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.cursor >= len(self.voice.heard):
            if loop.time() > deadline:
                raise AssertionError("heard nothing more")
            await asyncio.sleep(0.02)
        utterance = self.voice.heard[self.cursor]
        self.cursor += 1
        if utterance.kind == "speech":
            self.transcript.append(f"[{utterance.language}] {utterance.text}")
        return utterance

    def amounts(self, text: str) -> list[int]:
        return [int(a) for a in AMOUNT[self.language].findall(text.replace(",", ""))]

    async def press(self, code: int) -> None:
        await key(self.app, code)

    async def move_until(self, wanted: str, language: str | None = None, limit: int = 20) -> str:
        """Press + and listen to each focus move until the focused item says ``wanted``."""
        for _ in range(limit):
            await self.press(PLUS)
            while True:
                utterance = await self.next_utterance()
                if utterance.kind == "speech":
                    break
            if wanted in utterance.text and (language is None or utterance.language == language):
                return utterance.text
        raise AssertionError(f"focus never reached {wanted!r}; heard:\n" + "\n".join(self.transcript[-limit - 4:]))

    def world(self, command: str, **args) -> None:
        self.app.bridge.dev(command, **args)

    # -- the steps a resident takes, each decided from what was heard -------------------------------------------

    async def begin(self, pin: str = "1234") -> str:
        """Choose the language by ear, put the card down, type the PIN; returns what the PIN screen said."""
        ja = Strings("ja")
        await self.hear(ja("prompt.idle"))
        if self.language != "ja":
            await self.move_until(self.t("lang.name"), language=self.language)
            await self.press(ENTER)
            await self.hear(self.t("prompt.idle"))
        self.world("place_card", card="resident-a")
        said = await self.hear(self.t("prompt.pin"))
        await self.type_pin(pin)
        return said

    async def type_pin(self, pin: str) -> None:
        before = len(self.voice.heard)
        for digit in pin:
            await self.press(DIGIT[digit])
        await asyncio.sleep(0.2)
        typed = self.voice.heard[before:]
        assert [u.kind for u in typed] == ["tick"] * len(pin), "each digit is a neutral click, nothing else"
        self.cursor = len(self.voice.heard)
        await self.press(ENTER)

    async def choose_residence_record(self) -> int:
        """From the menu to paying; returns the fee heard at the confirmation."""
        menu = await self.hear(self.t("prompt.menu"))
        name = self.t("cert.residence_record_copy")
        assert name in menu  # the menu says what is offered (with fees)
        focused = await self.move_until(name)
        assert self.amounts(focused), f"the focused certificate says its fee: {focused!r}"
        await self.press(ENTER)
        await self.hear(self.t("prompt.options"))
        await self.press(ENTER)  # the defaults are fine: on to the copies
        await self.hear(self.t("prompt.copies"))
        await self.press(ENTER)
        confirm = await self.hear(self.t("prompt.confirm"), self.t("confirm.total"))
        fee = self.amounts(confirm.split(self.t("confirm.total"))[1])[0]
        await self.press(ENTER)  # pay
        paying = await self.hear(self.t("prompt.paying"))
        assert fee in self.amounts(paying)
        return fee

    def due_of(self, text: str) -> int:
        return self.amounts(text.split(self.t("paying.due"))[-1])[0]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_listener_pays_with_a_coin_and_a_note_and_takes_the_change(gui_config, language):
    async def visit(app):
        ear = Listener(app, language)
        said = await ear.begin()
        assert ear.t("pin.tries", tries=3) in said  # the tries left, before the PIN
        fee = await ear.choose_residence_record()
        ear.world("insert_coin", value=100)
        update = await ear.hear(ear.t("paying.paid"), ear.t("paying.due"))
        due = ear.due_of(update)
        assert due == fee - 100
        ear.world("insert_note", value=1000)  # more than is due: change is coming
        await ear.hear(ear.t("prompt.return_card"))
        ear.world("lift_card")
        take = await ear.hear(ear.t("prompt.take_items"))
        assert ear.t("take.document") in take
        change = ear.amounts(take.split(ear.t("take.document"))[1])
        assert change == [1100 - fee]
        ear.world("take_document")
        await ear.press(ENTER)  # "I took the change"
        await ear.hear(Strings("ja")("prompt.idle"))
        return ear.transcript, app.parts.journal.totals(), len(app.parts.devices.printer.pages)

    transcript, totals, pages = run(gui_config(), visit)
    print("\n".join(transcript))
    assert pages == 1 and totals["open_transactions"] == 0


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_listener_hears_the_tries_left_after_a_wrong_pin_and_cancels(gui_config, language):
    async def visit(app):
        ear = Listener(app, language)
        await ear.begin(pin="9999")
        refused = await ear.hear(ear.t("msg.pin_wrong"))
        assert ear.t("pin.tries", tries=2) in refused
        await ear.press(STAR)
        await ear.hear(ear.t("prompt.return_card"))
        ear.world("lift_card")
        await ear.hear(Strings("ja")("prompt.idle"))
        return ear.transcript, app.view.tries_left

    transcript, _ = run(gui_config(), visit)
    print("\n".join(transcript))


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_listener_cancels_after_paying_and_hears_the_money_come_back(gui_config, language):
    async def visit(app):
        ear = Listener(app, language)
        await ear.begin()
        await ear.choose_residence_record()
        ear.world("insert_coin", value=100)
        await ear.hear(ear.t("paying.paid"))
        await ear.press(STAR)
        back = await ear.hear(ear.t("prompt.return_card"))
        assert ear.amounts(back) == [100], back  # "take the 100 yen from the change cup"
        ear.world("lift_card")
        await ear.hear(ear.t("prompt.take_items"))
        await ear.press(ENTER)
        await ear.hear(Strings("ja")("prompt.idle"))
        return ear.transcript, app.parts.journal.totals()

    transcript, totals = run(gui_config(), visit)
    print("\n".join(transcript))
    assert totals["kinds"]["refund_paid"]["amount"] == 100 and totals["open_transactions"] == 0


def test_the_repeat_volume_and_slower_keys_and_the_voice_is_back_to_normal_for_the_next_resident(gui_config):
    REPEAT, SOFTER, LOUDER, SLOWER = 61, 287, 288, 289

    async def visit(app):
        ear = Listener(app, "ja")
        t = ear.t
        await ear.begin()
        menu = await ear.hear(t("prompt.menu"))
        await ear.press(LOUDER)
        assert await ear.hear(t("speech.volume", level=4, levels=5))
        await ear.press(SLOWER)
        await ear.hear(t("speech.slow_on"))
        await ear.press(REPEAT)
        again = await ear.hear(t("prompt.menu"))
        assert again == menu  # the whole screen, said again
        repeated = [u for u in ear.voice.heard if u.kind == "speech" and u.text == again][-1]
        assert (repeated.volume, repeated.slow) == (4, True)
        await ear.press(SOFTER)
        await ear.press(SOFTER)
        await ear.hear(t("speech.volume", level=2, levels=5))
        await ear.press(STAR)
        await ear.hear(t("prompt.return_card"))
        ear.world("lift_card")
        await ear.hear(t("prompt.idle"))
        last = [u for u in ear.voice.heard if u.kind == "speech"][-1]
        return (last.volume, last.slow)

    assert run(gui_config(), visit) == (3, False)  # the next resident starts with the usual voice


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_listener_gets_a_residence_record_of_selected_members_and_no_name_reaches_a_file(gui_config, tmp_path,
                                                                                             language, caplog):
    """Resident A (試験 太郎) wants a 住民票 of himself and his son 一郎, not of his wife: he hears the household's
    names as the focus moves over them (in Japanese, as the registry writes them) and picks the two."""
    async def visit(app):
        ear = Listener(app, language)
        t = ear.t
        await ear.begin()
        await ear.hear(t("prompt.menu"))
        await ear.move_until(t("cert.residence_record_copy"))
        await ear.press(ENTER)
        await ear.hear(t("prompt.options"))
        await ear.move_until(t("opt.scope.selected"))
        await ear.press(ENTER)
        await ear.hear(t("opt.scope.selected"), t("speech.chosen"))
        await ear.move_until(t("btn.next"))
        await ear.press(ENTER)
        await ear.hear(t("members.pick"))
        for name in ("太郎", "一郎"):
            await ear.move_until(name)
            await ear.press(ENTER)
            await ear.hear(t("speech.chosen"))
        await ear.move_until(t("btn.next"))
        await ear.press(ENTER)
        await ear.hear(t("prompt.copies"))
        await ear.press(ENTER)
        confirm = await ear.hear(t("prompt.confirm"))
        if language == "ja":
            assert "試験 太郎" in confirm and "試験 一郎" in confirm and "花子" not in confirm
        else:
            assert t("speech.members_n", n=2) in confirm and "試験" not in confirm  # no kanji to espeak-ng
        await ear.press(ENTER)
        paying = await ear.hear(t("prompt.paying"))
        due = ear.due_of(paying)
        while due > 100:  # 100-yen coins: each but the last is answered with what is still due
            ear.world("insert_coin", value=100)
            due = ear.due_of(await ear.hear(t("paying.due")))
        ear.world("insert_coin", value=100)
        await ear.hear(t("prompt.return_card"))
        ear.world("lift_card")
        await ear.hear(t("prompt.take_items"))
        ear.world("take_document")
        await ear.hear(Strings("ja")("prompt.idle"))
        return app.parts.devices.printer.pages, dict(app.bridge.sent[-1].__dict__) if app.bridge.sent else {}

    pages, _ = run(gui_config(), visit)
    assert len(pages) == 1 and not pages[0].partial
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix in (".sqlite", ".db") or "journal" in p.name for p in files), files  # the journal is here
    for path in files:  # journal, audit log, outboxes: no member's name on disk
        data = path.read_bytes()
        for name in ("太郎", "一郎", "花子"):
            assert name.encode() not in data, f"{name} in {path}"
    assert not any(n in r.getMessage() for r in caplog.records for n in ("太郎", "一郎", "花子"))


def test_out_of_hours_the_kiosk_says_when_it_opens_and_does_not_read_a_card(gui_config, screenshots):
    async def visit(app):
        ear = Listener(app, "ja")
        t = ear.t
        kiosk = app.parts.kiosk
        await ear.hear(t("prompt.idle"))
        while not kiosk.opening_hours.known:  # the server's first answer (open: the dev server keeps no hours)
            await asyncio.sleep(0.05)
        kiosk.opening_hours.update({"open": False, "opens_in_s": 3600, "opens_at": "2026-05-06T06:30+09:00"},
                                   kiosk.clock.now())  # as the server answers at 05:30
        kiosk._next_readiness = 0.0
        closed = await ear.hear(t("oos.out_of_hours"))
        assert t("oos.opens_at", time="06:30") in closed
        app.screenshot(screenshots / "out-of-hours.png")
        ear.world("place_card", card="resident-a")
        await asyncio.sleep(1.5)
        states = {app.view.state.value}
        ear.world("lift_card")
        await asyncio.sleep(0.5)
        return states, ear.transcript

    states, transcript = run(gui_config(), visit)
    assert states == {"out_of_service"}  # never reading, never the PIN screen
    assert not any(Strings("ja")("prompt.pin") in line for line in transcript)


def test_without_a_speech_engine_a_screen_falls_back_to_its_recorded_prompt(gui_config):
    async def visit(app):
        voice = app.parts.devices.voice
        original = voice.speak

        async def no_engine(text, language):
            return False
        voice.speak = no_engine
        app.bridge.dev("place_card", card="resident-a")
        for _ in range(200):
            if ("prompt.pin", "ja") in voice.said:
                break
            await asyncio.sleep(0.02)
        voice.speak = original
        return list(voice.said)

    assert ("prompt.pin", "ja") in run(gui_config(), visit)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_listener_hears_a_refund_owed_and_its_reference_spelled_when_the_coins_cannot_come_back(gui_config,
                                                                                                 language):
    async def visit(app):
        ear = Listener(app, language)
        await ear.begin()
        await ear.choose_residence_record()
        for hopper in app.parts.devices.hoppers:  # (simulators) the hoppers are empty, though the kiosk
            hopper.stock = 0                        # believes they are not: the payout runs dry
        ear.world("insert_coin", value=100)
        await ear.hear(ear.t("paying.paid"))
        await ear.press(STAR)
        said = await ear.hear(ear.t("refund.reference", reference="").strip())
        t = ear.t
        amount = t("yen.spoken", amount=100) if "¥" in t.money(100) else t.money(100)
        owed = t("refund.owed", amount=amount).replace("。", ".").split(".")[0]
        assert owed in said, said  # "We could not return 100 yen" / "100円をお返しできませんでした"
        return said, app.view.refund_reference

    owed, reference = run(gui_config(), visit)
    assert reference and " ".join(c for c in reference if c != "-") in owed, (owed, reference)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_listener_applies_for_a_bulky_waste_collection_by_ear(gui_config, language):
    """The form said line by line: the focus names each item's −, count and +, a press is answered with the new
    count, an empty phone field says so; the resident types the number on the keypad and pays what was heard."""
    async def visit(app):
        from screens.narration import speakable
        from screens.pages.form import _day

        ear = Listener(app, language)
        t = ear.t
        await ear.begin()
        offered = await ear.hear(t("prompt.menu"))
        if t("svc.bulky_waste") not in offered:  # the e-applications may come a moment after the certificates
            offered = await ear.hear(t("svc.bulky_waste"))
        assert t("speech.chosen") not in offered, offered  # set apart by colour, not "selected"
        await ear.move_until(t("svc.bulky_waste"))
        await ear.press(ENTER)
        form = await ear.hear(t("svc.bulky_waste"))
        chair = t("choice.items.chair")
        assert t("speech.count", item=chair, n=0) in form  # the screen said whole: each item with its count
        await ear.move_until(t("speech.more", item=chair))
        await ear.press(ENTER)
        await ear.hear(t("speech.count", item=chair, n=1))  # the press answered with the new count
        first = app.view.form["fields"][1]["choices"][0]["value"]  # the resident wants the first day offered
        day = speakable(_day(t, first), t)
        await ear.move_until(day)
        await ear.press(ENTER)
        await ear.hear(day, t("speech.chosen"))
        await ear.move_until(t("speech.empty"))  # the phone field, still empty
        await ear.press(ENTER)
        number = "09012345678"
        for n, digit in enumerate(number, 1):  # each key answered with the number so far, digit by digit
            await ear.press(DIGIT[digit])
            said = await ear.hear(" ".join(number[:n]))
            assert said.endswith(t("speech.pause") + " ".join(number[:n]) + t("speech.sentence")), said
        await ear.move_until(t("btn.next"))
        await ear.press(ENTER)
        confirm = await ear.hear(t("prompt.confirm"))
        fee = ear.amounts(confirm)[-1]
        await ear.press(ENTER)
        paying = await ear.hear(t("prompt.paying"))
        assert ear.due_of(paying) == fee
        ear.world("insert_coin", value=500)
        await ear.hear(t("prompt.return_card"))
        ear.world("lift_card")
        take = await ear.hear(t("prompt.take_items"))
        change = ear.amounts(take.split(t("take.receipt"))[-1])
        ear.world("take_document")
        if change:
            await ear.press(ENTER)
        await ear.hear(Strings("ja")("prompt.idle"))
        return ear.transcript, fee, change, app.parts.journal.totals()

    transcript, fee, change, totals = run(gui_config(**{"kiosk.applications": True}), visit)
    print("\n".join(transcript))
    assert fee == 300 and change == [200] and totals["open_transactions"] == 0
