"""The operations dashboard driven by a REAL browser (Debian's chromium, headless, through Selenium) against the
REAL processes: ``kiosk-server serve`` (the kiosks' mTLS API: issuances, results, refunds owed) and
``kiosk-server dashboard`` on a listener of its own, both started here and stopped by PID.

End to end: a headless simulated kiosk (``firmware.cli --headless``, its own certificate, the telemetry sender at
its default pace) runs out of paper, and the open fleet page shows it within ``PAPER_BOUND_S``; it calls staff,
staff acknowledge in the browser, and its beacon goes off within ``BEACON_BOUND_S``.  The other kiosks on the page
are summary rows written with SQLAlchemy (kiosks that send nothing while the test runs).  Screenshots of every page
at 1366×768 and at a tablet's 768×1024 go to var/screenshots/dashboard/.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.db import open_database, utcnow
from server.models_dashboard import DashboardAudit
from server.models_telemetry import KioskCommand, KioskSummary, TelemetryEvent
from server import refunds
from tests.support.dashboard_browser import (SimulatedKiosk, add_staff, browser_available, chromium, new_kiosk,
                                             place_kiosk, start_dashboard, viewport, wait_for)
from tests.support.server_process import REPO, start_server, write_config_variant
from tests.support.settling import issue_one, report

pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(not browser_available(), reason="chromium and chromium-driver are not installed")]

ADMIN, WARD, PASSWORD = "admin-01", "ward-kw-01", "kiosk-dashboard-1"
HOME, OTHER = "kiosk-dev-01", "kiosk-sa-01"  # HOME stands in kawasaki (WARD's ward), OTHER in saiwai
SIM = "kiosk-kw-sim-01"  # the simulated kiosk, in kawasaki
SHOTS = REPO / "var" / "screenshots" / "dashboard"
# The kiosk's watcher looks every 2 s and its sender sends every 5 s (firmware.telemetry's defaults); the fleet
# grid refreshes every 5 s: 12 s at worst, and a margin for a shared machine.
PAPER_BOUND_S = 15.0
# The command rides on the reply to the kiosk's next batch (every 5 s), plus a margin.
BEACON_BOUND_S = 10.0


@pytest.fixture(scope="module")
def world(dev_dir, tmp_path_factory):
    for stale in dev_dir.glob("dashboard.db*"):
        stale.unlink()
    config = write_config_variant(dev_dir, "dashboard", database="dashboard.db")
    new_kiosk(dev_dir, SIM)
    kiosks = start_server(dev_dir, config=config)
    try:
        with kiosks.client(kiosk_id=HOME) as http:
            printed, _ = issue_one(http, dev_dir, kiosk_id=HOME)
            assert report(http, printed, "printed", pages=1, fee=300).json() == {"settled": True}
            owed, _ = issue_one(http, dev_dir, kiosk_id=HOME)
            assert report(http, owed, "refunded", refund=300, reason="print_failed").json() == {"settled": True}
            still_owed, _ = issue_one(http, dev_dir, kiosk_id=HOME, copies=2)  # stays open: the list's row
            assert report(http, still_owed, "refunded", refund=600, reason="cancelled").json() == {"settled": True}
    except BaseException:
        kiosks.stop()
        raise
    add_staff(config, ADMIN, "admin", PASSWORD)
    add_staff(config, WARD, "ward", PASSWORD, "kawasaki")
    for kiosk, ward in ((SIM, "kawasaki"), (HOME, "kawasaki"), ("kiosk-kw-02", "kawasaki"), (OTHER, "saiwai"),
                        ("kiosk-sa-02", "saiwai"), ("kiosk-tk-01", "takatsu")):
        place_kiosk(config, kiosk, ward)
    sessions = open_database(f"sqlite:///{dev_dir / 'dashboard.db'}")
    now = utcnow()
    with sessions() as db:
        for kiosk, fields in ((HOME, {}), ("kiosk-kw-02", {"last_seen": now - timedelta(minutes=42)}),
                              (OTHER, {"gauges": {"paper": 12, "hopper_coins": {"100": 31}, "cash_box_notes": 80}}),
                              ("kiosk-sa-02", {"vpn_up": False, "backlog": 14}), ("kiosk-tk-01", {})):
            db.add(KioskSummary(**{**dict(kiosk_id=kiosk, last_seen=now, last_seq=0, in_service=True, vpn_up=True,
                                          backlog=0, open_faults=[], gauges={"paper": 85, "hopper_coins": {
                                              "500": 20, "100": 60, "50": 40, "10": 90}, "cash_box_notes": 23}),
                                   **fields}))
        db.commit()
    dashboard = start_dashboard(config)
    sim = SimulatedKiosk(dev_dir, tmp_path_factory.mktemp("sim-kiosk"), kiosks.url, SIM)
    browser = chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield {"url": dashboard.url, "browser": browser, "db": sessions, "owed": owed, "dashboard": dashboard,
           "config": config, "sim": sim}
    browser.quit()
    sim.stop()
    dashboard.stop()
    kiosks.stop()
    sessions.kw["bind"].dispose()


def telemetry(world, kiosk_id: str, kind: str, fields: dict | None = None, **summary) -> None:
    """What the ingest would store for one event: the event row and the kiosk's summary."""
    with world["db"]() as db:
        row = db.get(KioskSummary, kiosk_id)
        row.last_seq += 1
        now = utcnow()
        db.add(TelemetryEvent(kiosk_id=kiosk_id, seq=row.last_seq, boot_id="boot-1", monotonic_ms=row.last_seq * 1000,
                              wall_time=now, received_at=now, kind=kind, fields=fields or {}))
        row.last_seen = now
        for name, value in summary.items():
            setattr(row, name, value)
        db.commit()


