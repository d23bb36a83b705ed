"""Two stateless server nodes, each a host of its own (a network namespace), behind a real HAProxy in TCP mode on
one PostgreSQL: 50 kiosks sign in and ask for documents in the same second, one node is SIGKILLed in the middle of
the storm, and the kiosks' own retry policy (firmware.operations.fetch_documents: the same transaction id again,
through the balancer, so on the node still there) gets every resident exactly their one document set.  Then the
node comes back and every request is answered again, from either node, with the very same bytes.

TLS passes through the balancer: mTLS ends at the node, and the kiosk id still comes from the verified certificate.
The nodes share nothing but the database; which node served what is read from their logs (ids only).
"""
from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets

import pypdfium2 as pdfium
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import func, select

from certs import wire
from certs.envelope import check_pages, key_id, open_envelope
from firmware.operations import fetch_documents
from firmware.server_client import ServerClient, ServerEndpoint, ServerUnavailable
from server import issuance_log
from server.db import open_database
from server.devinit import issue_kiosk_certificate
from server.models import Issuance, ResultReport, SessionRecord
from server.models_admin import LedgerEntry
from tests.support.lb_hosts import LoadBalancedHosts, available, lb_address
from tests.support.server_process import make_dev_world, write_config_variant
from tests.support.storm import FAMILY_NAME, StormKiosk, enrol_residents, make_storm_kiosks

pytestmark = pytest.mark.slow
KIOSKS = 50
KILL_AFTER = 5  # issuances answered before node 1 is killed: the rest of the storm is in flight or still to come


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    reason = available()
    if reason:
        pytest.skip(reason)
    dev = make_dev_world(tmp_path_factory.mktemp("lb") / "dev", server_ips=(lb_address(),))
    tls = dev / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca-key.pem").read_bytes(), password=None)
    issue_kiosk_certificate(tls, "kiosk-lb-health", ca, ca_key)  # HAProxy's health checks present this one
    return dev, make_storm_kiosks(dev, KIOSKS, prefix="kiosk-lb")


class CountingServer:
    """The kiosk's ServerClient, counting the issuance attempts that found no server (each one is retried)."""

    def __init__(self, client: ServerClient):
        self.client = client
        self.unavailable = 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    async def issue(self, *args, **kwargs):
        try:
            return await self.client.issue(*args, **kwargs)
        except ServerUnavailable:
            self.unavailable += 1
            raise


async def _until_answered(call, attempts: int = 20, pause_s: float = 0.25):
    """A result report as the kiosk's outbox sends it: again until the server answers (same body each time)."""
    for attempt in range(attempts):
        try:
            return await call()
        except ServerUnavailable:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(pause_s)


def _signature(kiosk: StormKiosk, nonce: str) -> bytes:
    key = serialization.load_pem_private_key(kiosk.card["private_key"].encode("ascii"), password=None)
    return key.sign(wire.signin_message(nonce, kiosk.kiosk_id), padding.PKCS1v15(), hashes.SHA256())


def _clients(hosts: LoadBalancedHosts, dev, kiosks: list[StormKiosk]) -> list[CountingServer]:
    tls = dev / "tls"
    return [CountingServer(ServerClient(ServerEndpoint(hosts.url, tls / "ca.pem", tls / f"{k.kiosk_id}.pem",
                                                       tls / f"{k.kiosk_id}-key.pem", timeout_s=30.0)))
            for k in kiosks]


async def _storm(hosts: LoadBalancedHosts, dev, kiosks: list[StormKiosk]) -> list[dict]:
    """Sign-ins and quotes all at once; then the issuances all at once, each followed by its result report, and
    node 1 killed once ``KILL_AFTER`` documents sets are answered."""
    servers = _clients(hosts, dev, kiosks)
    record = [{"kiosk": k} for k in kiosks]
    try:
        async def sign_in(i: int) -> None:
            challenge = await servers[i].challenge()
            signed = await servers[i].signed_in_jpki(challenge.nonce, base64.b64decode(kiosks[i].card["certificate"]),
                                                     _signature(kiosks[i], challenge.nonce))
            quote = await servers[i].quote(signed.session, "residence_record_copy", {}, 1)
            record[i].update(session=signed.session, quote=quote, transaction_id=secrets.token_hex(16))
        await asyncio.gather(*(sign_in(i) for i in range(len(kiosks))))

        answered = asyncio.Event()
        done = 0

        async def issue_and_report(i: int) -> None:
            nonlocal done
            r = record[i]
            r["envelope"] = await fetch_documents(servers[i], r["session"], r["transaction_id"], r["quote"].quote_id,
                                                  r["quote"].total_fee)
            done += 1
            if done >= KILL_AFTER:
                answered.set()
            pages = sum(d["pages"] for d in r["envelope"]["manifest"]["documents"])
            await _until_answered(lambda: servers[i].report_result(r["transaction_id"], "printed", pages,
                                                                   r["quote"].total_fee, 0))

        async def kill_node_1() -> None:
            await answered.wait()
            hosts.kill_node(1)

        await asyncio.gather(kill_node_1(), *(issue_and_report(i) for i in range(len(kiosks))))
        for i, r in enumerate(record):
            r["unavailable"] = servers[i].unavailable
        return record
    finally:
        for server in servers:
            await server.aclose()


