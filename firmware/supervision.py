"""The kiosk under systemd: ``READY=1`` after recovery and the first readiness check, ``STATUS=`` with the visit
state or why it is out of service, and the watchdog's earned pings (:mod:`firmware.watchdog`).

Used the same way by the headless runner and the touchscreen app::

    supervision = Supervision(kiosk)        # before kiosk.start()
    await kiosk.start()                     # start-up recovery settles the journal
    await supervision.ready()               # the first controller turn ran the readiness check: READY=1
    ...
    await supervision.stop()                # STOPPING=1

Outside systemd (no ``$NOTIFY_SOCKET``) nothing is sent and no watchdog runs.
"""
from __future__ import annotations

import asyncio
import logging

from firmware.release_health import health_file, write_health
from firmware.sdnotify import Notifier, watchdog_interval_s
from firmware.visit import VisitState, VisitView
from firmware.watchdog import ControllerPulse, Pulse, Watchdog, device_pulses

log = logging.getLogger("kiosk.supervision")


def status_text(view: VisitView, refund_alarm: bool = False) -> str:
    """What ``systemctl status kiosk`` shows: codes and states only, never anything about the resident."""
    if view.state is VisitState.OUT_OF_SERVICE:
        text = f"out of service: {view.out_of_service_reason or 'unknown'}"
    elif view.state is VisitState.IDLE:
        text = "in service, idle"
    else:
        text = f"in service, visit {view.visit} in {view.state.value}"
    return text + ("; refund owed, staff to check" if refund_alarm else "")


class Supervision:
    def __init__(self, kiosk, notifier: Notifier | None = None, interval_s: float | None = None):
        self.kiosk = kiosk
        self.notifier = notifier or Notifier()
        interval = interval_s if interval_s is not None else watchdog_interval_s()
        self.watchdog = Watchdog(self.notifier, interval) if interval else None
        self._turn_before_start = kiosk.heartbeat
        self._status: str | None = None
        self._task: asyncio.Task | None = None
        self._ui: Pulse | None = None
        self.is_ready = False

    def ui_pulse(self) -> Pulse:
        """A pulse for the UI's frame clock to beat (the touchscreen app calls it from Kivy's Clock)."""
        pulse = Pulse("ui")
        self._ui = pulse
        if self.watchdog is not None:
            self.watchdog.add(pulse)
        return pulse

    async def ready(self, timeout_s: float = 60.0) -> None:
        """Wait for the controller's first turn (it handles the Tick that :meth:`Kiosk.start` queued, which runs
        the readiness check) and, with a screen, the UI's first frame-clock beat; then tell systemd the kiosk is
        up, in service or not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.kiosk.heartbeat == self._turn_before_start or (self._ui is not None and not self._ui.beats):
            if loop.time() > deadline:
                raise TimeoutError("the controller did not turn after start-up")
            await asyncio.sleep(0.01)
        self._status = status_text(self.kiosk.view, self.kiosk.refund_alarm)
        self._write_health()
        self.notifier.ready(self._status)
        self.is_ready = True
        self.kiosk.subscribe(self._on_view)
        if self.watchdog is not None:
            self.watchdog.add(ControllerPulse(self.kiosk))
            for pulse in device_pulses(self.kiosk.devices):
                self.watchdog.add(pulse)
            self._task = asyncio.create_task(self.watchdog.run(), name="kiosk-watchdog")

    def _on_view(self, view: VisitView) -> None:
        text = status_text(view, self.kiosk.refund_alarm)
        if text != self._status:
            self._status = text
            self.notifier.status(text)
            self._write_health()

    def _write_health(self) -> None:
        """For the update gate: this release runs, recovery is done, devices answer (firmware/release_health)."""
        path = health_file()
        if path is not None:
            try:
                write_health(path, self.kiosk.out_of_service_reason)
            except OSError as exc:
                log.warning("health file %s not written: %s", path, exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.notifier.stopping()
        self.notifier.close()