def login(world, staff_id: str, password: str = PASSWORD, lang: str = "ja") -> None:
    browser = world["browser"]
    browser.delete_all_cookies()
    browser.get(f"{world['url']}/lang/{lang}?next=/login")
    browser.find_element("id", "staff_id").send_keys(staff_id)
    browser.find_element("id", "password").send_keys(password)
    submit(browser, browser.find_element("id", "login"))


def submit(browser, button) -> None:
    """Click a form's button and wait for the page the POST answers with (the old one goes stale)."""
    from selenium.webdriver.support.ui import WebDriverWait

    button.click()
    WebDriverWait(browser, 20).until(lambda b: _gone(button))
    WebDriverWait(browser, 20).until(lambda b: b.execute_script("return document.readyState") == "complete")


def _gone(element) -> bool:
    """The old page's element no longer belongs to the document.  chromedriver says so with "stale element" —
    or, when it asks at the very moment the new page replaces the old one, with a generic inspector error "Node
    with given id does not belong to the document" (a clean-clone CI run failed on that), which means the same."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc) or "No node with given id" in str(exc):
            return True
        raise
    return False


def text_of(world, element_id: str) -> str:
    return world["browser"].find_element("id", element_id).text


def no_horizontal_scroll(browser) -> bool:
    return browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def card_need(browser, kiosk_id: str) -> str | None:
    """The fleet card's state, read in one step (the grid is replaced every 5 s)."""
    return browser.execute_script("const c = document.getElementById(arguments[0]); return c && c.dataset.need;",
                                  f"k-{kiosk_id}")


def test_a_simulated_kiosk_running_out_of_paper_shows_on_the_open_fleet_page_within_the_bound(world):
    login(world, ADMIN)
    browser, sim = world["browser"], world["sim"]
    assert browser.current_url.endswith("/fleet")
    wait_for(lambda: card_need(browser, SIM) in ("ok", "low"), PAPER_BOUND_S)  # heard from, nothing wrong
    sim.do("paper_out")
    _, waited = wait_for(lambda: card_need(browser, SIM) == "paper_out", PAPER_BOUND_S)
    print(f"\npaper out on the simulated kiosk seen on the open fleet page after {waited:.1f} s "
          f"(bound {PAPER_BOUND_S} s)")
    assert browser.find_element("id", "fleet").get_attribute("data-updated")  # swapped in place, no reload
    browser.refresh()  # the rest is read from a page that is not replaced while reading
    assert SIM in text_of(world, "needs-staff") and "用紙切れ" in text_of(world, "needs-staff")
    assert "用紙切れ" in browser.find_element("id", f"k-{SIM}").text
    browser.get(f"{world['url']}/kiosks/{SIM}")
    assert "paper_out" in text_of(world, "timeline")
    sim.do("refill_paper")


