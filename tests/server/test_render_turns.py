"""Issuances that arrive together in one server process take turns at the renderer: no more than
server.services.RENDERS_AT_ONCE documents are drawn at once, and each issuance still gets its own stored envelope.

In process, on purpose: what is counted is how many threads are inside the renderer at once, which only the
process itself can see.  Everything but the counting wrapper is the real code on a real SQLite database.
"""
from __future__ import annotations

import secrets
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from server import issuing
from server.config import load_config
from server.db import utcnow
from server.errors import ApiError
from server.models import Issuance, Resident, SessionRecord
from server.schemas import IssuanceRequest, QuoteRequest
from server.services import RENDERS_AT_ONCE, Services
from tests.support.server_process import write_config_variant

ARRIVING_TOGETHER = 4


def _session_of_an_eligible_resident(svc: Services) -> tuple[str, list[dict]]:
    """A session (and one quote per issuance) for the first registered resident who may have the certificate."""
    with svc.sessions() as db:
        for resident_id in db.scalars(select(Resident.resident_id).order_by(Resident.resident_id)):
            session = SessionRecord(session_id=secrets.token_hex(16), token_hash=secrets.token_hex(32),
                                    resident_id=resident_id, subject_ref=svc.subject_ref(resident_id),
                                    kiosk_id="kiosk-test", expires_at=utcnow() + timedelta(minutes=10))
            db.add(session)
            db.commit()
            try:
                quotes = [issuing.create_quote(svc, db, session, QuoteRequest(certificate="residence_record_copy",
                                                                              copies=1))
                          for _ in range(ARRIVING_TOGETHER)]
            except ApiError:
                continue
            return session.session_id, quotes
    raise AssertionError("no registered resident may have a copy of the residence record")


@pytest.fixture()
def svc(dev_dir):
    services = Services.from_config(load_config(write_config_variant(dev_dir, "render-turns")))
    yield services
    services.sessions.kw["bind"].dispose()  # even when the test failed


def test_issuances_arriving_together_take_turns_at_the_renderer(svc, monkeypatch):
    session_id, quotes = _session_of_an_eligible_resident(svc)
    inside, most, count = 0, 0, threading.Lock()
    render = issuing.build_envelope

    def counted(*args, **kwargs):
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.05)  # long enough for every other request to reach the renderer, were it let in
            return render(*args, **kwargs)
        finally:
            with count:
                inside -= 1

    monkeypatch.setattr(issuing, "build_envelope", counted)
    results: dict[str, tuple[int, bytes]] = {}
    start = threading.Barrier(ARRIVING_TOGETHER)

    def one(quote: dict) -> None:
        txn = secrets.token_hex(16)
        with svc.sessions() as db:
            session = db.get(SessionRecord, session_id)
            start.wait()
            results[txn] = issuing.issue(svc, db, session, "kiosk-test", IssuanceRequest(
                transaction_id=txn, quote_id=quote["quote_id"], amount_paid=quote["total_fee"]))

    threads = [threading.Thread(target=one, args=(q,)) for q in quotes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert most == RENDERS_AT_ONCE, f"{most} documents were drawn at once"
    assert sorted(status for status, _ in results.values()) == [201] * ARRIVING_TOGETHER
    with svc.sessions() as db:
        stored = {i.transaction_id: i.envelope for i in db.scalars(select(Issuance).where(
            Issuance.transaction_id.in_(list(results))))}
    assert stored == {txn: envelope for txn, (_, envelope) in results.items()}
