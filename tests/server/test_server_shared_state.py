"""All state lives in the database: a second server process on the same database continues any visit.

(The 2024 Takamatsu wrong issuance came from a single-server build deployed on several servers.)
"""
from __future__ import annotations

import ast
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from server.db import open_database, utcnow
from server.errors import ApiError
from server.models import Nonce
from server.signin import _spend_nonce
from tests.support.server_process import jpki_signin_body, load_card, start_server, write_config_variant


@pytest.fixture(scope="module")
def twin(server, dev_dir):
    process = start_server(dev_dir, config=write_config_variant(dev_dir, "twin", database="server.db"))
    yield process
    process.stop()


def test_a_visit_can_hop_between_server_processes(server, twin, dev_dir):
    with server.client() as one, twin.client() as two:
        nonce = one.post("/v1/signin/challenge", json={}).json()["nonce"]
        body = jpki_signin_body(load_card(dev_dir, "resident-a"), nonce)
        session = two.post("/v1/signin", json=body).json()
        assert one.post("/v1/signin", json=body).json()["error"]["code"] == "nonce_reused"
        headers = {"Authorization": f"Bearer {session['session_token']}"}
        quote = one.post("/v1/quotes", headers=headers, json={"certificate": "residence_record_copy",
                                                              "copies": 1}).json()
        request = {"transaction_id": secrets.token_hex(16), "quote_id": quote["quote_id"], "amount_paid": 300}
        first = two.post("/v1/issuances", headers=headers, json=request)
        replay = one.post("/v1/issuances", headers=headers, json=request)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.content == first.content


def test_expired_nonce_is_refused_and_spent(tmp_path):
    sessions = open_database(f"sqlite:///{tmp_path / 'nonces.db'}")
    with sessions() as db:
        db.add(Nonce(nonce="n" * 43, kiosk_id="kiosk-a", expires_at=utcnow() - timedelta(seconds=1), used_at=None))
        db.commit()
        with pytest.raises(ApiError) as expired:
            _spend_nonce(db, "n" * 43, "kiosk-a")
        assert expired.value.code == "nonce_expired"
        with pytest.raises(ApiError) as reused:
            _spend_nonce(db, "n" * 43, "kiosk-a")
        assert reused.value.code == "nonce_reused"


# --- the audit: nothing a second server process needs may live in one process's memory --------------------------

SERVER_DIR = Path(__file__).resolve().parents[2] / "server"
_MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter", "WeakValueDictionary",
                  "WeakKeyDictionary", "WeakSet"}
_MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "clear", "remove",
             "discard", "appendleft", "__setitem__"}
_STATEFUL_PARAMETERS = {"db", "session", "svc", "services", "request", "kiosk_id", "transaction_id", "nonce"}


def _is_mutable(value: ast.expr) -> bool:
    if isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)):
        return True
    if isinstance(value, ast.Call):
        name = value.func.attr if isinstance(value.func, ast.Attribute) else getattr(value.func, "id", "")
        return name in _MUTABLE_CALLS
    return False


def _module_findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(SERVER_DIR.parent)
    findings, containers = [], set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) and node.value is not None else []
        for target in targets:
            if isinstance(target, ast.Name) and _is_mutable(node.value):
                containers.add(target.id)
                if target.id != "__all__" and target.id.lstrip("_") != target.id.lstrip("_").upper():
                    findings.append(f"{where}: module-level container {target.id} is not a named constant")
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            findings.append(f"{where}:{node.lineno}: global {', '.join(node.names)}")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS
                and isinstance(node.func.value, ast.Name) and node.func.value.id in containers):
            findings.append(f"{where}:{node.lineno}: module-level {node.func.value.id} is changed at run time")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            for target in (node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]):
                if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                        and target.value.id in containers):
                    findings.append(f"{where}:{node.lineno}: module-level {target.value.id} is changed at run time")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            cached = any("cache" in ast.unparse(d) for d in node.decorator_list)
            parameters = {a.arg for a in node.args.args + node.args.kwonlyargs}
            if cached and parameters & _STATEFUL_PARAMETERS:
                findings.append(f"{where}:{node.lineno}: {node.name} caches per-request state in memory")
    return findings


def test_no_request_state_in_process_memory():
    """Module-level containers are constant tables, nothing keeps them growing, no ``global`` rebinding, and the
    only in-memory caches are of pure functions of their arguments (a parsed certificate, a loaded font)."""
    files = sorted(SERVER_DIR.rglob("*.py"))
    assert len(files) > 10
    findings = [finding for path in files for finding in _module_findings(path)]
    assert findings == []


def test_the_audit_finds_what_it_looks_for(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "SERVER_DIR", tmp_path)
    (tmp_path / "leaky.py").write_text(
        "import functools\n_seen = {}\nSESSIONS = []\n"
        "def remember(nonce):\n    _seen[nonce] = True\n    SESSIONS.append(nonce)\n"
        "@functools.lru_cache\ndef lookup(db, key):\n    return key\n"
        "def reset():\n    global _seen\n    _seen = {}\n", encoding="utf-8")
    findings = _module_findings(tmp_path / "leaky.py")
    assert len(findings) == 5, findings
