"""``kiosk-server envelope-prune`` on the real server's database (SQLite and PostgreSQL): a settled issuance's PDFs
go, its signed manifest stays, and everything that reads the manifest still works."""
from __future__ import annotations

import base64
import contextlib
import io
import json
import secrets
from datetime import timedelta

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import update

from certs.envelope import Manifest
from server.cli import main as cli
from server.db import utcnow
from server.models import Issuance, ResultReport
from tests.support.server_process import sign_in, write_config_variant
from tests.support.settling import RESIDENCE, issue_one, report


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli(list(argv))
    return code, out.getvalue()


def issue_keeping_the_request(http, dev_dir) -> tuple[str, dict, dict, dict]:
    """(transaction id, session headers, the issuance request, envelope): what a kiosk would replay with."""
    session = sign_in(http, dev_dir, "resident-a")
    headers = {"Authorization": f"Bearer {session['session_token']}"}
    quote = http.post("/v1/quotes", headers=headers, json={"certificate": RESIDENCE, "copies": 1}).json()
    request = {"transaction_id": secrets.token_hex(16), "quote_id": quote["quote_id"], "amount_paid": 300}
    issued = http.post("/v1/issuances", headers=headers, json=request)
    assert issued.status_code == 201, issued.text
    return request["transaction_id"], headers, request, issued.json()


def test_settled_envelopes_keep_their_signed_manifest_and_a_replay_is_told_pruned(store, dev_dir, tmp_path):
    server, sessions = store
    bind = sessions.kw["bind"]
    config = write_config_variant(dev_dir, f"retention-{bind.dialect.name}",
                                  database_url=bind.url.render_as_string(hide_password=False))
    with server.client() as http:
        old, headers, request, old_envelope = issue_keeping_the_request(http, dev_dir)
        assert http.post("/v1/issuances", headers=headers, json=request).json() == old_envelope  # a replay
        recent, _ = issue_one(http, dev_dir)
        unsettled, unsettled_envelope = issue_one(http, dev_dir)
        for txn in (old, recent):
            assert report(http, txn, "printed", pages=1, fee=300).json() == {"settled": True}
        with sessions() as db:  # the old one's result came eight days ago
            db.execute(update(ResultReport).where(ResultReport.transaction_id == old)
                       .values(received_at=utcnow() - timedelta(days=8)))
            db.commit()

        assert run("envelope-prune", "--config", str(config), "--days", "0")[0] == 2  # a clear refusal
        code, out = run("envelope-prune", "--config", str(config), "--days", "7")
        assert code == 0 and out.startswith("1 envelope(s)"), out
        assert run("envelope-prune", "--config", str(config), "--days", "7")[1].startswith("0 envelope(s)")

        with sessions() as db:
            kept = {txn: json.loads(db.get(Issuance, txn).envelope) for txn in (old, recent, unsettled)}
        assert "documents" not in kept[old] and kept[old]["pruned_at"]
        assert {k: kept[old][k] for k in ("manifest", "signature", "key_id")} == \
            {k: old_envelope[k] for k in ("manifest", "signature", "key_id")}
        key = load_pem_public_key((dev_dir / "signing" / "document-pub.pem").read_bytes())
        key.verify(base64.b64decode(kept[old]["signature"]),  # still signed: raises if not
                   Manifest.from_dict(kept[old]["manifest"]).canonical_bytes())
        assert len(kept[recent]["documents"]) == 1  # settled one day ago: whole
        assert kept[unsettled] == unsettled_envelope  # no result yet: never pruned

        # a replay of the pruned transaction is told so, another request with its id is still a conflict,
        # and a resent result report is still acknowledged (it reads the manifest)
        replay = http.post("/v1/issuances", headers=headers, json=request)
        assert replay.status_code == 410 and replay.json()["error"]["code"] == "envelope_pruned", replay.text
        another = http.post("/v1/quotes", headers=headers, json={"certificate": RESIDENCE, "copies": 1}).json()
        other = http.post("/v1/issuances", headers=headers, json={**request, "quote_id": another["quote_id"]})
        assert other.status_code == 409 and other.json()["error"]["code"] == "transaction_conflict"
        assert report(http, old, "printed", pages=1, fee=300).json() == {"settled": True}
    assert run("verify-log", "--config", str(config))[0] == 0, "the issuance log no longer verifies"
