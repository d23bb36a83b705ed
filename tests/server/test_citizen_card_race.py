"""Racing citizen-card sign-ins are answered with the truth about the card (issue #17), on SQLite and PostgreSQL.

Each try is still counted in the database before its password is compared, so racing wrong passwords never get
more than three comparisons; but a try that finds the three tries taken by OTHER tries still being checked waits
for them instead of calling the card locked.
"""
from __future__ import annotations

from sqlalchemy import select

from server.card_unlock import unlock_card
from server.models import CitizenCard
from tests.support.storm import release_together

CARD = {"method": "citizen_card", "card_id": "C0000001"}
RIGHT, WRONG = "2580", "0000"


def _fresh_card(sessions) -> None:
    with sessions() as db:
        unlock_card(db, CARD["card_id"], "S0001")


def _race(server, passwords: list[str]) -> list:
    """One kept-alive connection per try, opened (TLS handshake done) before the tries are released together."""
    clients = [server.client() for _ in passwords]
    try:
        for http in clients:
            assert http.get("/v1/health").status_code == 200
        return release_together(len(passwords),
                                lambda i: clients[i].post("/v1/signin", json={**CARD, "password": passwords[i]}))
    finally:
        for http in clients:
            http.close()


def test_six_simultaneous_right_passwords_all_sign_in(store):
    server, sessions = store
    _fresh_card(sessions)
    replies = _race(server, [RIGHT] * 6)
    assert [r.status_code for r in replies] == [200] * 6, [r.text for r in replies]
    with sessions() as db:
        assert db.scalar(select(CitizenCard.failed_attempts).where(CitizenCard.card_id == CARD["card_id"])) == 0


def test_racing_right_and_wrong_passwords_never_claim_a_lock_that_is_not_there(store):
    server, sessions = store
    _fresh_card(sessions)
    replies = _race(server, [RIGHT, WRONG, RIGHT, WRONG, WRONG, WRONG])
    outcomes = []
    for reply in replies:
        if reply.status_code == 200:
            outcomes.append("signed_in")
            continue
        error = reply.json()["error"]
        outcomes.append(error["code"])
        assert (reply.status_code, error["code"]) in ((401, "wrong_password"), (403, "card_locked")), reply.text
        # a wrong password is told what is left of the card once the racing tries are settled (a right one
        # among them cleared the count: then all three are left)
        assert 0 <= error["detail"]["tries_left"] <= 3
        assert (error["detail"]["tries_left"] == 0) == (error["code"] == "card_locked")
    assert outcomes.count("signed_in") == 2 or "card_locked" in outcomes
    with server.client() as http:
        after = http.post("/v1/signin", json={**CARD, "password": RIGHT})
    # Whoever was told "locked" told the truth: the card still refuses its right password; otherwise it signs in.
    assert after.status_code == (403 if "card_locked" in outcomes else 200), after.text
    _fresh_card(sessions)


def test_a_locked_card_is_answered_at_once_with_tries_left_zero(store):
    server, sessions = store
    _fresh_card(sessions)
    with server.client() as http:
        for _ in range(3):
            http.post("/v1/signin", json={**CARD, "password": WRONG})
        replies = _race(server, [RIGHT] * 3)
    for reply in replies:
        assert reply.status_code == 403 and reply.json()["error"] == {
            "code": "card_locked", "message": reply.json()["error"]["message"], "detail": {"tries_left": 0}}
    _fresh_card(sessions)