def test_acknowledging_a_staff_call_turns_the_simulated_kiosks_beacon_off(world):
    browser, sim = world["browser"], world["sim"]
    login(world, ADMIN)
    sim.do("staff_call")
    assert sim.beacon_on()

    def call_row():
        browser.get(f"{world['url']}/calls")
        rows = browser.find_elements("id", f"call-{SIM}")
        return rows[0] if rows and rows[0].find_elements("css selector", "button") else None

    row, _ = wait_for(call_row, PAPER_BOUND_S, step=1.0)
    submit(browser, row.find_element("css selector", "button"))
    assert SIM in text_of(world, "message") and "応答しました" in text_of(world, "message")
    browser.save_screenshot(str(SHOTS / "calls-acknowledged-ja-1366x768.png"))
    _, waited = wait_for(lambda: not sim.beacon_on(), BEACON_BOUND_S)
    print(f"\nbeacon off {waited:.1f} s after the acknowledgement (bound {BEACON_BOUND_S} s)")
    with world["db"]() as db:
        commands = db.execute(select(KioskCommand.kind, KioskCommand.created_by)
                              .where(KioskCommand.kiosk_id == SIM)).all()
        assert commands == [("ack_staff_call", ADMIN)]
        assert db.scalar(select(DashboardAudit.action).where(DashboardAudit.kiosk_id == SIM,
                                                             DashboardAudit.staff_id == ADMIN)) == \
            "command_ack_staff_call"
    wait_for(lambda: call_row() is None and not browser.find_elements("id", f"call-{SIM}"), BEACON_BOUND_S, step=1.0)


def test_a_call_on_a_kiosk_is_acknowledged_once_even_when_two_clerks_press(world):
    telemetry(world, OTHER, "staff_call", staff_call_since=utcnow() - timedelta(minutes=6))
    login(world, ADMIN)
    browser = world["browser"]
    browser.get(f"{world['url']}/calls")
    first = browser.find_element("id", f"call-{OTHER}").find_element("css selector", "button")
    assert "6分前" in browser.find_element("id", f"call-{OTHER}").text
    browser.execute_script("window.open(arguments[0], 'second')", f"{world['url']}/calls")  # a second clerk's tab
    browser.switch_to.window("second")
    submit(browser, browser.find_element("id", f"call-{OTHER}").find_element("css selector", "button"))
    browser.close()
    browser.switch_to.window(browser.window_handles[0])
    submit(browser, first)  # pressed on the page loaded before the other clerk acknowledged
    assert "応答済み" in text_of(world, "message")
    with world["db"]() as db:
        assert db.scalar(select(func.count()).select_from(KioskCommand).where(KioskCommand.kiosk_id == OTHER)) == 1


def test_a_refund_is_paid_by_its_reference_once_and_a_second_payment_is_refused(world):
    login(world, ADMIN)
    browser = world["browser"]
    reference = refunds.reference_for(world["owed"])
    browser.get(f"{world['url']}/refunds")
    assert reference in text_of(world, "refunds") and "300円" in text_of(world, "refunds")
    browser.find_element("id", "reference").send_keys(reference.replace("-", "").lower())  # as typed in a hurry
    submit(browser, browser.find_element("id", "pay"))
    assert text_of(world, "message") == f"{reference}（300円、{HOME}）を支払済みにしました。"
    assert reference not in text_of(world, "refunds")  # no longer owed; the other one still is
    browser.find_element("id", "reference").send_keys(reference)
    submit(browser, browser.find_element("id", "pay"))
    refusal = text_of(world, "message")
    browser.save_screenshot(str(SHOTS / "refunds-paid-twice-ja-1366x768.png"))
    assert f"{reference} は" in refusal and ADMIN in refusal and "二重に支払わないでください" in refusal
    with world["db"]() as db:
        paid = refunds.find(db, reference=reference)
        assert paid.paid_by == ADMIN
        assert db.scalar(select(func.count()).select_from(DashboardAudit)
                         .where(DashboardAudit.action == "refund_paid")) == 1


