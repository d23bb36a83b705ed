"""The telemetry outbox on its own (a real SQLite file): sequence numbers are never reused, events are never
capped, gauges are, a remote command is reported once, and no personal text gets in."""
from __future__ import annotations

import pytest

from firmware.telemetry import parse_telemetry
from firmware.telemetry_outbox import TelemetryOutbox


@pytest.fixture
def outbox(tmp_path):
    box = TelemetryOutbox(tmp_path / "telemetry.sqlite", max_gauges=5)
    yield box
    box.close()


def test_sequence_numbers_continue_after_acknowledgement_and_reopening(tmp_path):
    box = TelemetryOutbox(tmp_path / "t.sqlite")
    assert [box.add("paper_low", device="printer") for _ in range(3)] == [1, 2, 3]
    assert box.acknowledge(3) == 3 and box.backlog() == 0
    box.close()
    box = TelemetryOutbox(tmp_path / "t.sqlite")
    assert box.add("staff_call", visit=4) == 4  # never 1 again: the server would take it for a replay
    [event] = box.pending(10)
    assert (event.seq, event.kind, event.fields) == (4, "staff_call", {"visit": 4})
    assert event.boot_id and event.monotonic_ms >= 0 and event.wall_time.endswith("+00:00")
    box.close()


def test_events_are_never_capped_but_gauges_are(outbox):
    for n in range(300):
        outbox.add("device_fault", device="notes", state="failure", n=n)
    for n in range(12):
        outbox.add_gauges({"paper": "ok", "n": n})
    assert outbox.backlog() == 300 and [e.seq for e in outbox.pending(500)] == list(range(1, 301))
    assert outbox.gauge_count() == 5 and outbox.latest_gauges()[2] == {"paper": "ok", "n": 11}
    outbox.gauges_sent(outbox.latest_gauges()[0])
    assert outbox.gauge_count() == 0


def test_renumbering_places_pending_events_after_the_servers_count(outbox):
    for _ in range(3):
        outbox.add("paper_low")
    assert outbox.renumber_after(500) == 500
    assert [e.seq for e in outbox.pending(10)] == [501, 502, 503]
    assert outbox.add("paper_out") == 504
    assert outbox.renumber_after(500) == 0  # already in place


def test_a_remote_command_is_recorded_and_reported_in_one_write(outbox):
    seq = outbox.command_done(7, "ack_staff_call", "done")
    assert outbox.applied(7) == "done"
    [event] = outbox.pending(10)
    assert (event.seq, event.kind, event.fields) == (seq, "command_done",
                                                     {"command_id": 7, "command": "ack_staff_call", "outcome": "done"})


@pytest.mark.parametrize("fields", [{"name": "Yamada Taro"}, {"address": "東京都千代田区"}, {"reason": "x" * 65},
                                    {"Bad-Key": 1}, {"amount": 1.5}])
def test_free_text_is_refused(outbox, fields):
    with pytest.raises(ValueError):
        outbox.add("refund_owed", **fields)
    assert outbox.backlog() == 0


def test_settings_are_checked():
    assert parse_telemetry({}).send_every_s == 5.0
    assert parse_telemetry({"batch_max": 50, "enabled": False}).batch_max == 50
    for bad in ({"batch_max": 0}, {"batch_max": 2.5}, {"send_every_s": "often"}, {"sender": 1}, {"enabled": 1}):
        with pytest.raises(ValueError):
            parse_telemetry(bad)
