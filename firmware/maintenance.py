"""Maintenance mode: what staff do at the kiosk, entered with a staff card and/or the staff PIN, every step audited.

The ``[maintenance]`` table of the kiosk configuration::

    [maintenance]
    staff_pin = "pbkdf2-sha256$200000$<salt hex>$<hash hex>"   # python -m firmware.maintenance hash-pin
    staff_cards = ["S0000001"]        # citizen-card ids that open maintenance mode when placed on an idle kiosk
    max_tries = 3                     # wrong staff PINs before entry is locked for lockout_s
    lockout_s = 300

**Two factors for cash.**  A citizen card's id is easy to clone and a PIN is easy to watch being typed, so neither
alone reaches the money.  One factor — a staff card placed on the idle kiosk, *or* the staff PIN typed after holding
the corner — opens maintenance in its *limited* mode: device status, a test print, taking the kiosk out of service
and back, acknowledging the staff beacon.  The *cash* functions (hopper coins and journal totals, the refunds
owed, recording a hopper refill or count or an emptied cash box, resetting the coin acceptor after lost events,
releasing the kiosk after a cash count) need both:
the staff card and the staff PIN in one maintenance session, in either order: usually the card first (its
session shows a *Cash: staff PIN* button, and :meth:`Maintenance.enter_with_pin` adds the PIN as the second
factor), or the PIN first and then the card placed on the reader (a card is read on a kiosk out of service too).
Leaving ends the session and both factors.  A kiosk with no ``staff_cards`` or no ``staff_pin`` configured has no
cash functions at the kiosk at all.  A cash
function asked for with one factor is refused (:class:`PermissionError`) and audited
(``maintenance.refused`` reason ``second_factor_needed``).

Wrong staff PINs count the same whether they are the first factor or the second: ``max_tries`` of them lock PIN
entry for ``lockout_s`` (audited ``maintenance.refused`` ``wrong_pin`` / ``locked_out``).  The PIN is never stored,
only its salted PBKDF2 hash, and never logged; the PIN pad hands it over as a bytearray it wipes.  While
maintenance mode is open the kiosk sells nothing (it is out of service with reason ``maintenance``); staff can also
keep it out of service after they leave (reason ``staff_hold``) until they put it back in service.

What the cash functions write to the journal (:meth:`firmware.journal.Journal.record_cash_service`) are events in
no transaction carrying a device name, counts and yen: ``cash_box_emptied`` (amount = the yen the journal says went into that box since it was
last emptied; detail count of credits) and ``acceptor_reset`` (detail state before the reset); a hopper refill
or count is the hopper's new count (``hopper_stock``, :mod:`firmware.journal_devices`).  No personal data.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from hal.printer.contract import PageRaster
from firmware.config import ConfigError
from firmware.journal import JST

SCHEME = "pbkdf2-sha256"


def hash_staff_pin(pin: str, salt: bytes | None = None, rounds: int = 200_000) -> str:
    if not (4 <= len(pin) <= 8 and pin.isdigit()):
        raise ValueError("a staff PIN is 4 to 8 digits")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, rounds)
    return f"{SCHEME}${rounds}${salt.hex()}${digest.hex()}"


def _pin_matches(pin: bytes | bytearray, stored: str) -> bool:
    scheme, rounds, salt, digest = stored.split("$")
    candidate = hashlib.pbkdf2_hmac("sha256", pin, bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(candidate.hex(), digest)


@dataclass(frozen=True)
class MaintenanceSettings:
    staff_pin: str | None = None
    staff_cards: frozenset[str] = frozenset()
    max_tries: int = 3
    lockout_s: float = 300.0


def parse_maintenance(table: Mapping[str, Any], source: str = "kiosk.toml") -> MaintenanceSettings:
    unknown = set(table) - {"staff_pin", "staff_cards", "max_tries", "lockout_s"}
    if unknown:
        raise ConfigError(f"{source}: [maintenance] has unknown keys: {', '.join(sorted(unknown))}")
    pin = table.get("staff_pin")
    if pin is not None:
        parts = pin.split("$") if isinstance(pin, str) else []
        if len(parts) != 4 or parts[0] != SCHEME or not parts[1].isdigit():
            raise ConfigError(f"{source}: [maintenance] staff_pin must be a hash made by "
                              f"`python -m firmware.maintenance hash-pin` ({SCHEME}$rounds$salt$hash), "
                              f"never the PIN itself")
    cards = table.get("staff_cards", [])
    if not isinstance(cards, list) or not all(isinstance(c, str) and c for c in cards):
        raise ConfigError(f"{source}: [maintenance] staff_cards must be a list of card ids")
    tries, lockout = table.get("max_tries", 3), table.get("lockout_s", 300)
    if isinstance(tries, bool) or not isinstance(tries, int) or not 1 <= tries <= 10:
        raise ConfigError(f"{source}: [maintenance] max_tries must be a whole number from 1 to 10")
    if isinstance(lockout, bool) or not isinstance(lockout, (int, float)) or not 0 <= lockout <= 86400:
        raise ConfigError(f"{source}: [maintenance] lockout_s must be a number of seconds from 0 to 86400")
    return MaintenanceSettings(pin, frozenset(cards), tries, float(lockout))


CASH_FACTORS = frozenset({"card", "pin"})
"""Both factors: what the cash functions need."""


def _staff_pin_digits(digits: str | bytes | bytearray) -> bytes | bytearray | None:
    """The typed staff PIN as ASCII bytes (the pad's bytearray itself, not a copy), or None if it is not 4-8
    digits.  A ``str`` (tests, the hash-pin command) is encoded, since a ``str`` cannot be wiped anyway."""
    raw = digits.encode("ascii", "replace") if isinstance(digits, str) else digits
    if not isinstance(raw, (bytes, bytearray)) or not 4 <= len(raw) <= 8 or not all(0x30 <= b <= 0x39 for b in raw):
        return None
    return raw


class Maintenance:
    """Staff access to a :class:`firmware.controller.Kiosk`.  Entry works only when no visit is in progress."""

    def __init__(self, kiosk, settings: MaintenanceSettings):
        self.kiosk, self.settings = kiosk, settings
        self.active = False
        self.factors: frozenset[str] = frozenset()  # "card", "pin": what opened this session
        self._wrong = 0
        self._locked_until = 0.0
        kiosk.staff_card_check = self._staff_card

    def _can_enter(self) -> bool:
        return self.kiosk.state.value in ("idle", "out_of_service")

    @property
    def cash_unlocked(self) -> bool:
        """Whether this session may use the cash functions: opened with the staff card, then the staff PIN."""
        return self.active and CASH_FACTORS <= self.factors

    @property
    def wants_pin_for_cash(self) -> bool:
        """Opened with the staff card and a PIN is configured: the PIN would unlock the cash functions."""
        return self.active and self.factors == {"card"} and self.settings.staff_pin is not None

    def enter_with_pin(self, digits: str | bytes | bytearray) -> str:
        """The staff PIN: opens maintenance (limited) or, in a session the staff card opened, adds the second factor
        that unlocks the cash functions.  'ok', 'wrong', 'locked_out', 'not_configured' or 'busy' (a visit is in
        progress).  ``digits``: the pad's bytearray (the caller wipes it); never copied into a ``str`` here."""
        audit, now = self.kiosk.audit, self.kiosk.clock.now()
        if self.settings.staff_pin is None:
            return "not_configured"
        if not self.active and not self._can_enter():
            return "busy"
        if now < self._locked_until:
            audit.emit("maintenance.refused", method="pin", reason="locked_out")
            return "locked_out"
        raw = _staff_pin_digits(digits)
        if raw is None or not _pin_matches(raw, self.settings.staff_pin):
            self._wrong += 1
            if self._wrong >= self.settings.max_tries:
                self._wrong, self._locked_until = 0, now + self.settings.lockout_s
                audit.emit("maintenance.refused", method="pin", reason="locked_out")
                return "locked_out"
            audit.emit("maintenance.refused", method="pin", reason="wrong_pin")
            return "wrong"
        self._wrong = 0
        if self.active:
            if "pin" not in self.factors:
                self.factors = self.factors | {"pin"}
                if self.cash_unlocked:
                    audit.emit("maintenance.cash_unlocked")
        else:
            self._open("pin")
        return "ok"

    def _staff_card(self, card_id: str | None) -> bool:
        if card_id is None or card_id not in self.settings.staff_cards:
            return False
        if not self.active:
            self._open("card")
        elif "card" not in self.factors:  # the PIN opened this session: the card is its second factor
            self.factors = self.factors | {"card"}
            if self.cash_unlocked:
                self.kiosk.audit.emit("maintenance.cash_unlocked")
        return True

    def _open(self, method: str) -> None:
        self.active = True
        self.factors = frozenset({method})
        self.kiosk.audit.emit("maintenance.entered", method=method)
        self.kiosk.hold_service("maintenance")

    def leave(self) -> None:
        """Close maintenance mode; the kiosk sells again unless staff took it out of service."""
        if not self.active:
            return
        self.active, self.factors = False, frozenset()
        self.kiosk.audit.emit("maintenance.left", in_service=not self._keep_out)
        self.kiosk.hold_service("staff_hold" if self._keep_out else None)

    def _require(self) -> None:
        if not self.active:
            raise PermissionError("maintenance mode is not open")

    def _require_cash(self) -> None:
        self._require()
        if not self.cash_unlocked:
            method = "card" if "card" in self.factors else "pin"
            self.kiosk.audit.emit("maintenance.refused", method=method, reason="second_factor_needed")
            raise PermissionError("cash functions need the staff card and the staff PIN")

    # ---- limited: either factor ------------------------------------------------------------------------------

    async def device_status(self) -> dict[str, str]:
        self._require()
        report = {}
        for device in self.kiosk.devices.all():
            try:
                if hasattr(device, "status"):
                    report[device.name] = (await device.status()).describe()
                elif hasattr(device, "state"):
                    report[device.name] = device.state().value
                elif hasattr(device, "door_closed"):
                    report[device.name] = "door closed" if device.door_closed() else "door open"
                else:
                    report[device.name] = "ok"
            except Exception as exc:  # a device that cannot answer is a status too
                report[device.name] = f"error ({type(exc).__name__})"
        self.kiosk.audit.emit("maintenance.status_viewed")
        return report

    async def test_print(self) -> str:
        """Print a small striped test page; returns the printer state afterwards."""
        self._require()
        printer = self.kiosk.devices.printer
        width, height = 576, 96
        row = bytes([0xF0]) * (width // 8)
        blank = bytes(width // 8)
        rows = b"".join(row if (y // 8) % 2 == 0 else blank for y in range(height))
        ok = True
        try:
            await printer.print_page(PageRaster(width, height, 203, rows, label="test-page"))
            await printer.cut()
        except Exception:
            ok = False
        state = (await printer.status()).state.value
        self.kiosk.audit.emit("maintenance.test_print", printed=ok, printer=state)
        return state

    def take_out_of_service(self) -> None:
        self._require()
        self.kiosk.audit.emit("maintenance.service", in_service=False)
        self._keep_out = True

    def put_back_in_service(self) -> None:
        self._require()
        self.kiosk.audit.emit("maintenance.service", in_service=True)
        self._keep_out = False

    _keep_out = False

    @property
    def keeps_out_of_service(self) -> bool:
        return self._keep_out

    def acknowledge_beacon(self) -> bool:
        """Staff have come: the staff beacon goes off.  Returns whether it was on.  (A cause still there, such as a
        card left on the reader, turns it on again at its next reminder.)"""
        self._require()
        signals = self.kiosk.devices.signals
        was_on = bool(signals.beacon())
        self.kiosk.acknowledge_refund_alarm()  # staff have seen the refund owed (listed under refunds_owed)
        signals.set_beacon(False)
        self.kiosk.audit.emit("maintenance.beacon_acknowledged", was_on=was_on)
        return was_on

    # ---- cash: staff card and staff PIN ---------------------------------------------------------------------

    def cash_counts(self) -> dict[str, Any]:
        """Coins in each hopper (estimate) and the journal's all-time totals by event kind."""
        self._require_cash()
        hoppers = {h.coin_value: h.coins_estimate() for h in self.kiosk.devices.hoppers}
        self.kiosk.audit.emit("maintenance.cash_viewed", what="counts")
        return {"hoppers": hoppers, "totals": self.kiosk.journal.totals()}

    def journal_today(self) -> dict:
        self._require_cash()
        self.kiosk.audit.emit("maintenance.cash_viewed", what="today")
        return self.kiosk.journal.day_summary(datetime.now(JST).date())

    def refunds_owed(self, limit: int = 50) -> list[dict]:
        """The refunds the counter owes, newest first: transaction id, when, yen, reason code."""
        self._require_cash()
        self.kiosk.audit.emit("maintenance.cash_viewed", what="refunds_owed")
        return self.kiosk.journal.refunds_owed(limit)

    def refill_hopper(self, coin_value: int, added: int) -> int:
        """Staff put ``added`` coins into the hopper of ``coin_value`` yen: journalled as its new count
        (``hopper_stock`` reason ``refill``: the kiosk rebuilds its coins from the journal at every start) and
        audited.  Returns the coins it holds now.  A hopper whose count is unknown must be counted first
        (:meth:`count_hopper`)."""
        self._require_cash()
        hopper = self._hopper(coin_value)
        if isinstance(added, bool) or not isinstance(added, int) or not 0 < added <= 10_000:
            raise ValueError("a refill adds a whole number of coins from 1 to 10000")
        now = hopper.coins_estimate()
        if now is None:
            raise ValueError(f"the {coin_value} yen hopper's coins are unknown: count them, do not add to a guess")
        self.kiosk.cashier.record_hopper_count(hopper, now + added, reason="refill")
        self.kiosk.audit.emit("maintenance.hopper", coin_value=coin_value, coins=now + added, reason="refill")
        return now + added

    def count_hopper(self, coin_value: int, coins: int) -> None:
        """Staff counted the coins in the hopper of ``coin_value`` yen (after a payout of unknown outcome, this is
        the count that resolves it): journalled as its count."""
        self._require_cash()
        hopper = self._hopper(coin_value)
        self.kiosk.cashier.record_hopper_count(hopper, coins, reason="counted")
        self.kiosk.audit.emit("maintenance.hopper", coin_value=coin_value, coins=coins, reason="counted")

    def cash_reconciled(self) -> bool:
        """Staff counted the cash after a device could not say what it took or paid: the kiosk may take money
        again (False, and it stays out of service, while a hopper's count is still unknown)."""
        self._require_cash()
        if any(h.coins_estimate() is None for h in self.kiosk.devices.hoppers):
            return False
        self.kiosk.cashier.unknown_state = False
        self.kiosk.audit.emit("maintenance.cash_reconciled")
        return True

    def cash_box_emptied(self, device: str) -> int:
        """Staff emptied the cash box of acceptor ``device`` (the note validator's or the coin acceptor's name):
        journalled (``cash_box_emptied``) with the yen the journal says went into it since it was last emptied,
        which is returned for staff to compare with their count."""
        self._require_cash()
        acceptors = {d.name: d for d in (self.kiosk.devices.notes, self.kiosk.devices.coins) if d is not None}
        if device not in acceptors:
            raise ValueError(f"no cash box on {device!r} (acceptors: {', '.join(sorted(acceptors))})")
        expected, credits = self.kiosk.journal.cash_box_contents(device)
        self.kiosk.journal.record_cash_service("cash_box_emptied", device=device, amount=expected,
                                               detail={"count": credits})
        self.kiosk.audit.emit("maintenance.cash_box_emptied", device=device, amount=expected)
        return expected

    async def reset_acceptor(self) -> str:
        """After lost coin events (or a jam) and a count: reset the coin acceptor, which comes back inhibited and in
        service.  Journalled (``acceptor_reset``) and audited.  Returns its state afterwards."""
        self._require_cash()
        coins = self.kiosk.devices.coins
        if not hasattr(coins, "reset"):
            raise ValueError(f"{coins.name} cannot be reset from the kiosk")
        before = coins.state().value
        await coins.reset()
        after = coins.state().value
        self.kiosk.journal.record_cash_service("acceptor_reset", device=coins.name, detail={"state": before})
        self.kiosk.audit.emit("maintenance.acceptor_reset", device=coins.name, state=after)
        self.kiosk.hold_service(self.kiosk.held_by_staff)  # the kiosk checks its devices again at the next tick
        return after

    def _hopper(self, coin_value: int):
        hopper = self.kiosk.devices.hopper(coin_value)
        if hopper is None:
            raise ValueError(f"this kiosk has no {coin_value} yen hopper")
        return hopper


def main(argv: list[str] | None = None) -> int:
    import getpass

    argv = sys.argv[1:] if argv is None else argv
    if argv != ["hash-pin"]:
        print("usage: python -m firmware.maintenance hash-pin   (asks for the PIN; prints the line for "
              "[maintenance] staff_pin)", file=sys.stderr)
        return 2
    pin = getpass.getpass("staff PIN (4-8 digits): ")
    try:
        print(f'staff_pin = "{hash_staff_pin(pin)}"')
    except ValueError as exc:
        print(f"firmware.maintenance: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
