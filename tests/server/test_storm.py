"""The 2023 lessons: 50 kiosks sign in and ask for documents in the same second; every document set belongs to the
resident who asked, none overwritten, none duplicated (one server of two processes on SQLite).  Then the same storm
against two server processes sharing one PostgreSQL database (Takamatsu 2024), every kiosk hopping between them:
the nonce comes from one process and the sign-in goes to the other, the issuance goes to one and its retry to the
other.

Each kiosk has its own device certificate (mTLS) and its own synthetic resident (tests/support/storm.py).  Each
phase's requests are held at a barrier and released together.
"""
from __future__ import annotations

import secrets
import threading

import pypdfium2 as pdfium
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from certs.envelope import check_pages, key_id, open_envelope
from server.db import open_database
from server.models import Issuance, SessionRecord
from tests.support.server_process import jpki_signin_body, start_server, write_config_variant
from tests.support.storm import FAMILY_NAME, StormKiosk, enrol_residents, make_storm_kiosks, release_together

pytestmark = pytest.mark.slow
KIOSKS = 50


@pytest.fixture(scope="module")
def kiosks(dev_dir) -> list[StormKiosk]:
    return make_storm_kiosks(dev_dir, KIOSKS)


@pytest.fixture(scope="module")
def trusted(dev_dir):
    key = load_pem_public_key((dev_dir / "signing" / "document-pub.pem").read_bytes())
    return {key_id(key): key}


def page_texts(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def _storm(servers, kiosks: list[StormKiosk]) -> list[dict]:
    """Every kiosk: challenge on one process, sign-in on the other, quote, issuance, retry on the other process.

    Sign-ins are released together, then issuances, then retries.  Returns per kiosk what it sent and received.
    """
    clients = [[server.client(kiosk.kiosk_id, timeout=120.0) for server in servers] for kiosk in kiosks]
    record = [{"kiosk": kiosk} for kiosk in kiosks]

    def here(i: int, step: int):
        return clients[i][(i + step) % len(servers)]

    try:
        def challenge(i):
            record[i]["nonce"] = here(i, 0).post("/v1/signin/challenge", json={}).raise_for_status().json()["nonce"]
        _no_errors(release_together(len(kiosks), challenge))

        def sign_in(i):
            body = jpki_signin_body(kiosks[i].card, record[i]["nonce"], kiosks[i].kiosk_id)
            reply = here(i, 1).post("/v1/signin", json=body)
            assert reply.status_code == 200, reply.text
            session = record[i]["session"] = reply.json()
            headers = record[i]["headers"] = {"Authorization": f"Bearer {session['session_token']}"}
            quote = here(i, 0).post("/v1/quotes", headers=headers,
                                    json={"certificate": "residence_record_copy", "copies": 1})
            assert quote.status_code == 200, quote.text
            record[i]["request"] = {"transaction_id": secrets.token_hex(16), "quote_id": quote.json()["quote_id"],
                                    "amount_paid": quote.json()["total_fee"]}
        _no_errors(release_together(len(kiosks), sign_in))

        def issue(i):
            record[i]["first"] = here(i, 1).post("/v1/issuances", headers=record[i]["headers"],
                                                 json=record[i]["request"])
        _no_errors(release_together(len(kiosks), issue))

        def retry(i):
            record[i]["retry"] = here(i, 0).post("/v1/issuances", headers=record[i]["headers"],
                                                 json=record[i]["request"])
        _no_errors(release_together(len(kiosks), retry))
    finally:
        for pair in clients:
            for client in pair:
                client.close()
    return record


def _no_errors(results: list) -> None:
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]


def _check(record: list[dict], trusted, database_url: str) -> None:
    subjects = {r["session"]["subject_ref"] for r in record}
    assert len(subjects) == len(record), "two kiosks' residents got the same subject"
    document_ids = set()
    for r in record:
        kiosk, first, retry, txn = r["kiosk"], r["first"], r["retry"], r["request"]["transaction_id"]
        assert first.status_code == 201, first.text
        assert retry.status_code == 200 and retry.content == first.content, "the retry got another document set"
        manifest, documents = open_envelope(first.json(), trusted, transaction_id=txn,
                                            subject_ref=r["session"]["subject_ref"])
        assert manifest.kiosk_id == kiosk.kiosk_id and len(documents) == 1
        for document in documents:
            texts = page_texts(document.pdf)
            check_pages(manifest, document.entry, texts)  # every page's binding line names this resident
            whole = "".join(texts)
            assert kiosk.name in whole, f"{kiosk.kiosk_id}: the page does not show its resident"
            assert whole.count(FAMILY_NAME) == 1, f"{kiosk.kiosk_id}: another storm resident is on the page"
            assert document.entry.document_id not in document_ids
            document_ids.add(document.entry.document_id)

    sessions = open_database(database_url)
    try:
        with sessions() as db:
            rows = db.execute(select(Issuance.transaction_id, Issuance.kiosk_id, Issuance.envelope,
                                     SessionRecord.resident_id)
                              .join(SessionRecord, SessionRecord.session_id == Issuance.session_id)
                              .where(Issuance.kiosk_id.like("kiosk-storm-%"))).all()
    finally:
        sessions.kw["bind"].dispose()
    assert len(rows) == len(record), "the database holds another number of issuances than were requested"
    stored = {row.transaction_id: row for row in rows}
    for r in record:
        row = stored[r["request"]["transaction_id"]]
        assert (row.kiosk_id, row.resident_id) == (r["kiosk"].kiosk_id, r["kiosk"].resident_id)
        assert row.envelope == r["first"].content  # nothing overwritten after it was handed out


def test_storm_of_50_kiosks_on_one_server_of_two_processes(dev_dir, kiosks, trusted):
    """SQLite, ``--workers 2``: the processes share the kiosks' connections (server/accept_balance.py) and queue
    their writes on one lock (server/sqlite_writer.py); the twins below are single processes."""
    url = f"sqlite:///{dev_dir / 'storm.db'}"
    server = start_server(dev_dir, config=write_config_variant(dev_dir, "storm", database_url=url),
                          args=("--workers", "2"))
    try:
        enrol_residents(url, kiosks, dev_dir / "jpki" / "ca.pem")
        record = _storm([server], kiosks)
        assert server.process.poll() is None
    finally:
        server.stop()
    _check(record, trusted, url)
    assert "Traceback" not in server.log_text()


def test_storm_on_two_server_processes_sharing_postgresql(dev_dir, kiosks, trusted, postgres):
    url = postgres.create_database("storm")
    config = write_config_variant(dev_dir, "storm-pg", database_url=url)
    started: list = [None, None]

    def start(i: int) -> None:  # both processes create the schema and seed the registry at the same moment
        try:
            started[i] = start_server(dev_dir, config=config)
        except RuntimeError as exc:
            started[i] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    servers = [s for s in started if s is not None and not isinstance(s, Exception)]
    try:
        assert len(servers) == 2, f"a twin did not start: {started}"
        assert servers[0].pid != servers[1].pid
        enrol_residents(url, kiosks, dev_dir / "jpki" / "ca.pem")
        record = _storm(servers, kiosks)
        assert all(s.process.poll() is None for s in servers)
    finally:
        for server in servers:
            server.stop()
    _check(record, trusted, url)
    for server in servers:
        assert "Traceback" not in server.log_text()
