"""What systemd is told (firmware.supervision): READY=1 only after the controller's first turn, STATUS= lines
that carry states and reason codes only."""
from __future__ import annotations

import asyncio

from firmware.supervision import Supervision, status_text
from firmware.visit import VisitState, VisitView


class Notes:
    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def ready(self, status):
        self.sent.append(("READY", status))

    def status(self, status):
        self.sent.append(("STATUS", status))

    def watchdog(self):
        self.sent.append(("WATCHDOG", ""))

    def stopping(self):
        self.sent.append(("STOPPING", ""))

    def close(self):
        pass


class Devices:
    def all(self):
        return []


class FakeKiosk:
    def __init__(self):
        self.heartbeat = 1.0
        self.view = VisitView(VisitState.IDLE)
        self.refund_alarm = False
        self.devices = Devices()
        self.listeners = []

    def subscribe(self, listener):
        self.listeners.append(listener)
        listener(self.view)

    def alive(self, max_age_s):
        return True


def test_status_lines_say_state_or_reason_and_a_refund_owed():
    assert status_text(VisitView(VisitState.IDLE)) == "in service, idle"
    assert status_text(VisitView(VisitState.PAYING, visit=7)) == "in service, visit 7 in paying"
    oos = VisitView(VisitState.OUT_OF_SERVICE, out_of_service_reason="clock_not_synchronised")
    assert status_text(oos) == "out of service: clock_not_synchronised"
    assert status_text(oos, refund_alarm=True).endswith("; refund owed, staff to check")


def test_ready_waits_for_the_first_controller_turn_then_reports_status_changes_once():
    kiosk, notes = FakeKiosk(), Notes()
    supervision = Supervision(kiosk, notifier=notes, interval_s=30)

    async def main():
        waiting = asyncio.ensure_future(supervision.ready())
        await asyncio.sleep(0.05)
        before = list(notes.sent)
        kiosk.heartbeat = 2.0  # the first turn: recovery done, readiness checked
        await asyncio.wait_for(waiting, 2)
        kiosk.view = VisitView(VisitState.OUT_OF_SERVICE, out_of_service_reason="printer_no_paper")
        for listener in kiosk.listeners:
            listener(kiosk.view)
            listener(kiosk.view)  # the same view again: no new line
        await asyncio.sleep(0.01)
        await supervision.stop()
        return before

    before = asyncio.run(main())
    assert before == []
    assert notes.sent[0] == ("READY", "in service, idle")
    assert [s for s in notes.sent if s[0] == "STATUS"] == [("STATUS", "out of service: printer_no_paper")]
    assert ("WATCHDOG", "") in notes.sent and notes.sent[-1] == ("STOPPING", "")

