"""E-applications on the screens: a whole 粗大ごみ application by touch against the real server; the menu, the
form (drawn from its description), a refused answer and the confirmation in every language; a city's own third
form, known to no code, drawn and taken the same way.  Screenshots in var/screenshots/applications/."""
from __future__ import annotations

import asyncio

import pytest

from certs.services import BUILT_IN_FORMS, Form
from firmware.config import LANGUAGES
from firmware.visit import OfferView, VisitState as S, VisitView
from screens.testing import shot, tap, texts, wait_screen
from tests.screens.test_every_screen import _overflowing

ITEMS = [{"value": "chair", "label_ja": "いす", "fee": 300}, {"value": "bicycle", "label_ja": "自転車", "fee": 500},
         {"value": "mattress", "label_ja": "マットレス（シングル）", "fee": 800}, {"value": "desk", "label_ja": "机", "fee": 500},
         {"value": "futon", "label_ja": "布団", "fee": 200}]
DATES = [{"value": f"2026-12-{d:02d}", "label_ja": f"12月{d}日（{w}）"}
         for d, w in ((10, "木"), (14, "月"), (17, "木"), (21, "月"), (24, "木"), (28, "月"), (31, "木"))]
DAYS = [{"value": f"2026-12-{d:02d}", "label_ja": f"12月{d}日"} for d in range(8, 22)]
OFFERS = (OfferView("residence_record_copy", True, None, 300, 5, ("scope",)),
          OfferView("residence_record_items", True, None, 300, 5, ("scope",)),
          OfferView("seal_registration", False, "seal_not_registered", 300, 5, ()),
          OfferView("family_register_all", True, None, 450, 5, ()),
          OfferView("family_register_individual", True, None, 450, 5, ()),
          OfferView("family_register_annex", True, None, 300, 5, ()),
          OfferView("resident_tax", True, None, 300, 5, ()))
SERVICES = (("bulky_waste", "粗大ごみ収集申込"), ("water_notice", "水道の使用開始・休止届"))


def resolved(service: str) -> dict:
    data = Form.from_dict(BUILT_IN_FORMS[service]).to_dict()
    for spec in data["fields"]:
        spec["choices"] = {"city.items": ITEMS, "city.collection_dates": DATES,
                           "calendar.days": DAYS}.get(spec.get("choices_from"), spec["choices"])
    return data


def application_views(language: str) -> list[tuple[str, VisitView]]:
    v = lambda state, **kw: VisitView(state, visit=1, language=language, services=SERVICES, **kw)  # noqa: E731
    bulky, water = dict(service="bulky_waste", form=resolved("bulky_waste")), \
        dict(service="water_notice", form=resolved("water_notice"))
    answers = {"items": {"chair": 2, "bicycle": 1}, "collection_date": "2026-12-14", "phone": "…78"}
    return [
        ("menu", v(S.MENU, offers=OFFERS)),
        ("form-bulky", v(S.OPTIONS, **bulky)),
        ("form-bulky-phone-refused", v(S.OPTIONS, message="form.format", problem_field="phone", **bulky)),
        ("confirm-bulky-cash", v(S.CONFIRM, fee=1300, payment="cash", application_fee=1300, answers=answers,
                                 **bulky)),
        ("confirm-bulky-stickers", v(S.CONFIRM, fee=0, payment="stickers", application_fee=1300,
                                     stickers=((500, 1), (300, 2), (200, 1)), answers=answers, **bulky)),
        ("form-water", v(S.OPTIONS, **water)),
        ("confirm-water", v(S.CONFIRM, fee=0, payment="none", answers={"notice": "stop", "date": "2026-12-10",
                                                                        "phone": "…89"}, **water)),
        ("refused-after-payment", v(S.RETURN_CARD, message="server.date_not_offered", change_due=1300)),
        ("take-receipt", v(S.TAKE_ITEMS, items_to_take=("document",), **bulky)),
    ]


def test_the_application_screens_in_every_language(gui_config, screenshots):
    from screens.app import run_kiosk_app

    async def draw_all(app):
        problems, count = [], 0
        for language in LANGUAGES:
            for name, view in application_views(language):
                app._on_view(view)
                app._render()
                await asyncio.sleep(0.03)
                problems += [f"{language}/{name}: {p}" for p in _overflowing(app)]
                app.screenshot(screenshots / "applications" / language / f"{name}.png")
                count += 1
        app._on_view(app.bridge.kiosk.view)
        return problems, count

    problems, count = asyncio.run(run_kiosk_app(gui_config(), draw_all))
    assert count == len(LANGUAGES) * len(application_views("ja"))
    assert problems == [], "\n".join(problems)


