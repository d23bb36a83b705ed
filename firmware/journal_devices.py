"""What the journal keeps of the cash devices themselves: the coin acceptor's event counter and the hoppers' coins.

Neither device remembers for the kiosk.  A ccTalk acceptor counts its events (1..255, wrapping to 1; 0 after
power-up), and a coin it counted while the kiosk process was down or crashing is in its counter but not in the
journal.  A hopper does not count its coins at all.  So both live here, in the events table with no transaction:

- ``acceptor_counter`` (amount = the counter): the last event the journal holds, written in the same commit as
  the credit it belongs to (:meth:`Journal.record_credit` ``counter=``) or alone for events that move no money.
  At start-up :meth:`~firmware.cashier.Cashier.restore_from_journal` hands it to the acceptor, which reports any
  event beyond it for reconciliation (never as a credit).
- ``hopper_stock`` (amount = coins): a count set by a person or a fact — ``configured`` (the first start ever
  only), ``refill``/``counted`` (maintenance), ``ran_empty`` (the hopper said so).  The coins now are the last
  count less the coins the hopper paid since (the ``paid`` of its change_paid/refund_paid rows); unknown (None)
  if a payout since could not say what it paid, until the next count.
"""
from __future__ import annotations

from dataclasses import dataclass

from firmware import journal_schema as s

STOCK_REASONS = frozenset({"configured", "refill", "counted", "ran_empty"})


@dataclass(frozen=True)
class HopperCount:
    """The coins the journal says a hopper holds (None: unknown until staff count), and the last count's reason."""

    coins: int | None
    reason: str


class CashDeviceRecords:
    """Mixed into :class:`firmware.journal.Journal` (it provides ``_db``, ``_write`` and ``_insert``)."""

    def record_acceptor_counter(self, device: str, counter: int) -> None:
        """The journal holds every event of acceptor ``device`` up to ``counter`` (0..255)."""
        _check_counter(counter)
        with self._write() as cur:
            self._insert(cur, None, "acceptor_counter", counter, device=s.check_id(device, "device"))

    def acceptor_counter(self, device: str) -> int | None:
        """The last event counter journalled for acceptor ``device``; None if it never reported one."""
        row = self._db.execute("SELECT amount FROM events WHERE kind = 'acceptor_counter' AND device = ? "
                               "ORDER BY seq DESC LIMIT 1", (s.check_id(device, "device"),)).fetchone()
        return None if row is None else row[0]

    def record_hopper_stock(self, hopper: str, *, coin_value: int, coins: int, reason: str) -> None:
        """``hopper`` holds ``coins`` coins of ``coin_value`` yen now (``reason``: see :data:`STOCK_REASONS`)."""
        if reason not in STOCK_REASONS:
            raise ValueError(f"a hopper count's reason is one of {sorted(STOCK_REASONS)}")
        with self._write() as cur:
            self._insert(cur, None, "hopper_stock", s.check_amount(coins, "coins"),
                         device=s.check_id(hopper, "hopper"), detail={"coin_value": coin_value, "reason": reason})

    def hopper_stock(self, hopper: str) -> HopperCount | None:
        """What the journal says ``hopper`` holds now; None if it was never counted (its first start)."""
        cur = self._db.cursor()
        last = cur.execute("SELECT seq, amount, json_extract(detail, '$.reason') FROM events "
                           "WHERE kind = 'hopper_stock' AND device = ? ORDER BY seq DESC LIMIT 1",
                           (s.check_id(hopper, "hopper"),)).fetchone()
        if last is None:
            return None
        seq, coins, reason = last
        paid, unknown = cur.execute(
            "SELECT coalesce(sum(json_extract(detail, '$.paid')), 0), "
            "coalesce(sum(json_extract(detail, '$.unknown')), 0) FROM events "
            "WHERE seq > ? AND device = ? AND kind IN ('change_paid', 'refund_paid')", (seq, hopper)).fetchone()
        return HopperCount(None if unknown else max(coins - paid, 0), reason)


def _check_counter(counter: int) -> int:
    if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter <= 255:
        raise ValueError("an acceptor event counter is 0..255")
    return counter
