"""Many kiosks and many residents for the storm tests and the server benchmark (all synthetic).

    kiosks = make_storm_kiosks(dev_dir, 50)          # device certificates from the dev city CA + JPKI cards
    enrol_residents(database_url, kiosks)            # one new resident (own household) per card, in the registry

Every kiosk gets its own mTLS device certificate (CN ``kiosk-storm-NN``) and its own resident with a JPKI card from
the development JPKI CA.  To keep set-up fast the cards share one RSA key pair: the server maps a card by its
certificate's (issuer, serial), which is distinct per card, so every sign-in still names exactly one resident.
Residents are clones of an eligible registry resident with a distinct name (嵐田 NN号) and household, so a page that
shows the wrong person is caught by its text as well as by its binding line.

The registry is seeded by the server at its first start: enrol after the server (or one of the twins) is up.
"""
from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import inspect, select

from server.db import open_database
from server.devinit import _pem_key, issue_kiosk_certificate, jpki_auth_certificate
from server.models import Household, JpkiCard, Resident

FAMILY_NAME = "嵐田"
SERIAL_BASE = 0x5000


@dataclass(frozen=True)
class StormKiosk:
    kiosk_id: str
    card: dict  # like a card file: certificate (base64 DER) and private_key (PEM)
    serial: int
    resident_id: str
    household_id: str

    @property
    def name(self) -> str:
        return f"{FAMILY_NAME} {self.given_name}"

    @property
    def given_name(self) -> str:
        return f"{self.serial - SERIAL_BASE:02d}号"


def _load_ca(directory: Path):
    cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), password=None)
    return cert, key


def make_storm_kiosks(dev_dir: str | Path, count: int, prefix: str = "kiosk-storm") -> list[StormKiosk]:
    dev_dir = Path(dev_dir)
    city_ca, city_key = _load_ca(dev_dir / "tls")
    _jpki_ca, jpki_key = _load_ca(dev_dir / "jpki")
    card_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    card_key_pem = _pem_key(card_key).decode("ascii")
    kiosks = []
    for n in range(1, count + 1):
        kiosk_id = f"{prefix}-{n:02d}"
        if not (dev_dir / "tls" / f"{kiosk_id}.pem").exists():
            issue_kiosk_certificate(dev_dir / "tls", kiosk_id, city_ca, city_key)
        serial = SERIAL_BASE + n
        cert = jpki_auth_certificate(serial, card_key.public_key(), jpki_key)
        card = {"kind": "my_number", "label": f"storm card {n}", "pin": "1234", "tries_left": 3,
                "certificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii"),
                "private_key": card_key_pem}
        kiosks.append(StormKiosk(kiosk_id, card, serial, f"RS{n:04d}", f"HS{n:04d}"))
    return kiosks


def _columns(row) -> dict:
    return {c.key: getattr(row, c.key) for c in inspect(type(row)).mapper.column_attrs}


def enrol_residents(database_url: str, kiosks: list[StormKiosk], jpki_ca: Path) -> None:
    """Add each kiosk's resident (a clone of an eligible adult, in a household of their own) and card mapping."""
    issuer = x509.load_pem_x509_certificate(jpki_ca.read_bytes()).subject.rfc4514_string()
    sessions = open_database(database_url)
    try:
        with sessions() as db:
            template = db.scalars(select(Resident).where(
                Resident.support_measures.is_(False), Resident.moved_out.is_(False), Resident.deceased.is_(False),
                Resident.birth_date < dt.date.today().replace(year=dt.date.today().year - 20))
                .order_by(Resident.resident_id)).first()
            if template is None:
                raise RuntimeError("the registry is not seeded yet: start the server first")
            home = db.get(Household, template.household_id)
            for kiosk in kiosks:
                if db.get(Resident, kiosk.resident_id) is not None:
                    continue
                db.add(Household(**{**_columns(home), "household_id": kiosk.household_id}))
                db.flush()
                db.add(Resident(**{**_columns(template), "resident_id": kiosk.resident_id,
                                   "household_id": kiosk.household_id, "position": 1, "relationship": "世帯主",
                                   "family_name": FAMILY_NAME, "given_name": kiosk.given_name,
                                   "domicile_head": kiosk.name}))
                db.flush()
                db.add(JpkiCard(issuer=issuer, serial_hex=format(kiosk.serial, "x"), resident_id=kiosk.resident_id))
            db.commit()
    finally:
        sessions.kw["bind"].dispose()


def release_together(count: int, call, timeout: float = 120.0) -> list:
    """Run ``call(i)`` for i in range(count) in as many threads, released at one instant by a barrier.

    Returns the results in order; an exception in a call is returned in its place, not swallowed.
    """
    barrier = threading.Barrier(count)

    def run(i: int):
        barrier.wait(timeout)
        return call(i)

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(run, i) for i in range(count)]
        concurrent.futures.wait(futures, timeout)
        return [f.exception() or f.result() if f.done() else TimeoutError("no answer") for f in futures]
