"""The gate's optional self-visit (firmware/self_visit.py): one headless visit in a test mode — simulated card,
coins and null printer, a throw-away journal — with the new release's code against the real server over mTLS.
A release that cannot finish a visit rolls back; the kiosk's own journal is never touched."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.server_process import REPO, _env
from tests.support.update_rig import make_rig


def _self_visit_rig(tmp_path, dev_world, pin: str = "1234"):
    cards = tmp_path / "cards"  # kiosk_config_data copies the world's synthetic cards here
    visit = {"enabled": True, "cards_dir": str(cards), "card": "resident-a", "pin": pin, "timeout_s": 20,
             "command": [sys.executable, "{release}/self_visit.py", str(tmp_path / "kiosk.toml")]}
    return make_rig(tmp_path, dev_world, updates={"self_visit": visit})


@pytest.fixture
def visit_rig(dev_world, tmp_path):
    made = _self_visit_rig(tmp_path, dev_world)
    yield made
    made.stop()


def test_a_good_release_commits_after_a_real_test_mode_visit(visit_rig):
    visit_rig.publish("1.1.0")
    result = json.loads(visit_rig.update("check").stdout)
    assert result["outcome"] == "committed", result
    assert result["self_visit"].startswith("self-visit: passed (residence_record_copy, 1 page(s), fee 300 yen")
    # a test mode: the kiosk's own journal (its data folder) was never opened by the self-visit
    assert not (visit_rig.work / "kiosk" / "journal.sqlite").exists()


def test_a_release_that_cannot_finish_a_visit_rolls_back_with_what_it_said(visit_rig):
    visit_rig.publish("1.1.0", "bad_self_visit")
    result = json.loads(visit_rig.update("check").stdout)
    assert result["outcome"] == "rolled_back" and result["check"] == "self_visit", result
    assert "the document did not verify" in result["detail"] and "signature_invalid" in result["log_tail"]
    assert visit_rig.current() == "1.0.0" and visit_rig.running()["release"] == "1.0.0"


def test_the_self_visit_names_the_step_that_failed(visit_rig):
    """Run as the gate runs it, with a test card whose PIN is wrong: it fails at the sign-in, and says so."""
    toml = visit_rig.kiosk_toml
    toml.write_text(toml.read_text().replace('pin = "1234"', 'pin = "9999"'))
    done = subprocess.run([sys.executable, "-m", "firmware.self_visit", "--config", str(toml)], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "self-visit: FAILED at sign in" in done.stderr
    assert "9999" not in done.stderr + done.stdout  # the PIN is never said


def test_a_self_visit_that_is_not_enabled_is_a_configuration_error(rig):
    done = subprocess.run([sys.executable, "-m", "firmware.self_visit", "--config", str(rig.kiosk_toml)], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "[updates.self_visit] is not enabled" in done.stderr
