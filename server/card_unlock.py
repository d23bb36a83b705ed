"""Staff unlock of a citizen card locked after three wrong passwords: ``kiosk-server unlock-card``.

Only staff unlock a card, at the counter after checking the holder's identity; the kiosk cannot.  Each unlock
clears the card's wrong-password count and writes an audit row (which card, which member of staff, when, and how
many wrong tries it had) in the same database transaction, so there is no unlock without its audit.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.db import iso, utcnow
from server.enrolment import AdminError, check_staff_id
from server.models import CitizenCard
from server.models_admin import CardUnlock

log = logging.getLogger("server.card_unlock")

CARD_ID = re.compile(r"^[A-Z0-9]{4,16}$")


@dataclass(frozen=True)
class Unlocked:
    card_id: str
    staff_id: str
    unlocked_at: str
    failed_attempts_before: int


def unlock_card(db: Session, card_id: str, staff_id: str) -> Unlocked:
    """Clear the card's wrong-password count and audit it.  Raises AdminError for an unknown card."""
    check_staff_id(staff_id)
    if not CARD_ID.fullmatch(card_id):
        raise AdminError("a card number is 4-16 capital letters or digits")
    before = db.scalar(select(CitizenCard.failed_attempts).where(CitizenCard.card_id == card_id))
    if before is None:
        raise AdminError(f"no citizen card {card_id} is registered")
    now = utcnow()
    db.execute(update(CitizenCard).where(CitizenCard.card_id == card_id).values(failed_attempts=0))
    db.add(CardUnlock(card_id=card_id, staff_id=staff_id, unlocked_at=now, failed_attempts_before=before))
    db.commit()
    log.info("citizen card unlocked card=%s staff=%s wrong_tries_before=%d", card_id, staff_id, before)
    return Unlocked(card_id, staff_id, iso(now), before)

