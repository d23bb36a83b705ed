"""``kiosk-update``: one check of the city's repository, and if a newer signed release is there, install it beside
the running one, switch when the kiosk is idle, gate, then commit or roll back — with the reason written down.

    check    (kiosk-update.timer, in the update window)   recover first, then the whole path below
    recover  (before kiosk.service at boot: --boot)        a release left *trying* by a cut goes back
    status                                                  what runs, what is committed, the last outcomes

The steps and where a power cut may fall (``KIOSK_UPDATE_KILL_AT`` kills the process there, for the tests):
downloaded → unpacked → held (the kiosk idle, out of service ``updating``) → trying-recorded → current-switched →
restarted → gate → committed.  Before *trying-recorded* nothing has changed; after it and before *committed* the
next start puts the previous release back (:func:`recover`).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from datetime import datetime, time as dtime
from pathlib import Path

from firmware.server_client import ServerEndpoint
from firmware.update_fetch import ReleaseSource, UpdateRefused, clock_synchronised_check
from firmware.update_gate import GateResult, GateSettings, restart, run_gate
from firmware.update_slots import SlotError, Slots, now_iso

KILL_AT = "KIOSK_UPDATE_KILL_AT"
STEPS = ("downloaded", "unpacked", "held", "trying-recorded", "current-switched", "restarted", "gate-passed")
ATTEMPTS = 3  # a release interrupted this often (power cuts, not its own fault) is not tried again by itself


def checkpoint(name: str) -> None:
    if os.environ.get(KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class UpdateSettings:
    endpoint: ServerEndpoint
    slots: Slots
    trusted_root: Path
    hold_dir: Path
    gate: GateSettings
    window: tuple[dtime, dtime] | None = None  # local time; None: any time
    hold_wait_s: float = 3600.0
    time_sync_flag: Path = Path("/run/systemd/timesync/synchronized")
    use_kernel_clock: bool = True
    extra: dict = field(default_factory=dict)


def in_window(window: tuple[dtime, dtime] | None, now: datetime) -> bool:
    if window is None:
        return True
    start, end = window
    t = now.time()
    return start <= t < end if start < end else (t >= start or t < end)


class Updater:
    def __init__(self, settings: UpdateSettings, log=None):
        self.s = settings
        self.slots = settings.slots
        self.say = log or (lambda line: print(line, file=sys.stderr, flush=True))

    # ---- the hold ------------------------------------------------------------------------------------------
    def _ask_hold(self, version: str) -> None:
        self.s.hold_dir.mkdir(parents=True, exist_ok=True)
        (self.s.hold_dir / "ready.json").unlink(missing_ok=True)
        tmp = self.s.hold_dir / ".request.json.tmp"
        tmp.write_text(json.dumps({"version": version, "pid": os.getpid(), "at": now_iso()}))
        os.replace(tmp, self.s.hold_dir / "request.json")

    def _wait_hold(self) -> float | None:
        """Seconds waited until the kiosk said it is idle with nothing open; None if the wait ran out."""
        start = time.monotonic()
        while time.monotonic() - start < self.s.hold_wait_s:
            if (self.s.hold_dir / "ready.json").exists():
                return time.monotonic() - start
            time.sleep(0.2)
        return None

    def release_hold(self) -> None:
        (self.s.hold_dir / "request.json").unlink(missing_ok=True)

    # ---- the whole path ------------------------------------------------------------------------------------
    def check(self, now: datetime | None = None) -> dict:
        self.recover()
        now = now or datetime.now().astimezone()
        if not in_window(self.s.window, now):
            return {"outcome": "outside_window"}
        state = self.slots.state()
        running = state.get("committed") or self.slots.current()
        source = ReleaseSource(self.s.endpoint, self.s.trusted_root, self.slots.state_dir / "tuf",
                               clock_synchronised_check(self.s.time_sync_flag, self.s.use_kernel_clock))
        try:
            offered = source.latest(running)
            warnings = source.warnings()
            if warnings:  # a signature about to run out bricks updates later (rauc #781): said now, every night
                self.say(f"kiosk-update: WARNING: {', '.join(warnings)}")
                self.slots.record(outcome="warning", warnings=warnings)
            if offered is None:
                return {"outcome": "up_to_date", "running": running, "warnings": warnings}
            failed = state.get("failed", {}).get(offered.version)
            if failed and (failed.get("gate") or failed.get("count", 0) >= ATTEMPTS):
                return {"outcome": "known_bad", "version": offered.version, "reason": failed.get("reason")}
            bundle = source.download(offered, self.slots.state_dir / "downloads" / offered.target)
        except UpdateRefused as refusal:
            self.say(f"kiosk-update: refused: {refusal.reason}: {refusal.words}")
            return self.slots.record(outcome="refused", reason=refusal.reason, words=refusal.words,
                                     running=running)
        finally:
            source.close()
        checkpoint("downloaded")
        return self.install(bundle, offered.version, running)

    def install(self, bundle: Path, version: str, running: str | None) -> dict:
        timings: dict[str, float] = {}
        try:
            self.slots.unpack(bundle, version)
        except (SlotError, subprocess.SubprocessError, OSError, tarfile.TarError) as exc:
            # nothing switched: the folder is not marked complete, and the running release is untouched
            self.say(f"kiosk-update: {version} could not be unpacked: {exc}")
            return self.slots.record(outcome="refused", reason="unpack_failed", version=version, running=running,
                                     words=f"{type(exc).__name__}: {exc}"[:500])
        checkpoint("unpacked")
        self._ask_hold(version)
        waited = self._wait_hold()
        if waited is None:
            self.release_hold()
            return self.slots.record(outcome="deferred", version=version, reason="kiosk_busy",
                                     words=f"the kiosk was not idle within {self.s.hold_wait_s:g} s")
        out_of_service_from = time.monotonic()
        checkpoint("held")
        state = self.slots.state()
        state["trying"] = {"version": version, "from": running, "step": "trying-recorded", "at": now_iso()}
        self.slots.save_state(state)
        checkpoint("trying-recorded")
        self.slots.point(self.slots.current_link, version)
        self._step("current-switched")
        checkpoint("current-switched")
        gate = run_gate(self.s.gate, version, self.s.endpoint if self.s.gate.check_server else None,
                        on_restarted=lambda: (self._step("restarted"), checkpoint("restarted")))
        if not gate.passed:
            return self.rollback(gate, version, running)
        checkpoint("gate-passed")
        state = self.slots.state()
        state.update(committed=version, trying=None)
        self.slots.save_state(state)
        if running:
            self.slots.point(self.slots.previous_link, running)
        self.release_hold()
        timings["out_of_service_s"] = round(time.monotonic() - out_of_service_from, 3)
        timings["waited_for_idle_s"] = round(waited, 3)
        self.slots.prune()
        self.say(f"kiosk-update: {version} committed (was {running})")
        if self.s.gate.self_visit_command:
            timings["self_visit"] = gate.detail  # what the test-mode visit said it did
        return self.slots.record(outcome="committed", version=version, previous=running, **timings)

    def _step(self, step: str) -> None:
        state = self.slots.state()
        if state.get("trying"):
            state["trying"]["step"] = step
            self.slots.save_state(state)

    # ---- going back ----------------------------------------------------------------------------------------
    def rollback(self, gate: GateResult, version: str, back_to: str | None, *, boot: bool = False) -> dict:
        state = self.slots.state()
        if back_to:
            self.slots.point(self.slots.current_link, back_to)
        failed = state.setdefault("failed", {}).setdefault(version, {"count": 0})
        failed.update(count=failed.get("count", 0) + 1, reason=gate.check, gate=gate.check != "power_cut_or_crash")
        state.update(trying=None, committed=back_to)
        self.slots.save_state(state)
        restarted = None
        if not boot:
            restarted = restart(self.s.gate)
        self.release_hold()
        self.say(f"kiosk-update: {version} rolled back to {back_to}: {gate.check}: {gate.detail}")
        return self.slots.record(outcome="rolled_back", version=version, running=back_to, check=gate.check,
                                 detail=gate.detail, log_tail=gate.log_tail,
                                 previous_restarted=None if restarted is None else restarted.passed)

    def recover(self, *, boot: bool = False) -> dict | None:
        """A release left *trying* (the updater or the Pi stopped before commit) goes back to the previous one."""
        state = self.slots.state()
        trying = state.get("trying")
        if not trying:
            if not boot:
                self.release_hold()  # a hold left by an updater killed before it switched
            return None
        from firmware.update_gate import log_tail

        gate = GateResult(False, "power_cut_or_crash", f"the update stopped at step {trying.get('step')} before "
                          "it was committed (power cut, crash or hang)", log_tail(self.s.gate.log_command))
        return self.rollback(gate, trying["version"], trying.get("from"), boot=boot)
