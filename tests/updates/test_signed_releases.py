"""Only what the city signed installs: a local TUF repository made by `kiosk-server updates`, served by the real
reference server over HTTPS with mTLS, and `kiosk-update check` against it."""
from __future__ import annotations

import json


def _outcome(done) -> dict:
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def test_a_good_release_installs_passes_the_gate_and_commits(rig):
    rig.publish("1.1.0")
    done = rig.update("check")
    result = _outcome(done)
    assert result["outcome"] == "committed", done.stdout + done.stderr
    assert rig.current() == "1.1.0"
    running = rig.running()
    assert running["release"] == "1.1.0" and running["alive"]
    state = json.loads((rig.base / "state" / "state.json").read_text())
    assert state["committed"] == "1.1.0" and state["trying"] is None
    assert (rig.base / "previous").resolve().name == "1.0.0"
    assert _outcome(rig.update("check"))["outcome"] == "up_to_date"