async def _sign_in(app, language: str = "ja"):
    await wait_screen(app, "idle")
    if language != "ja":
        await tap(app, f"lang.{language}")
    await tap(app, "dev.card.resident-a")
    await wait_screen(app, "pin")
    for digit in "1234":
        await tap(app, f"pin.{digit}", settle=0.02)
    await tap(app, "pin.ok")
    await wait_screen(app, "menu")
    for _ in range(200):
        if app.view.services and not app.view.busy:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_bulky_waste_application_by_touch(gui_config, screenshots, language):
    from screens.app import run_kiosk_app

    out = screenshots / "applications" / "visit" / language

    async def visit(app):
        await _sign_in(app, language)
        assert app.view.language == language
        shot(app, out, "01-menu")
        await tap(app, "svc.bulky_waste")
        await wait_screen(app, "options")
        await tap(app, "form.items.chair.more")
        await tap(app, "form.items.futon.more")
        day = app.view.form["fields"][1]["choices"][0]["value"]
        await tap(app, f"form.collection_date.{day}")
        for key in "090-12":
            await tap(app, f"form.key.{key}", settle=0.02)
        await tap(app, "form.next")  # too short a phone: said on the form, nothing sent
        await wait_screen(app, "options", message="form.format")
        shot(app, out, "02-form-phone-refused")
        for key in "34-5678":
            await tap(app, f"form.key.{key}", settle=0.02)
        shot(app, out, "03-form-filled")
        await tap(app, "form.next")
        await wait_screen(app, "confirm")
        shot(app, out, "04-confirm")
        assert app.view.fee == 500 and app.t().money(500) in texts(app) and "090-1234-5678" not in texts(app)
        await tap(app, "confirm.pay")
        await wait_screen(app, "paying")
        await tap(app, "dev.yen.500")
        await wait_screen(app, "return_card", timeout=20)
        await tap(app, "dev.lift_card")
        await wait_screen(app, "take_items")
        shot(app, out, "05-take-receipt")
        await tap(app, "dev.take_certificate")
        await wait_screen(app, "idle")
        kept = repr(app.bridge.sent) + repr(app.view)
        assert "5678" not in kept and "090" not in kept  # what the screens keep after the visit: no phone number
        return len(app.parts.devices.printer.pages)

    config = gui_config(**{"kiosk.applications": True})
    assert asyncio.run(run_kiosk_app(config, visit)) == 1


def test_a_third_form_from_the_citys_config_is_shown_with_no_code_change(gui_config, screenshots, dev_world):
    """The server's config adds 犬の登録事項変更届 (tests/support/applications_config.py); the kiosk offers it,
    draws its form from the description and prints its receipt."""
    from screens.app import run_kiosk_app
    from tests.support.applications_config import write_applications_variant
    from tests.support.server_process import start_server

    server = start_server(dev_world, config=write_applications_variant(dev_world, "gui-third", third_form=True))
    out = screenshots / "applications" / "third-form"

    async def visit(app):
        await _sign_in(app)
        shot(app, out, "01-menu")
        await tap(app, "svc.dog_registration_change")
        await wait_screen(app, "options")
        assert "犬の登録事項変更届" in texts(app) and "鑑札番号" in texts(app)
        await tap(app, "form.change.moved_in_city")
        for key in "1234":
            await tap(app, f"form.key.{key}", settle=0.02)
        await tap(app, "form.phone")
        for key in "0312345678":
            await tap(app, f"form.key.{key}", settle=0.02)
        await asyncio.sleep(0.2)
        shot(app, out, "02-form")
        await tap(app, "form.next")
        await wait_screen(app, "confirm")
        shot(app, out, "03-confirm")
        await tap(app, "confirm.pay")
        await wait_screen(app, "return_card", timeout=20)
        await tap(app, "dev.lift_card")
        await wait_screen(app, "take_items")
        await tap(app, "dev.take_certificate")
        await wait_screen(app, "idle")
        return len(app.parts.devices.printer.pages)

    try:
        config = gui_config(**{"kiosk.applications": True, "server.url": server.url})
        assert asyncio.run(run_kiosk_app(config, visit)) == 1
    finally:
        server.stop()
