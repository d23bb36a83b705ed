"""Every screen in every language (and in large text and high contrast): drawn, saved as a screenshot, and
checked for what a resident would stumble on — a button whose text does not fit, a missing string, a box (tofu)
where a character should be."""
from __future__ import annotations

import asyncio

import pytest

from firmware.config import LANGUAGES
from tests.screens.views import HOUSEHOLD, views

MODE_SAMPLES = {"idle", "pin-wrong-last-try", "paying"}
"""The screens also drawn in high contrast (Japanese and English).  Every screen is drawn in large text in
Japanese and English, and checked for overflow like the normal ones (only scrolling is allowed there)."""


def test_no_message_id_is_missing_in_any_language():
    from screens.catalogue import load, missing_ids

    assert missing_ids() == {}
    for language in LANGUAGES:
        assert all(text.strip() for text in load(language).values()), language


def test_every_option_a_certificate_offers_has_a_label_on_the_options_screen():
    """Option names come from the certificate catalogue, not from the screens' code (foreign_items once showed its
    id, "opt.foreign_items", as a label)."""
    from certs.catalog import CATALOG
    from screens.catalogue import load
    from screens.pages.options import NOT_ASKED, choices_of

    ids = set(load("ja"))
    for kind in CATALOG.values():
        for name in set(kind.option_names) - NOT_ASKED:
            wanted = {f"opt.{name}"} | {f"opt.{name}.{c}" for c in choices_of(name) if not isinstance(c, bool)}
            assert wanted <= ids, (kind.type.value, sorted(wanted - ids))


def _notdef_free(font_path: str, text: str) -> list[str]:
    """Characters of ``text`` the font draws as its .notdef box (compared with an unassigned code point)."""
    from PIL import ImageFont

    font = ImageFont.truetype(font_path, 28)
    tofu = bytes(font.getmask("\U0010FFFD"))
    return sorted({c for c in text if not c.isspace() and bytes(font.getmask(c)) == tofu})


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_language_font_has_every_character_of_its_catalogue(language):
    from screens.catalogue import load
    from screens.fonts import language_font

    text = "".join(load(language).values()) + "●○▶…"
    assert _notdef_free(str(language_font(language)), text) == []


def test_ipaex_alone_would_show_korean_and_vietnamese_as_boxes():
    """Why ko and vi have other fonts: the check above can fail."""
    from screens.catalogue import load
    from screens.fonts import font_path

    ipaex = str(font_path("ipaex"))
    assert _notdef_free(ipaex, load("ko")["prompt.idle"])
    assert _notdef_free(ipaex, load("vi")["prompt.idle"])


def _overflowing(app, may_scroll: bool = False) -> list[str]:
    from screens.widgets import KButton, KLabel

    bad = []
    page = app.sm.current_screen
    if not may_scroll and "scroller" in page.ids and page.ids.content.minimum_height > page.ids.scroller.height + 1:
        # a screen that scrolls holds every tap for the ScrollView's timeout (~0.2 s) and hides what is below
        bad.append(f"needs scrolling: {page.ids.content.minimum_height:.0f} > {page.ids.scroller.height:.0f}")
    for widget in app.area.walk(restrict=True):
        if isinstance(widget, (KButton, KLabel)) and widget.text and widget.get_root_window() is not None:
            tw, th = widget.texture_size
            if tw > widget.width + 2 or th > widget.height + 2:
                bad.append(f"{getattr(widget, 'name', '') or widget.text[:20]!r} {tw}x{th} in "
                           f"{widget.width:.0f}x{widget.height:.0f}")
    return bad


STAFF_ENGLISH = ("Maintenance", "Test print", "Leave", "Staff PIN")


def staff_texts(app) -> str:
    from screens.testing import texts

    return texts(app)


