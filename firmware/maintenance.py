"""Maintenance mode: what staff do at the kiosk, entered with a staff PIN or a staff card, every step audited.

The ``[maintenance]`` table of the kiosk configuration::

    [maintenance]
    staff_pin = "pbkdf2-sha256$200000$<salt hex>$<hash hex>"   # python -m firmware.maintenance hash-pin
    staff_cards = ["S0000001"]        # citizen-card ids that open maintenance mode when placed on an idle kiosk
    max_tries = 3                     # wrong staff PINs before entry is locked for lockout_s
    lockout_s = 300

The PIN is never stored, only its salted PBKDF2 hash, and never logged.  While maintenance mode is open the kiosk
sells nothing (it is out of service with reason ``maintenance``); staff can also keep it out of service after
they leave (reason ``staff_hold``) until they put it back in service.
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


def _pin_matches(pin: str, stored: str) -> bool:
    scheme, rounds, salt, digest = stored.split("$")
    candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(rounds))
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


class Maintenance:
    """Staff access to a :class:`firmware.controller.Kiosk`.  Entry works only when no visit is in progress."""

    def __init__(self, kiosk, settings: MaintenanceSettings):
        self.kiosk, self.settings = kiosk, settings
        self.active = False
        self._wrong = 0
        self._locked_until = 0.0
        kiosk.staff_card_check = self._staff_card

    def _can_enter(self) -> bool:
        return self.kiosk.state.value in ("idle", "out_of_service")

    def enter_with_pin(self, digits: str) -> str:
        """'ok', 'wrong', 'locked_out', 'not_configured' or 'busy' (a visit is in progress)."""
        audit, now = self.kiosk.audit, self.kiosk.clock.now()
        if self.settings.staff_pin is None:
            return "not_configured"
        if not self._can_enter():
            return "busy"
        if now < self._locked_until:
            audit.emit("maintenance.refused", method="pin", reason="locked_out")
            return "locked_out"
        if not _pin_matches(digits, self.settings.staff_pin):
            self._wrong += 1
            if self._wrong >= self.settings.max_tries:
                self._wrong, self._locked_until = 0, now + self.settings.lockout_s
                audit.emit("maintenance.refused", method="pin", reason="locked_out")
                return "locked_out"
            audit.emit("maintenance.refused", method="pin", reason="wrong_pin")
            return "wrong"
        self._wrong = 0
        self._open("pin")
        return "ok"

    def _staff_card(self, card_id: str | None) -> bool:
        if card_id is None or card_id not in self.settings.staff_cards:
            return False
        self._open("card")
        return True

    def _open(self, method: str) -> None:
        self.active = True
        self.kiosk.audit.emit("maintenance.entered", method=method)
        self.kiosk.hold_service("maintenance")

    def leave(self) -> None:
        """Close maintenance mode; the kiosk sells again unless staff took it out of service."""
        if not self.active:
            return
        self.active = False
        self.kiosk.audit.emit("maintenance.left", in_service=not self._keep_out)
        self.kiosk.hold_service("staff_hold" if self._keep_out else None)

    def _require(self) -> None:
        if not self.active:
            raise PermissionError("maintenance mode is not open")

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
        return report

    def cash_counts(self) -> dict[str, Any]:
        """Coins in each hopper (estimate) and the journal's all-time totals by event kind."""
        self._require()
        hoppers = {h.coin_value: h.coins_estimate() for h in self.kiosk.devices.hoppers}
        return {"hoppers": hoppers, "totals": self.kiosk.journal.totals()}

    def refill_hopper(self, coin_value: int, added: int) -> int:
        """Staff put ``added`` coins into the hopper of ``coin_value`` yen: journalled as its new count (the kiosk
        rebuilds its coins from the journal at every start).  Returns the coins it holds now.  A hopper whose count
        is unknown must be counted first (:meth:`count_hopper`)."""
        self._require()
        hopper = self._hopper(coin_value)
        if isinstance(added, bool) or not isinstance(added, int) or added <= 0:
            raise ValueError("a refill adds a whole number of coins > 0")
        now = hopper.coins_estimate()
        if now is None:
            raise ValueError(f"the {coin_value} yen hopper's coins are unknown: count them, do not add to a guess")
        self.kiosk.cashier.record_hopper_count(hopper, now + added, reason="refill")
        self.kiosk.audit.emit("maintenance.hopper", coin_value=coin_value, coins=now + added, reason="refill")
        return now + added

    def count_hopper(self, coin_value: int, coins: int) -> None:
        """Staff counted the coins in the hopper of ``coin_value`` yen (after a payout of unknown outcome, this is
        the count that resolves it): journalled as its count."""
        self._require()
        hopper = self._hopper(coin_value)
        self.kiosk.cashier.record_hopper_count(hopper, coins, reason="counted")
        self.kiosk.audit.emit("maintenance.hopper", coin_value=coin_value, coins=coins, reason="counted")

    def cash_reconciled(self) -> bool:
        """Staff counted the cash after a device could not say what it took or paid: the kiosk may take money
        again (False, and it stays out of service, while a hopper's count is still unknown)."""
        self._require()
        if any(h.coins_estimate() is None for h in self.kiosk.devices.hoppers):
            return False
        self.kiosk.cashier.unknown_state = False
        self.kiosk.audit.emit("maintenance.cash_reconciled")
        return True

    def _hopper(self, coin_value: int):
        hopper = self.kiosk.devices.hopper(coin_value)
        if hopper is None:
            raise ValueError(f"this kiosk has no {coin_value} yen hopper")
        return hopper

    def journal_today(self) -> dict:
        self._require()
        return self.kiosk.journal.day_summary(datetime.now(JST).date())

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
