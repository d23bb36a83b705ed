"""The city hears what the updater did: each outcome in the kiosk-readable history becomes one telemetry event in
the kiosk's outbox (firmware/telemetry_updates.py), and the fleet summary shows a rollback until a release commits."""
from __future__ import annotations

from datetime import datetime, timezone

from firmware.telemetry_outbox import TelemetryOutbox
from firmware.telemetry_updates import UpdateReports
from server.models_telemetry import KioskSummary
from server.telemetry_summary import apply_event


def _events(outbox: TelemetryOutbox) -> list[tuple[str, dict]]:
    return [(e.kind, e.fields) for e in outbox.pending(100)]


def test_a_rollback_and_a_commit_reach_the_outbox_once_each(rig, tmp_path):
    outbox = TelemetryOutbox(tmp_path / "telemetry.sqlite")
    reports = UpdateReports(rig.base / "update-history.jsonl", outbox, outbox.add)
    assert reports.look() == 0  # nothing happened yet

    rig.publish("1.1.0", "bad_devices")
    assert rig.update("check").returncode == 1
    assert reports.look() == 1
    assert _events(outbox) == [("update_rolled_back", {"version": "1.1.0", "running": "1.0.0", "check": "devices"})]
    assert reports.look() == 0  # read once: the offset is kept in the outbox

    rig.publish("1.2.0")
    assert rig.update("check").returncode == 0
    again = UpdateReports(rig.base / "update-history.jsonl", outbox, outbox.add)  # as after a kiosk restart
    assert again.look() == 1
    kind, fields = _events(outbox)[-1]
    assert kind == "update_committed" and fields["version"] == "1.2.0" and fields["previous"] == "1.0.0"
    assert isinstance(fields["out_of_service_ms"], int) and fields["out_of_service_ms"] > 0
    # the log tail and the sentences stay on the kiosk: no event carries them
    assert all("log_tail" not in f and "detail" not in f for _, f in _events(outbox))
    outbox.close()


def test_the_fleet_summary_shows_a_rollback_until_a_release_commits():
    summary = KioskSummary(kiosk_id="kiosk-0001", open_faults=[])
    now = datetime.now(timezone.utc)
    apply_event(summary, "update_rolled_back", {"version": "1.1.0", "running": "1.0.0", "check": "devices"}, now)
    assert summary.open_faults == ["update:rolled_back.1.1.0.devices"]
    apply_event(summary, "update_committed", {"version": "1.2.0", "previous": "1.0.0"}, now)
    assert summary.open_faults == []


def test_a_signature_about_to_run_out_becomes_one_event_per_role():
    from firmware.telemetry_updates import events_of

    entry = {"outcome": "warning", "warnings": ["timestamp_expires_soon:2026-12-07T10:00Z",
                                                "targets_expires_soon:2026-12-20T00:00Z"]}
    assert events_of(entry) == [("update_expiry_ahead", {"role": "timestamp", "expires": "2026-12-07T10:00Z"}),
                                ("update_expiry_ahead", {"role": "targets", "expires": "2026-12-20T00:00Z"})]
