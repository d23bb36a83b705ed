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


def _refused(rig, reason: str) -> dict:
    done = rig.update("check")
    result = _outcome(done)
    assert done.returncode == 1 and result["outcome"] == "refused", done.stdout + done.stderr
    assert result["reason"] == reason, result
    assert rig.history()[-1]["reason"] == reason  # written down, with plain words
    return result


def _untouched(rig, version: str = "1.0.0") -> None:
    assert rig.current() == version
    running = rig.running()
    assert running["release"] == version and running["alive"]
    assert not (rig.base / "releases" / "1.1.0").exists()


def test_a_tampered_bundle_is_refused_and_the_running_release_is_untouched(rig):
    rig.publish("1.1.0")
    [stored] = (rig.repo / "targets").glob("*.kiosk-1.1.0.tar.gz")
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the mirror changed one byte
    stored.write_bytes(bytes(data))
    result = _refused(rig, "bundle_mismatch")
    assert "not the one the city signed" in result["words"]
    _untouched(rig)


def test_a_release_signed_by_an_unknown_key_is_refused(rig):
    from tests.support.update_rig import kiosk_server

    kiosk_server("keygen", "--out", rig.keys / "attacker.key")
    bundle = rig.build("1.1.0")
    done = kiosk_server("add-release", "--repo", rig.repo, "--bundle", bundle, "--version", "1.1.0",
                        "--targets-key", rig.keys / "attacker.key", "--snapshot-key", rig.key("snapshot"),
                        "--timestamp-key", rig.key("timestamp"))
    assert done.returncode == 0, done.stderr
    result = _refused(rig, "bad_signature")
    assert "not signed by the keys the city's root names" in result["words"]
    _untouched(rig)


def test_old_metadata_replayed_after_a_newer_was_seen_is_a_rollback_attack(rig):
    import shutil

    old = rig.work / "old-metadata"
    shutil.copytree(rig.repo / "metadata", old)  # what the mirror kept from before 1.1.0
    rig.publish("1.1.0")
    assert _outcome(rig.update("check"))["outcome"] == "committed"
    shutil.rmtree(rig.repo / "metadata")
    shutil.copytree(old, rig.repo / "metadata")  # the attacker serves the old, validly signed metadata
    result = _refused(rig, "metadata_rollback")
    assert "older than this kiosk has already seen" in result["words"]
    assert rig.current() == "1.1.0" and rig.running()["release"] == "1.1.0"


def test_an_older_release_offered_as_the_newest_is_never_installed(rig):
    rig.publish("0.9.0")  # signed by the city, but older than the running 1.0.0
    result = _refused(rig, "older_than_running")
    assert "a downgrade is never installed" in result["words"]
    _untouched(rig)


def test_stale_metadata_is_a_freeze_attack(rig):
    from datetime import datetime, timedelta, timezone

    from server.updates_repo import Repository

    rig.publish("1.1.0")
    # the mirror serves a timestamp whose day has passed (re-signed two days ago, valid for one)
    Repository(rig.repo).snapshot_and_timestamp(None, rig.key("timestamp"),
                                                now=datetime.now(timezone.utc) - timedelta(days=2))
    result = _refused(rig, "metadata_expired")
    assert "frozen or stale repository" in result["words"]
    _untouched(rig)


def test_an_unsynchronised_clock_does_not_judge_expiry_and_says_so(rig):
    rig.publish("1.1.0")
    (rig.work / "timesync" / "synchronized").unlink()
    result = _refused(rig, "clock_not_synchronised")
    assert "cannot be judged" in result["words"]
    _untouched(rig)


def test_a_rotated_root_is_followed_by_a_kiosk_that_pinned_the_old_one(rig):
    from tests.support.update_rig import kiosk_server

    assert kiosk_server("keygen", "--out", rig.keys / "root-2027.key").returncode == 0
    done = kiosk_server("rotate-root", "--repo", rig.repo, "--old-root-key", rig.key("root"),
                        "--new-root-key", rig.keys / "root-2027.key")
    assert done.returncode == 0 and "root version 2" in done.stdout, done.stderr
    rig.publish("1.1.0")
    assert _outcome(rig.update("check"))["outcome"] == "committed"  # pinned root 1 → verified root 2 → 1.1.0
    trusted = json.loads((rig.base / "state" / "tuf" / "metadata" / "root.json").read_text())
    assert trusted["signed"]["version"] == 2
