"""The citizen card's lock over the real HTTPS server: three wrong passwords lock it, racing tries never get a
fourth comparison, and only staff unlock it (``kiosk-server unlock-card``), with an audit row in the database."""
from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import io
import secrets
import sqlite3

import pytest

from server.cli import main as cli
from server.registry import CITIZEN_CARD_SEEDS, hash_password

CARD, PASSWORD = "C7770001", "4711"


@pytest.fixture(scope="module")
def card_server(server, dev_dir):
    """The session's server, with a citizen card of this module's own registered at the counter (so that locking
    it touches no other test's card)."""
    salt = secrets.token_bytes(16)
    with contextlib.closing(sqlite3.connect(dev_dir / "server.db")) as db:
        db.execute("INSERT INTO citizen_cards (card_id, resident_id, password_salt, password_hash, failed_attempts) "
                   "VALUES (?, ?, ?, ?, 0)", (CARD, CITIZEN_CARD_SEEDS[0].resident_id, salt,
                                              hash_password(PASSWORD, salt)))
        db.commit()
    return server, dev_dir / "server.toml"


def attempt(server, password: str):
    with server.client() as client:
        return client.post("/v1/signin", json={"method": "citizen_card", "card_id": CARD, "password": password})


def unlock(config, card: str = CARD, staff: str = "staff-0042") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(["unlock-card", "--config", str(config), "--card", card, "--staff", staff])
    return code, out.getvalue(), err.getvalue()


def audit_rows(dev_dir) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(dev_dir / "server.db")) as db:
        return db.execute("SELECT card_id, staff_id, unlocked_at, failed_attempts_before FROM card_unlocks "
                          "WHERE card_id = ? ORDER BY unlock_id", (CARD,)).fetchall()


def failed_attempts(dev_dir) -> int:
    with contextlib.closing(sqlite3.connect(dev_dir / "server.db")) as db:
        return db.execute("SELECT failed_attempts FROM citizen_cards WHERE card_id = ?", (CARD,)).fetchone()[0]


def test_locked_card_opens_only_after_a_staff_unlock_which_is_audited(card_server, dev_dir):
    server, config = card_server
    assert [attempt(server, "0000").json()["error"]["detail"]["tries_left"] for _ in range(2)] == [2, 1]
    third = attempt(server, "0000")
    assert third.status_code == 403 and third.json()["error"] == {
        "code": "card_locked", "message": third.json()["error"]["message"], "detail": {"tries_left": 0}}
    locked = attempt(server, PASSWORD)  # even the right password
    assert locked.status_code == 403 and locked.json()["error"]["code"] == "card_locked"
    before = len(audit_rows(dev_dir))
    code, out, _ = unlock(config)
    assert code == 0 and f"card {CARD} unlocked by staff-0042" in out and "3 wrong tries" in out
    card, staff, when, tries = audit_rows(dev_dir)[before]
    assert (card, staff, tries) == (CARD, "staff-0042", 3)
    assert abs(dt.datetime.fromisoformat(when) - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) < dt.timedelta(minutes=1)
    assert attempt(server, PASSWORD).status_code == 200
    assert failed_attempts(dev_dir) == 0


def test_racing_wrong_passwords_get_three_comparisons_at_most(card_server, dev_dir):
    server, config = card_server
    assert failed_attempts(dev_dir) == 0
    compared_before = server.log_text().count(f"citizen card wrong password card={CARD} ")
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda _n: attempt(server, "1111"), range(10)))
    # Every refusal tells the card's state: tries left while it had some, "locked" (0 left) once it was.
    answers = sorted((r.status_code, r.json()["error"]["code"], r.json()["error"]["detail"]["tries_left"])
                     for r in replies)
    locked = [a for a in answers if a == (403, "card_locked", 0)]
    assert answers == sorted([(401, "wrong_password", 3 - n) for n in range(1, 11 - len(locked))] + locked)
    assert len(locked) >= 8
    # three passwords were compared; the other seven found the card locked and were refused unchecked
    assert server.log_text().count(f"citizen card wrong password card={CARD} ") - compared_before == 3
    assert failed_attempts(dev_dir) == 3
    assert attempt(server, PASSWORD).status_code == 403
    assert unlock(config)[0] == 0
    assert attempt(server, PASSWORD).status_code == 200


def test_unlock_refuses_unknown_cards_and_staff_names_and_audits_nothing(card_server, dev_dir):
    _, config = card_server
    before = audit_rows(dev_dir)
    code, out, err = unlock(config, card="C9999999")
    assert (code, out) == (2, "") and "no citizen card C9999999" in err
    code, _, err = unlock(config, staff="山田 花子")  # staff are named by their id, not by name
    assert code == 2 and "staff id" in err
    assert audit_rows(dev_dir) == before
