"""One read of a resident's household for one request: the resident, their household, every member and the
members' foreign-resident items, in one query.

Eligibility (the members' 支援措置 and 転出), the 住民票's persons and the page's address all come from the
household.  Before, each of them asked the database again: the household was read three times per issuance.
:func:`load_household` reads it once and keeps it in the request's ``Session.info``; :func:`members` and
:func:`foreign_items` answer from there (and read the database themselves when nothing was loaded, as before).
The copy lives as long as the session's transaction: a commit or rollback drops it, so nothing is served stale.
"""
from __future__ import annotations

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from server.models import Household, Resident
from server.models_registry import ForeignResidentItems

_KEY = "household"


_HOUSEHOLD_OF = (  # built once: constructing a statement costs more CPU than SQLite takes to run it
    select(Resident, Household, ForeignResidentItems)
    .join(Household, Household.household_id == Resident.household_id)
    .outerjoin(ForeignResidentItems, ForeignResidentItems.resident_id == Resident.resident_id)
    .where(Resident.household_id == select(Resident.household_id)
           .where(Resident.resident_id == bindparam("resident_id")).scalar_subquery())
    .order_by(Resident.position))


def load_household(db: Session, resident_id: str) -> Resident | None:
    """The resident (None if not registered), with their household read into this session in one query."""
    rows = db.execute(_HOUSEHOLD_OF, {"resident_id": resident_id}).all()
    if not rows:
        return None
    # the session's identity map holds objects weakly: the household row is kept here so that db.get finds it
    db.info[_KEY] = (rows[0][0].household_id, [row[0] for row in rows],
                     {row[0].resident_id: row[2] for row in rows}, rows[0][1])
    return db.get(Resident, resident_id)  # from the session's identity map: no second query


def _loaded(db: Session, household_id: str):
    cached = db.info.get(_KEY)
    return cached if cached is not None and cached[0] == household_id else None


def members(db: Session, resident: Resident) -> list[Resident]:
    """Everyone in the resident's household, head first."""
    cached = _loaded(db, resident.household_id)
    if cached is not None:
        return list(cached[1])
    return list(db.scalars(select(Resident).where(Resident.household_id == resident.household_id)
                           .order_by(Resident.position)))


def foreign_items(db: Session, member: Resident) -> ForeignResidentItems | None:
    cached = _loaded(db, member.household_id)
    if cached is not None and member.resident_id in cached[2]:
        return cached[2][member.resident_id]
    return db.get(ForeignResidentItems, member.resident_id)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(db: Session) -> None:
    db.info.pop(_KEY, None)
