"""What the endpoints work with, built once from the configuration: database, JPKI verifier, keys, city rules.

Nothing here holds request state: nonces, sessions, quotes and issuances live in the database only.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy.orm import Session, sessionmaker

from server.config import ServerConfig
from server.db import open_database
from server.jpki import JpkiVerifier
from server.registry import seed, subject_ref

_JST = timezone(timedelta(hours=9), "JST")

# Documents this process renders at once.  Rendering is pure Python: two threads only take turns at the GIL, and
# every thread that wants the GIL back (the one holding the database's writer lock, the event loop) waits behind
# all of them.  A write that takes 0.6 ms alone held the writer lock 147 ms beside eight busy threads and 6.5 ms
# beside one (tests/bench/bench_gil_convoy.py); one renderer at a time keeps that wait short, and the requests
# queue for it in arrival order instead of sharing the processor.  README, "Figures", has the server's figures.
RENDERS_AT_ONCE = 1


@dataclass
class Services:
    config: ServerConfig
    sessions: sessionmaker[Session]
    jpki: JpkiVerifier
    signing_key: Ed25519PrivateKey
    subject_secret: bytes
    next_nonce_purge: float = 0.0  # monotonic time of this process's next purge of old nonces (server.signin)
    render_turn: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(RENDERS_AT_ONCE))

    @classmethod
    def from_config(cls, config: ServerConfig) -> "Services":
        key = load_pem_private_key(config.document_key.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the document-signing key must be Ed25519")
        secret = bytes.fromhex(config.subject_ref_key.read_text(encoding="ascii").strip())
        if len(secret) < 16:
            raise ValueError("the subject_ref key is too short")
        sessions = open_database(config.database_url)
        with sessions() as db:
            seed(db, config.registry.seed, config.registry.generated_households)
        return cls(config, sessions, JpkiVerifier(config.jpki_ca, config.jpki_crl), key, secret)

    def subject_ref(self, resident_id: str) -> str:
        return subject_ref(self.subject_secret, resident_id)

    def now(self) -> datetime:
        """Now in Japan (UTC+9), aware; a development server's ``[dev].now`` fixes it (tests, demos)."""
        fixed = self.config.dev_now
        return (fixed or datetime.now(timezone.utc)).astimezone(_JST)

    def today(self) -> date:
        """Today in Japan (UTC+9): certificates are dated and ages counted on the local calendar."""
        return self.now().date()

