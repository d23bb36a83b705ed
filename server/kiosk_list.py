"""``kiosk-server list-kiosks``: every kiosk the server knows (enrolled, or with a tunnel, or revoked) with its
newest certificate's expiry, its tunnel address and when it was last seen (its last result report)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models_admin import KioskCertificate, KioskReadiness, KioskRecord, KioskTunnel, LedgerEntry


@dataclass(frozen=True)
class KioskRow:
    kiosk_id: str
    certificate_expires: datetime | None
    tunnel_address: str | None
    last_seen: datetime | None
    revoked: bool
    readiness: str = "-"


def rows(db: Session) -> list[KioskRow]:
    expiry = dict(db.execute(select(KioskCertificate.kiosk_id, func.max(KioskCertificate.not_after))
                             .where(KioskCertificate.revoked_at.is_(None)).group_by(KioskCertificate.kiosk_id)).all())
    enrolled = set(db.scalars(select(KioskCertificate.kiosk_id)))
    tunnels = dict(db.execute(select(KioskTunnel.kiosk_id, KioskTunnel.address)).all())
    seen = dict(db.execute(select(LedgerEntry.kiosk_id, func.max(LedgerEntry.recorded_at))
                           .group_by(LedgerEntry.kiosk_id)).all())
    revoked = set(db.scalars(select(KioskRecord.kiosk_id).where(KioskRecord.revoked_at.is_not(None))))
    reports = {r.kiosk_id: r for r in db.scalars(select(KioskReadiness))}
    ids = sorted(enrolled | set(tunnels) | revoked)

    def readiness(kiosk_id: str) -> str:
        row = reports.get(kiosk_id)
        return "-" if row is None else f"{'READY' if row.ready else 'NOT READY'} {row.received_at:%Y-%m-%d %H:%M}"

    return [KioskRow(k, expiry.get(k), tunnels.get(k), seen.get(k), k in revoked, readiness(k)) for k in ids]


def record_readiness(db: Session, kiosk_id: str, ready: bool, report: str) -> dict:
    row = db.get(KioskReadiness, kiosk_id)
    if row is None:
        db.add(KioskReadiness(kiosk_id=kiosk_id, ready=ready, report=report, received_at=utcnow()))
    else:
        row.ready, row.report, row.received_at = ready, report, utcnow()
    db.commit()
    return {"kiosk_id": kiosk_id, "recorded": True}


def render(listing: list[KioskRow]) -> str:
    def when(moment: datetime | None) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"

    lines = ["| kiosk | certificate expires | tunnel address | last seen | state | readiness report |",
             "|---|---|---|---|---|---|"]
    for row in listing:
        lines.append(f"| {row.kiosk_id} | {when(row.certificate_expires)} | {row.tunnel_address or '-'} | "
                     f"{when(row.last_seen)} | {'revoked' if row.revoked else 'active'} | {row.readiness} |")
    return "\n".join(lines) + "\n"
