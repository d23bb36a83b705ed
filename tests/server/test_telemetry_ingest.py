"""POST /v1/telemetry on BOTH databases, over the real HTTPS with mTLS: stored once, in sequence, for the kiosk
its certificate names; every bad batch gets a clear answer and stores nothing wrong; remote commands go out in the
reply until the kiosk reports them done; retention deletes old events and keeps the summary."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.db import utcnow
from server.models_telemetry import KioskCommand, KioskSummary, TelemetryEvent
from server.telemetry import create_command, prune
from tests.support.storm import make_storm_kiosks

BOOT = "0b5e7c1a-boot"


@pytest.fixture(scope="module")
def kiosks(dev_dir):
    """Device certificates of their own (kiosk-tel-NN), so each test starts from an empty sequence."""
    return [k.kiosk_id for k in make_storm_kiosks(dev_dir, 12, prefix="kiosk-tel")]


def event(seq: int, kind: str = "paper_low", boot: str = BOOT, **fields) -> dict:
    return {"seq": seq, "boot_id": boot, "monotonic_ms": 1000 * seq, "wall_time": "2026-12-01T09:00:00+09:00",
            "kind": kind, "fields": fields or {"device": "printer", "state": "paper_low"}}


def batch(*events: dict, **extra) -> dict:
    return {"boot_id": BOOT, "sent_monotonic_ms": 100_000, "backlog": 0, "events": list(events), **extra}


def stored(sessions, kiosk: str) -> list[int]:
    with sessions() as db:
        return list(db.scalars(select(TelemetryEvent.seq).where(TelemetryEvent.kiosk_id == kiosk)
                               .order_by(TelemetryEvent.seq)))


def post(server, kiosk: str, body) -> tuple[int, dict]:
    with server.client(kiosk) as http:
        reply = http.post("/v1/telemetry", content=body if isinstance(body, bytes) else json.dumps(body),
                          headers={"Content-Type": "application/json"})
        return reply.status_code, reply.json()


def test_events_are_stored_once_in_order_and_acknowledged(store, kiosks):
    server, sessions = store
    status, reply = post(server, kiosks[0], batch(event(1), event(2, "staff_call", visit=3), event(3)))
    assert status == 200, reply
    assert (reply["acked_seq"], reply["stored"], reply["replayed"], reply["commands"]) == (3, 3, 0, [])
    assert stored(sessions, kiosks[0]) == [1, 2, 3]
    with sessions() as db:
        summary = db.get(KioskSummary, kiosks[0])
        assert summary.last_seq == 3 and summary.staff_call_since is not None
        assert summary.open_faults == ["printer:paper_low"]
        row = db.scalars(select(TelemetryEvent).where(TelemetryEvent.kiosk_id == kiosks[0],
                                                      TelemetryEvent.seq == 1)).one()
        assert row.wall_time.isoformat() == "2026-12-01T00:00:00"  # stored as UTC
        assert row.corrected_time is not None and row.corrected_time <= row.received_at  # 99 s before the POST


def test_a_kiosk_id_in_the_body_is_ignored_the_certificate_names_the_kiosk(store, kiosks):
    server, sessions = store
    status, reply = post(server, kiosks[1], batch(event(1), kiosk_id=kiosks[2]))
    assert status == 200 and reply["acked_seq"] == 1
    assert stored(sessions, kiosks[1]) == [1]
    assert stored(sessions, kiosks[2]) == []
    with sessions() as db:
        assert db.get(KioskSummary, kiosks[2]) is None


def test_a_replay_is_acknowledged_and_stored_nothing_twice(store, kiosks):
    server, sessions = store
    first = batch(event(1), event(2))
    assert post(server, kiosks[3], first)[0] == 200
    status, reply = post(server, kiosks[3], first)
    assert status == 200 and (reply["acked_seq"], reply["stored"], reply["replayed"]) == (2, 0, 2)
    status, reply = post(server, kiosks[3], batch(event(2), event(3)))  # half replay, half new
    assert status == 200 and (reply["acked_seq"], reply["stored"], reply["replayed"]) == (3, 1, 1)
    assert stored(sessions, kiosks[3]) == [1, 2, 3]


def test_a_reused_sequence_number_with_another_event_is_a_conflict(store, kiosks):
    server, sessions = store
    assert post(server, kiosks[4], batch(event(1), event(2)))[0] == 200
    status, reply = post(server, kiosks[4], batch(event(1, boot="another-boot"), event(3)))  # an outbox reset
    assert status == 409 and reply["error"]["code"] == "sequence_conflict"
    assert reply["error"]["detail"] == {"acked_seq": 2}
    assert stored(sessions, kiosks[4]) == [1, 2]


def test_a_gap_stores_the_run_before_it_and_names_the_expected_sequence(store, kiosks):
    server, sessions = store
    assert post(server, kiosks[5], batch(event(1)))[0] == 200
    status, reply = post(server, kiosks[5], batch(event(3), event(4)))  # 2 is missing
    assert status == 409 and reply["error"]["code"] == "sequence_gap"
    assert reply["error"]["detail"] == {"acked_seq": 1, "expected_seq": 2}
    assert stored(sessions, kiosks[5]) == [1]
    status, reply = post(server, kiosks[5], batch(event(2), event(3), event(5)))  # stored up to the hole
    assert status == 409 and reply["error"]["detail"] == {"acked_seq": 3, "expected_seq": 4}
    assert stored(sessions, kiosks[5]) == [1, 2, 3]
    status, reply = post(server, kiosks[5], batch(event(4), event(5)))
    assert status == 200 and reply["acked_seq"] == 5
    assert stored(sessions, kiosks[5]) == [1, 2, 3, 4, 5]


def test_oversized_batches_are_refused_with_413_and_store_nothing(store, kiosks):
    server, sessions = store
    small = [{"seq": n, "boot_id": "b", "monotonic_ms": n, "wall_time": "2026-12-01T00:00Z", "kind": "x"}
             for n in range(1, 502)]  # 501 events in under 64 KiB
    many = json.dumps(batch(*small), separators=(",", ":")).encode()
    assert len(many) < 64 * 1024
    status, reply = post(server, kiosks[6], many)
    assert status == 413 and reply["error"]["code"] == "batch_too_large"
    assert reply["error"]["detail"] == {"max_events": 500}
    huge = batch(*[event(n, "x", **{f"f{i}": "A" * 60 for i in range(16)}) for n in range(1, 80)])
    status, reply = post(server, kiosks[6], huge)
    assert status == 413 and reply["error"]["code"] == "payload_too_large"
    assert stored(sessions, kiosks[6]) == []


@pytest.mark.parametrize("body, status, field", [
    (b"{not json", 400, None),
    (batch(event(1, name="Yamada Taro")), 422, "events.0.fields.name"),  # a sentence, not a code
    (batch(event(1, address="\u6771\u4eac\u90fd")), 422, "events.0.fields.address"),
    (batch(event(2), event(1)), 422, "events"),  # out of order
    (batch(event(1), event(1)), 422, "events"),  # twice in one batch
    (batch({**event(1), "wall_time": "yesterday"}), 422, "events.0.wall_time"),
    (batch({**event(1), "seq": 0}), 422, "events.0.seq"),
    ({"events": []}, 422, "boot_id"),
])
def test_malformed_batches_are_refused_and_store_nothing(store, kiosks, body, status, field):
    server, sessions = store
    got, reply = post(server, kiosks[7], body)
    assert got == status and reply["error"]["code"] == "bad_request", reply
    if field is not None:
        assert any(f.startswith(field) for f in reply["error"]["detail"]["fields"]), reply
    assert "Yamada" not in json.dumps(reply)
    assert stored(sessions, kiosks[7]) == []


def test_remote_commands_go_out_until_the_kiosk_reports_them_done(store, kiosks):
    server, sessions = store
    kiosk = kiosks[8]
    with sessions() as db:
        command, already = create_command(db, kiosk, "out_of_service", "S0042")
        again, twice = create_command(db, kiosk, "out_of_service", "S0043")  # the CLI adds a command once, too
        assert not already and twice and again.command_id == command.command_id
        create_command(db, kiosks[9], "ack_staff_call", "S0042")  # another kiosk's: never shown to this one
    status, reply = post(server, kiosk, batch())
    assert status == 200 and reply["commands"] == [{"command_id": command.command_id, "kind": "out_of_service"}]
    with sessions() as db:
        row = db.get(KioskCommand, command.command_id)
        assert row.picked_up_at is not None and row.done_at is None
    assert post(server, kiosk, batch())[1]["commands"] == reply["commands"]  # a lost reply loses nothing
    done = event(1, "command_done", command_id=command.command_id, command="out_of_service", outcome="done")
    status, reply = post(server, kiosk, batch(done))
    assert status == 200 and reply["commands"] == []
    with sessions() as db:
        row = db.get(KioskCommand, command.command_id)
        assert row.done_at is not None and row.outcome == "done"
    with sessions() as db:  # once done, the same command can be sent again
        assert not create_command(db, kiosk, "out_of_service", "S0042")[1]
    forged = event(2, "command_done", command_id=command.command_id + 1, command="ack_staff_call", outcome="done")
    assert post(server, kiosk, batch(forged))[0] == 200  # another kiosk's command cannot be closed from here
    with sessions() as db:
        assert db.get(KioskCommand, command.command_id + 1).done_at is None


def test_retention_deletes_old_events_and_keeps_the_summary(store, kiosks):
    server, sessions = store
    kiosk = kiosks[10]
    assert post(server, kiosk, batch(event(1), event(2)))[0] == 200
    with sessions() as db:
        assert prune(db, 30, now=utcnow() + timedelta(days=31)) >= 2
        assert db.scalar(select(func.count()).select_from(TelemetryEvent)
                         .where(TelemetryEvent.kiosk_id == kiosk)) == 0
        assert db.get(KioskSummary, kiosk).last_seq == 2
    status, reply = post(server, kiosk, batch(event(2), event(3)))  # a late resend of a pruned event: no harm
    assert status == 200 and (reply["acked_seq"], reply["stored"]) == (3, 1)
    assert stored(sessions, kiosk) == [3]