def test_every_screen_in_every_language(gui_config, screenshots):
    from screens.app import run_kiosk_app

    async def draw_all(app):
        problems, count, staff_count = [], 0, 0
        spoken.clear()
        modes = [(False, False)] + [(True, False), (False, True)]
        for language in LANGUAGES:
            for large, contrast in modes if language in ("ja", "en") else modes[:1]:
                app.ui.large_text, app.ui.high_contrast = large, contrast
                suffix = ("-large" if large else "") + ("-contrast" if contrast else "")
                for name, view in views(language):
                    if contrast and name not in MODE_SAMPLES:
                        continue
                    voice = app.parts.devices.voice
                    before = len(voice.heard)
                    app._on_view(view)
                    app._render()
                    if name == "options-members":  # the resident chose "selected members", then two of them
                        page = app.sm.current_screen
                        page._pick("scope", "selected")
                        page._next()  # to the members step
                        page._toggle(HOUSEHOLD[0].member_ref)
                        page._toggle(HOUSEHOLD[2].member_ref)
                    await asyncio.sleep(0.03)
                    if name == "idle":
                        app._thanks_until = 0
                    if not (large or contrast):  # what the voice said for it (screens/narration.py)
                        for _ in range(50):
                            if len(voice.heard) > before:
                                break
                            await asyncio.sleep(0.02)
                        await asyncio.sleep(0.02)
                        spoken[(language, name)] = " ".join(u.text for u in voice.heard[before:] if u.kind == "speech")
                    # large text may scroll; in every size, every text must fit its button or its box
                    problems += [f"{language}/{name}{suffix}: {p}" for p in _overflowing(app, may_scroll=large)]
                    app.screenshot(screenshots / "languages" / language / f"{name}{suffix}.png")
                    if name == "options-members":
                        app.sm.current_screen._key = None  # the next options view starts afresh
                    count += 1
                for mode in ("staff_pin", "maintenance") if not contrast else ():  # the staff screens too
                    app.mode = mode
                    app._render()
                    await asyncio.sleep(0.05)
                    texts = staff_texts(app)
                    problems += [f"{language}/{mode}{suffix}: {p}" for p in _overflowing(app, may_scroll=large)]
                    if language not in ("ja", "en") and any(word in texts for word in STAFF_ENGLISH):
                        problems.append(f"{language}/{mode}: English staff words left: {texts[:120]!r}")
                    app.screenshot(screenshots / "languages" / language / f"{mode}{suffix}.png")
                    staff_count += 1
                app.mode = "visit"
        app._on_view(app.bridge.kiosk.view)
        return problems, count, staff_count

    from firmware.maintenance import hash_staff_pin

    config = gui_config(maintenance={"staff_pin": hash_staff_pin("2468", rounds=1000)})
    spoken: dict[tuple[str, str], str] = {}
    problems, count, staff_count = asyncio.run(run_kiosk_app(config, draw_all))
    check_what_was_said(spoken)
    assert staff_count == 2 * (len(LANGUAGES) + 2)  # staff PIN and maintenance: every language, large text too
    assert count == len(LANGUAGES) * len(views("ja")) + 2 * len(views("ja")) + 2 * len(MODE_SAMPLES)
    assert problems == [], "\n".join(problems)


def check_what_was_said(spoken: dict[tuple[str, str], str]) -> None:
    """Every screen said what it shows, in its language: the menu with fees and reasons, the tries left, what is
    still due, the change, a refund owed with its reference spelled out, the members by name or by number."""
    from screens.catalogue import Strings
    from tests.screens.views import OFFERS

    for language in LANGUAGES:
        t = Strings(language)
        yen = lambda n: t("yen.spoken", amount=n) if "¥" in t.money(n) else t.money(n)  # noqa: E731
        for name, _ in views(language):
            assert spoken.get((language, name)), f"{language}/{name}: nothing was said"
        menu = spoken[(language, "menu")]
        for offer in OFFERS:
            assert t(f"cert.{offer.certificate}") in menu
            assert (yen(offer.fee) if offer.available else t.reason(offer.reason)) in menu, (language, offer)
        assert t("pin.tries", tries=3) in spoken[(language, "pin")]
        assert f"{t('paying.due')} {yen(100)}" in spoken[(language, "paying")]
        assert yen(400) in spoken[(language, "take-items")]
        assert "K 7 Q M 4 T X A 9 P R C" in spoken[(language, "refund-owed")], spoken[(language, "refund-owed")]
        assert "K7QM" not in spoken[(language, "refund-owed")]
        assert t("oos.opens_at", time="06:30") in spoken[(language, "out-of-hours")]
        members = spoken[(language, "confirm-members")]
        if language in ("ja", "ja-easy"):
            assert "試験 太郎" in members
        else:
            assert t("speech.members_n", n=2) in members and "試験" not in members, members
        assert "¥" not in " ".join(spoken[(language, n)] for n, _ in views(language))


def test_japanese_renders_in_the_app_not_as_boxes(gui_config, tmp_path):
    """A kanji label rendered by Kivy with the app's font differs from the .notdef box of the same font."""
    from screens.app import run_kiosk_app

    async def render(app):
        from screens.testing import text_pixels

        return (text_pixels("住", app.ui.font), text_pixels("\U0010FFFD", app.ui.font),
                text_pixels("民", app.ui.font))

    kanji, tofu, other = asyncio.run(run_kiosk_app(gui_config(), render))
    assert kanji != tofu and other != tofu and kanji != other
