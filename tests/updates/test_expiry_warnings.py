"""Signatures that are about to run out are said well before they stop every update: by the kiosk (history, for
telemetry) and by `kiosk-server updates status` (exit 1 with a WARNING line saying which command re-signs)."""
from __future__ import annotations

import json
from datetime import timedelta

from server.updates_repo import Repository
from tests.support.update_rig import kiosk_server


def test_a_timestamp_about_to_expire_is_warned_by_the_kiosk_and_the_server(rig):
    Repository(rig.repo).snapshot_and_timestamp(None, rig.key("timestamp"), lifetime=timedelta(hours=2))
    done = rig.update("check")
    result = json.loads(done.stdout)
    assert result["outcome"] == "up_to_date"
    assert any(w.startswith("timestamp_expires_soon:") for w in result["warnings"])
    assert rig.history()[-1]["outcome"] == "warning"
    status = kiosk_server("status", "--repo", rig.repo)
    assert status.returncode == 1
    assert "WARNING: timestamp metadata expires" in status.stdout and "updates refresh" in status.stdout


def test_a_fresh_repository_gives_no_warning(rig):
    assert json.loads(rig.update("check").stdout)["warnings"] == []
    assert kiosk_server("status", "--repo", rig.repo).returncode == 0