async def _again(hosts: LoadBalancedHosts, dev, record: list[dict]) -> list[dict]:
    """Every kiosk asks again for its transaction's documents and reports its result again (both nodes up)."""
    servers = _clients(hosts, dev, [r["kiosk"] for r in record])

    async def one(i: int):
        r = record[i]
        envelope = await servers[i].issue(r["session"], r["transaction_id"], r["quote"].quote_id, r["quote"].total_fee)
        pages = sum(d["pages"] for d in envelope["manifest"]["documents"])
        await servers[i].report_result(r["transaction_id"], "printed", pages, r["quote"].total_fee, 0)
        return envelope
    try:
        return await asyncio.gather(*(one(i) for i in range(len(record))))
    finally:
        for server in servers:
            await server.aclose()


def _page_texts(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def _served(logs: list[str], pattern: str) -> list[dict[str, str]]:
    """For each node's log: id -> what the line names (e.g. txn -> kiosk)."""
    return [dict(re.findall(pattern, text)) for text in logs]


def test_a_node_killed_mid_storm_behind_haproxy_costs_no_resident_a_document_set(world, postgres):
    dev, kiosks = world
    url = postgres.create_database("lb_storm")
    config = write_config_variant(dev, "lb-node", database_url=url)
    trusted = {key_id(k): k for k in [load_pem_public_key((dev / "signing" / "document-pub.pem").read_bytes())]}
    with LoadBalancedHosts(nodes=2) as hosts:
        hosts.start_node(1, dev, config)
        hosts.start_node(2, dev, config)
        enrol_residents(url, kiosks, dev / "jpki" / "ca.pem")
        hosts.start_haproxy(dev)
        assert hosts.wait_state({"n1": "UP", "n2": "UP"}) == {"n1": "UP", "n2": "UP"}

        record = asyncio.run(_storm(hosts, dev, kiosks))
        first_logs = [hosts.nodes[1].log_text(), hosts.nodes[2].log_text()]
        # the balancer's health check took the dead node out
        assert hosts.wait_state({"n1": "DOWN"})["n1"] == "DOWN"
        assert sum(r["unavailable"] for r in record) > 0, "no issuance met the dead node: the kill came too late"

        hosts.start_node(1, dev, config)  # the node comes back on its host
        assert hosts.wait_state({"n1": "UP"})["n1"] == "UP"
        again = asyncio.run(_again(hosts, dev, record))
        later_logs = [hosts.nodes[1].log_text(), hosts.nodes[2].log_text()]
        assert hosts.nodes[2].process.poll() is None and hosts.nodes[1].process.poll() is None

    subjects = {r["session"].subject_ref for r in record}
    assert len(subjects) == KIOSKS
    for r, replay in zip(record, again):
        kiosk, envelope, txn = r["kiosk"], r["envelope"], r["transaction_id"]
        assert replay == envelope, f"{kiosk.kiosk_id}: a second document set for one transaction"
        manifest, documents = open_envelope(envelope, trusted, transaction_id=txn, subject_ref=r["session"].subject_ref)
        assert manifest.kiosk_id == kiosk.kiosk_id and len(documents) == 1
        texts = _page_texts(documents[0].pdf)
        check_pages(manifest, documents[0].entry, texts)  # every page's binding names this resident
        assert kiosk.name in "".join(texts) and "".join(texts).count(FAMILY_NAME) == 1

    sessions = open_database(url)
    try:
        with sessions() as db:
            rows = db.execute(select(Issuance.transaction_id, Issuance.kiosk_id, Issuance.envelope,
                                     SessionRecord.resident_id)
                              .join(SessionRecord, SessionRecord.session_id == Issuance.session_id)).all()
            results = db.scalar(select(func.count()).select_from(ResultReport))
            ledger = db.scalar(select(func.count()).select_from(LedgerEntry))
            verification = issuance_log.verify(db)
    finally:
        sessions.kw["bind"].dispose()
    assert len(rows) == KIOSKS, "the database holds another number of issuances than transactions"
    stored = {row.transaction_id: row for row in rows}
    for r in record:
        row = stored[r["transaction_id"]]
        assert (row.kiosk_id, row.resident_id) == (r["kiosk"].kiosk_id, r["kiosk"].resident_id)
        assert json.loads(row.envelope) == r["envelope"]
    assert results == KIOSKS and ledger == KIOSKS, "a result report was lost"
    assert verification.intact and verification.entries == KIOSKS, verification.problems

    # any request lands on any node: issued by one node, replayed by the other; no transaction issued twice
    every_log = [first_logs[0], later_logs[0], later_logs[1]]  # node 1 before its kill, after its restart; node 2
    issued = [re.findall(r"issued txn=([0-9a-f]{32})", text) for text in every_log]
    every_issue = [txn for per_log in issued for txn in per_log]
    assert len(every_issue) == len(set(every_issue)), "a transaction was issued twice"
    replayed_later = _served(later_logs, r"replayed txn=([0-9a-f]{32})()")
    assert all(replayed_later), "after the restart, one node answered no request"
    signed_in = _served(first_logs, r"signed in session=([0-9a-f]{32}) kiosk=(\S+)")
    issued_on = _served(first_logs, r"issued txn=[0-9a-f]{32} kiosk=\S+ session=([0-9a-f]{32})()")
    crossed = [s for n in (0, 1) for s in issued_on[n] if s in signed_in[1 - n]]
    assert crossed, "no session signed in on one node and was issued on the other"