def test_ward_staff_cannot_see_another_wards_kiosk_on_the_page_or_by_its_url(world):
    login(world, WARD)
    browser = world["browser"]
    grid = browser.find_element("id", "fleet").text
    assert HOME in grid and "kiosk-kw-02" in grid and OTHER not in grid and "kiosk-tk-01" not in grid
    browser.get(f"{world['url']}/kiosks/{OTHER}")
    assert "あなたの区の端末ではありません" in text_of(world, "refusal")
    assert "staff_call" not in browser.page_source
    browser.get(f"{world['url']}/calls")
    assert OTHER not in browser.page_source
    browser.get(f"{world['url']}/kiosks/{SIM}")  # a kiosk of their own ward: its timeline, from its first event
    assert "kiosk_started" in text_of(world, "timeline")


def test_a_post_without_the_csrf_token_is_refused(world):
    login(world, ADMIN)
    browser = world["browser"]
    status = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/kiosks/kiosk-tk-01/command', {method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'kind=out_of_service'})
          .then(r => done(r.status));""")
    assert status == 403
    with world["db"]() as db:
        assert db.scalar(select(KioskCommand).where(KioskCommand.kiosk_id == "kiosk-tk-01")) is None
        assert db.scalar(select(DashboardAudit.action).where(DashboardAudit.detail.like("%kiosk-tk-01%"))) == \
            "refused_csrf"


def test_the_out_of_service_button_sends_one_command_even_when_pressed_twice(world):
    login(world, WARD)
    browser = world["browser"]
    browser.get(f"{world['url']}/kiosks/{HOME}")
    submit(browser, browser.find_element("id", "cmd-out_of_service"))
    assert "休止にする" in text_of(world, "message") and "送りました" in text_of(world, "message")
    submit(browser, browser.find_element("id", "cmd-out_of_service"))
    assert "送信済み" in text_of(world, "message")
    with world["db"]() as db:
        assert db.execute(select(KioskCommand.kind, KioskCommand.created_by).where(
            KioskCommand.kiosk_id == HOME)).all() == [("out_of_service", WARD)]


def test_too_many_bad_sign_ins_lock_the_account(world):
    add_staff(world["config"], "locked-01", "ward", PASSWORD, "kawasaki")
    for attempt in range(4):
        login(world, "locked-01", "wrong-password-x")
        assert "パスワードが違います" in text_of(world, "login-error"), attempt
    login(world, "locked-01", "wrong-password-x")
    assert "まで利用できません" in text_of(world, "login-error")
    login(world, "locked-01", PASSWORD)  # the right password, while locked
    assert "まで利用できません" in text_of(world, "login-error")
    assert world["browser"].current_url.endswith("/login")


PAGES = [("fleet", "/fleet"), ("calls", "/calls"), ("refunds", "/refunds"), ("day", "/day"), ("stats", "/stats"),
         ("kiosk", f"/kiosks/{SIM}")]


@pytest.mark.parametrize("width,height", [(1366, 768), (768, 1024)])
def test_every_page_fits_the_screen_without_horizontal_scroll_and_is_photographed(world, width, height):
    browser = world["browser"]
    viewport(browser, width, height, mobile=width < 1000)
    try:
        browser.delete_all_cookies()
        browser.get(f"{world['url']}/login")
        browser.save_screenshot(str(SHOTS / f"login-{width}x{height}.png"))
        login(world, ADMIN)
        for lang in ("ja", "en"):
            browser.get(f"{world['url']}/lang/{lang}?next=/fleet")
            for name, path in PAGES if lang == "ja" else PAGES[:1] + PAGES[2:3]:
                browser.get(world["url"] + path)
                assert browser.find_element("tag name", "h1").text
                assert no_horizontal_scroll(browser), f"{name} ({lang}) scrolls sideways at {width}x{height}"
                browser.save_screenshot(str(SHOTS / f"{name}-{lang}-{width}x{height}.png"))
        assert "Out of paper" in browser.page_source or "Refunds" in browser.page_source
    finally:
        viewport(browser, 1366, 768)
