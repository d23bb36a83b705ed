"""A release that breaks the kiosk goes away by itself: it fails to start, starts but its devices do not answer,
or dies just after READY=1 — and a power cut (SIGKILL of the updater) at every step of the switch — each end with
the previous release running and the reason written down."""
from __future__ import annotations

import json

import pytest

from firmware.updater import STEPS, KILL_AT


def _check(rig) -> dict:
    done = rig.update("check")
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def _previous_runs(rig) -> None:
    assert rig.current() == "1.0.0"
    running = rig.running()
    assert running["release"] == "1.0.0" and running["alive"]
    state_file = rig.base / "state" / "state.json"
    if state_file.exists():  # (no state before the first switch)
        state = json.loads(state_file.read_text())
        assert state["trying"] is None and state["committed"] == "1.0.0"
    assert not (rig.run / "hold" / "request.json").exists()  # the kiosk is not left out of service


@pytest.mark.parametrize("behaviour, check, words", [
    ("crash", "units_ready", "RuntimeError: the journal schema is newer"),
    ("bad_devices", "devices", "printer: no answer"),
    ("dies_after_ready", "stays_up", "Segmentation fault"),
])
def test_a_bad_release_rolls_back_with_the_failed_check_and_the_log_tail(rig, behaviour, check, words):
    rig.publish("1.1.0", behaviour)
    result = _check(rig)
    assert result["outcome"] == "rolled_back" and result["check"] == check, result
    assert words in result["log_tail"]
    assert result["previous_restarted"] is True
    _previous_runs(rig)
    assert _check(rig)["outcome"] == "known_bad"  # not tried again night after night (mender #97)


def test_a_release_that_hangs_at_start_rolls_back(rig):
    rig.publish("1.1.0", "hang")
    result = _check(rig)
    assert result["outcome"] == "rolled_back" and result["check"] == "units_ready", result
    assert "no READY=1" in result["detail"] or "timeout" in result["detail"]
    _previous_runs(rig)


@pytest.mark.parametrize("step", STEPS)
def test_a_power_cut_at_each_step_of_the_switch_ends_with_the_previous_release(rig, step):
    rig.publish("1.1.0")
    killed = rig.update("check", env={KILL_AT: step})
    assert killed.returncode == -9, killed.stderr  # SIGKILL: nothing after this point ran
    recovered = rig.update("recover")  # what kiosk-update-recover.service does at the next start
    outcome = json.loads(recovered.stdout)
    history = rig.history()
    if step in ("downloaded", "unpacked", "held"):
        assert outcome["outcome"] == "nothing_to_recover"  # nothing had changed yet
    else:
        assert outcome["outcome"] == "rolled_back" and outcome["check"] == "power_cut_or_crash", outcome
        assert "before it was committed" in outcome["detail"]
        assert history[-1]["outcome"] == "rolled_back"
    _previous_runs(rig)
    retried = _check(rig)  # an interruption is no fault of the release: the next window tries again
    assert retried["outcome"] == "committed", retried
    assert rig.running()["release"] == "1.1.0"
