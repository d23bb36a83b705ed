"""``kiosk-server list-kiosks``: every kiosk the server knows (enrolled, or with a tunnel, or revoked) with its
newest certificate's expiry, its tunnel address and when it was last seen (its last result report)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models_admin import KioskCertificate, KioskRecord, KioskTunnel, LedgerEntry


@dataclass(frozen=True)
class KioskRow:
    kiosk_id: str
    certificate_expires: datetime | None
    tunnel_address: str | None
    last_seen: datetime | None
    revoked: bool


def rows(db: Session) -> list[KioskRow]:
    expiry = dict(db.execute(select(KioskCertificate.kiosk_id, func.max(KioskCertificate.not_after))
                             .where(KioskCertificate.revoked_at.is_(None)).group_by(KioskCertificate.kiosk_id)).all())
    enrolled = set(db.scalars(select(KioskCertificate.kiosk_id)))
    tunnels = dict(db.execute(select(KioskTunnel.kiosk_id, KioskTunnel.address)).all())
    seen = dict(db.execute(select(LedgerEntry.kiosk_id, func.max(LedgerEntry.recorded_at))
                           .group_by(LedgerEntry.kiosk_id)).all())
    revoked = set(db.scalars(select(KioskRecord.kiosk_id).where(KioskRecord.revoked_at.is_not(None))))
    ids = sorted(enrolled | set(tunnels) | revoked)
    return [KioskRow(k, expiry.get(k), tunnels.get(k), seen.get(k), k in revoked) for k in ids]


def render(listing: list[KioskRow]) -> str:
    def when(moment: datetime | None) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"

    lines = ["| kiosk | certificate expires | tunnel address | last seen | state |", "|---|---|---|---|---|"]
    for row in listing:
        lines.append(f"| {row.kiosk_id} | {when(row.certificate_expires)} | {row.tunnel_address or '-'} | "
                     f"{when(row.last_seen)} | {'revoked' if row.revoked else 'active'} |")
    return "\n".join(lines) + "\n"
