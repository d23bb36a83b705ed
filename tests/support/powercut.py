"""The power-cut rig: the headless kiosk as its own process, with the real note, coin, hopper and printer drivers
talking to wire emulators that outlive it (in the emulator host process, tests/support/device_host.py), and the
real server — cut (SIGKILL) at a chosen journal commit or after a chosen time, restarted, settled, and then checked
against the emulators' own ledgers.

    world = World(case)                                  # emulators: ID-003 on a pty, ccTalk bus on a pty, ESC/POS
    outcome = run_case(case, server, dev_world, work)    # the counting run: no cut, every commit listed
    outcome = run_case(case, server, dev_world, work, kill_at=7, when="before")
    outcome.unaccounted, outcome.double_paid, outcome.unpaid_pages, outcome.missing_on_server   # all 0

The cut is made by ``tests/support/powercut_site/sitecustomize.py``, which only the kiosk processes started here
load.  A restarted kiosk gets fresh pty pairs (:meth:`hal.pty_peer.PtyPeer.fresh_port`): the emulators keep their
cash box, their coins and their tray.  The invariants (see :class:`Outcome`):

- yen unaccounted = (notes stacked + coins accepted − coins paid out, by the emulators) − (fees earned + fees
  held + refunds owed, by the journal) + (payouts of unknown outcome that a hopper count finds paid);
- double paid = coins paid out beyond the payouts the journal paid or left unconfirmed;
- unpaid pages = A4 sheets the printer cut beyond the pages whose fee the journal holds (printed, or sent with
  their outcome taken by the cut: the fee is then held for the counter); a refund slip is no page;
- missing on server = printed transactions without a result, a ledger row and an issuance-log entry.
"""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hal.notes.id003_emulator import IDLING
from hal.simcontrol import send
from tests.support.kiosk_session import kiosk_config_data
from tests.support.emulators import (
    CcTalkBusEmulator, CoinAcceptorEmulator, HopperEmulator, Id003Emulator, PrinterEmulator,
)
from tests.support.printer_emulator import PrinterScript
from tests.support.server_books import books
from tests.support.server_process import start_server, write_config_variant

REPO = Path(__file__).resolve().parents[2]
SITE = Path(__file__).resolve().parent / "powercut_site"
HOPPERS = {500: (3, 20), 100: (4, 30), 50: (5, 20), 10: (6, 30)}  # coin value: (ccTalk address, coins loaded)
COIN_VALUE = {1: 10, 2: 50, 3: 100, 4: 500}  # the acceptor emulator's coin positions
SETTLED_STATES = ("idle", "out_of_service")
MONEY_FLAGS = ("coin_events_unjournalled", "coin_events_lost", "note_escrow_unresolved",
               "note_in_stacker_at_power_up", "credit_outside_visit")
"""Reconciliation reasons that stand for money in a box that no credit holds (a count finds it)."""


class Died(Exception):
    """The kiosk process is gone (the cut came)."""


# ---- the world: emulators in the host process --------------------------------------------------------------------

class World:
    """The devices' far ends.  They outlive every kiosk process and keep their own ledgers."""

    def __init__(self, printer: PrinterScript | None = None):
        self.notes = Id003Emulator(transient_polls=4).start()
        self.acceptor = CoinAcceptorEmulator(2)
        self.hoppers = {value: HopperEmulator(address, stock=stock) for value, (address, stock) in HOPPERS.items()}
        self.bus = CcTalkBusEmulator(self.acceptor, *self.hoppers.values()).start()
        self.printer = PrinterEmulator(printer or PrinterScript())
        self.printer_address = self.printer.start_tcp()
        self.notes_inserted: list[int] = []

    def fresh_ports(self) -> None:
        """A new kiosk process opens new pty pairs (see hal/pty_peer.py: an 8E1 slave cannot be reopened)."""
        self.notes.fresh_port()
        self.bus.fresh_port()

    def devices(self, cards_dir: str) -> dict:
        host, port = self.printer_address
        return {
            "card_reader": {"driver": "sim", "cards_dir": cards_dir},
            "notes": {"driver": "id003", "port": self.notes.port, "poll_interval": 0.05, "reply_timeout": 0.1,
                      "init_timeout": 3.0},
            "coins": {"driver": "cctalk", "port": self.bus.port, "poll_interval": 0.05},
            "hoppers": {"driver": "cctalk", "port": self.bus.port,
                        "addresses": {str(v): a for v, (a, _) in HOPPERS.items()},
                        "stock": {str(v): s for v, (_, s) in HOPPERS.items()}},
            "printer": {"driver": "escpos", "connection": "network", "host": host, "port": port,
                        "width_dots": 1680, "poll_interval": 0.05},
            "signals": {"driver": "sim"}, "voice": {"driver": "sim"},
        }

    def accepting(self) -> bool:
        """The kiosk has enabled both acceptors: the validator idles (not inhibited), the coin acceptor's master
        inhibit is off.  A note or coin put in before that is refused at the slot, as a real one would be."""
        with self.bus.lock:
            coins = self.acceptor.master_enabled
        return coins and self.notes.status() == IDLING

    def insert_note(self, value: int = 1000) -> None:
        self.notes_inserted.append(value)
        self.notes.insert_note(value)

    def insert_coin(self, value: int) -> None:
        with self.bus.lock:
            self.acceptor.insert_coin(value)

    def close(self) -> None:
        self.notes.close()
        self.bus.close()
        self.printer.stop()

    # the emulators' own books
    def money_in(self) -> int:
        return self.notes.stacked_yen + self.coins_accepted()

    def coins_accepted(self) -> int:
        with self.bus.lock:
            return sum(COIN_VALUE[p] for p in self.acceptor.accepted)

    def coins_paid_out(self) -> int:
        with self.bus.lock:
            for hopper in self.hoppers.values():
                hopper.progress()
            return sum(value * hopper.tray for value, hopper in self.hoppers.items())


# ---- the server ----------------------------------------------------------------------------------------------

class Server:
    """The real reference server with a database of its own, which a case may stop and the rig start again on the
    same port (the kiosk's configuration keeps its URL)."""

    def __init__(self, dev_world: Path, name: str = "powercut"):
        self.dev_world = Path(dev_world)
        self.config = write_config_variant(dev_world, name)
        self.database = self.dev_world / f"{name}.db"
        self.process = start_server(dev_world, config=self.config)
        self.url, self.port = self.process.url, self.process.port

    def up(self) -> bool:
        return self.process.process.poll() is None

    def stop(self) -> None:
        self.process.stop()

    def ensure_up(self) -> None:
        if not self.up():
            self.process = start_server(self.dev_world, config=self.config, args=("--port", str(self.port)))


# ---- the kiosk process ---------------------------------------------------------------------------------------

def _toml(data: dict, prefix: str = "") -> str:
    """Enough TOML for a kiosk configuration: tables of scalars, lists and inline tables of scalars."""
    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(str(k))} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)
    inline = {"stock", "addresses"}
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) or k in inline}
    lines = ([f"[{prefix}]"] if prefix else []) + [f"{json.dumps(k)} = {value(v)}" for k, v in scalars.items()]
    for key, table in data.items():
        if isinstance(table, dict) and key not in inline:
            lines.append(_toml(table, f"{prefix}.{key}" if prefix else key))
    return "\n".join(lines) + "\n"


class Kiosk:
    """One kiosk process (``python -m firmware.cli --headless``) and its control socket."""

    def __init__(self, config: Path, sock: Path, log: Path, kill_at: int | None = None, when: str = "after"):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SITE), str(REPO)]), POWERCUT_LOG=str(log),
                   POWERCUT_KILL_WHEN=when, PYTHONUNBUFFERED="1")
        env.pop("POWERCUT_KILL_AT", None)
        if kill_at:
            env["POWERCUT_KILL_AT"] = str(kill_at)
        self.sock, self.log = sock, log
        self.output = config.parent / f"kiosk-{time.monotonic_ns()}.out"
        with open(self.output, "w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "firmware.cli", "--config", str(config),
                                             "--headless"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def do(self, cmd: str, **args) -> dict:
        if not self.alive():
            raise Died(cmd)
        try:
            reply = send(self.sock, {"cmd": cmd, "args": args}, timeout=5)
        except (OSError, ConnectionError, ValueError):
            if not self.alive() or self.process.wait(1) is not None:
                raise Died(cmd) from None
            raise
        if not reply.get("ok"):
            raise AssertionError(f"{cmd}: {reply}")
        return reply

    def state(self) -> dict | None:
        try:
            return send(self.sock, {"cmd": "state", "args": {}}, timeout=5)
        except (OSError, ConnectionError, ValueError):
            return None

    def wait(self, *states: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise Died(f"waiting for {states}")
            seen = self.state()
            if seen and seen.get("state") in states:
                return seen["state"]
            time.sleep(0.03)
        raise AssertionError(f"the kiosk did not reach {states} in {timeout:g} s (last {self.state()})")

    def until(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if not self.alive():
                raise Died(what)
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached in {timeout:g} s")
            time.sleep(0.02)


# ---- a visit, from the resident's side -----------------------------------------------------------------------

@dataclass
class Visit:
    """What a case's script is handed: the kiosk (its control socket), the world, and the server."""

    kiosk: Kiosk
    world: World
    server: Server

    def to_payment(self, copies: int = 1) -> None:
        k = self.kiosk
        k.wait("idle", timeout=30)
        k.do("place_card", card="resident-a")
        k.wait("pin")
        k.do("enter_pin", pin="1234")
        k.wait("menu")
        k.do("choose", certificate="residence_record_copy")
        k.wait("options")
        k.do("options", copies=copies)
        k.wait("confirm")
        k.do("confirm")
        k.wait("paying")
        k.until(self.world.accepting, what="both acceptors enabled")  # they are enabled after the state is shown

    def collect(self, document: bool = True, change: bool = True) -> None:
        """Lift the card, take what lies there, until the visit ends."""
        k = self.kiosk
        state = k.wait("return_card", "take_items", *SETTLED_STATES, timeout=30)
        if state == "return_card":
            k.do("lift_card")
            state = k.wait("take_items", *SETTLED_STATES, timeout=30)
        deadline = time.monotonic() + 30
        while state == "take_items" and time.monotonic() < deadline:
            # the certificate, then a refund slip that may land after it: take what lies there until it ends
            if document and self.world.printer.document_waiting:
                self.world.printer.take_document()
            if change:
                k.do("take_change")
            try:
                state = k.wait(*SETTLED_STATES, timeout=1)
            except AssertionError:
                state = (k.state() or {}).get("state", "take_items")
        k.wait(*SETTLED_STATES, timeout=30)


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    visit: Callable[[Visit], None]
    printer: Callable[[], PrinterScript] = PrinterScript
    timeouts: dict = field(default_factory=dict)
    world: Callable[[World], None] = lambda world: None  # knobs set before the first start


# ---- one run -------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    case: str
    kill_at: int | None
    when: str
    killed_at: str | None  # the commit the cut came at ("7 record_credit"), None if no cut came
    writes: list[str]  # the commits of the first process, in order ("1 __init__", ...)
    money_in: int
    fees: int
    refunds_owed: int
    unconfirmed: int
    found_paid: int
    unaccounted: int
    double_paid: int
    unpaid_pages: int
    missing_on_server: int
    flagged: list[str]
    flagged_yen: int  # the amounts of the journal's flags for money in a box that no credit holds
    seconds: float
    settled_state: str | None
    notes: str = ""

    @property
    def unflagged(self) -> int:
        """Yen unaccounted that no flag of the journal points a count at."""
        return self.unaccounted - min(max(self.unaccounted, 0), self.flagged_yen)

    @property
    def ok(self) -> bool:
        """Every invariant of issue #9, strictly."""
        return self.unaccounted == 0 and self.unpaid_pages == 0 and self.nothing_lost

    @property
    def nothing_lost(self) -> bool:
        """No yen vanished unflagged, nothing was paid twice, the server knows every printed certificate and the
        kiosk settled."""
        return self.unflagged == 0 and self.double_paid == 0 and self.missing_on_server == 0 and \
            self.settled_state in SETTLED_STATES


def _journal_settled(path: Path) -> bool:
    if not path.exists():
        return False
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        open_txns = db.execute("SELECT count(*) FROM transactions WHERE state != 'closed'").fetchone()[0]
        pending = db.execute("SELECT count(*) FROM results WHERE delivered_at IS NULL").fetchone()[0]
        return open_txns == 0 and pending == 0
    except sqlite3.Error:
        return False
    finally:
        db.close()


def _settle(kiosk: Kiosk, journal: Path, timeout: float) -> str:
    """Wait until the kiosk rests (idle or out of service) with every transaction closed and every result
    delivered.  Raises Died if the process goes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not kiosk.alive():
            raise Died("settling")
        seen = kiosk.state()
        if seen and seen.get("state") in SETTLED_STATES and _journal_settled(journal):
            return seen["state"]
        time.sleep(0.05)
    raise AssertionError(f"the kiosk did not settle in {timeout:g} s (state {kiosk.state()})")


A4_SHEET_ROWS = 1900
"""A cut sheet with at least this many rows is an A4 certificate page (297 mm at 203 dpi is 2374 rows); a refund
slip, receipt-sized, has far fewer and is no page of a certificate."""


def certificate_sheets(printer) -> int:
    return sum(1 for rows in printer.sheet_rows if rows >= A4_SHEET_ROWS)


def run_case(case: Case, server: Server, dev_world: Path, work: Path, *, kill_at: int | None = None,
             when: str = "after", kill_after_s: float | None = None) -> Outcome:
    """Run ``case`` once: cut at commit ``kill_at`` (``when`` "after" or "before" it reaches the disk), or
    ``kill_after_s`` seconds after the kiosk process started, or not at all; restart, settle, check."""
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    world = World(case.printer())
    case.world(world)
    sock = work / "sim.sock"
    journal = work / "kiosk" / "journal.sqlite"
    log = work / "commits.log"

    def write_config() -> Path:
        data = kiosk_config_data(dev_world, work, server.url, devices=world.devices(str(work / "cards")))
        data["kiosk"]["control_socket"] = str(sock)
        data["timeouts"] = dict(case.timeouts)
        path = work / "kiosk.toml"
        path.write_text(_toml(data), encoding="utf-8")
        return path

    first = Kiosk(write_config(), sock, log, kill_at=kill_at, when=when)
    timer = None
    if kill_after_s is not None:
        timer = threading.Timer(kill_after_s, first.kill)
        timer.start()
    visit = Visit(first, world, server)
    notes, state = "", None
    try:
        try:
            case.visit(visit)
            server.ensure_up()  # (a case that stopped it: the server is back before the kiosk settles)
            state = _settle(first, journal, timeout=40)
            first.stop()
        except Died:
            first.kill()
        if timer is not None:
            timer.cancel()
        cut = _cut_line(log)
        if cut is None and kill_after_s is not None and first.process.returncode == -signal.SIGKILL:
            last = _lines(log)[-1] if _lines(log) else "0 start"
            cut = f"{kill_after_s:g} s in, after commit {last}"
        writes = [line.replace(" KILLED-" + when, "") for line in _lines(log)]
        if first.process.returncode == -signal.SIGKILL:
            server.ensure_up()
            world.fresh_ports()
            log_2 = work / "commits-restart.log"
            second = Kiosk(write_config(), sock, log_2)
            try:
                state = _settle(second, journal, timeout=60)
            except (AssertionError, Died) as e:
                notes = f"restart did not settle: {e}"
            finally:
                second.stop()
        return _check(case, world, server, journal, kill_at, when, cut, writes, state, notes,
                      time.monotonic() - started)
    finally:
        if timer is not None:
            timer.cancel()
        first.kill()  # a case that failed (an assertion, not a cut) must not leave its kiosk running
        world.close()


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _cut_line(path: Path) -> str | None:
    return next((line.split(" KILLED")[0] for line in _lines(path) if "KILLED" in line), None)


def _check(case, world: World, server, journal: Path, kill_at, when, cut, writes, state, notes,
           seconds) -> Outcome:
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        def total(kind: str, where: str = "") -> int:
            return db.execute(f"SELECT coalesce(sum(amount), 0) FROM events WHERE kind = ? {where}",
                              (kind,)).fetchone()[0]
        fees = total("fee_earned") + total("reprint_owed")
        owed = total("refund_owed")
        unconfirmed = total("refund_owed", "AND json_extract(detail, '$.reason') = 'payout_outcome_unknown'")
        journal_paid = total("change_paid") + total("refund_paid")
        flags = db.execute("SELECT json_extract(detail, '$.reason'), amount FROM events "
                           "WHERE kind = 'reconciliation_needed' ORDER BY seq").fetchall()
        flagged = [f"{r}:{a}" for r, a in flags]
        flagged_yen = sum(a for r, a in flags if r in MONEY_FLAGS)
        txns = db.execute("SELECT id, fee FROM transactions").fetchall()
        def count(t: str, kind: str) -> int:
            return db.execute("SELECT count(*) FROM events WHERE transaction_id = ? AND kind = ?",
                              (t, kind)).fetchone()[0]

        pages = {t: count(t, "page_printed") for t, _ in txns}
        # a page sent whose outcome the cut took (intent, no printed/failed record): its fee is held, not refunded
        unknown = {t: max(count(t, "page_intent") - pages[t] - count(t, "print_failed"), 0) for t, _ in txns}
        fee_of = {t: db.execute("SELECT coalesce(sum(amount), 0) FROM events WHERE transaction_id = ? AND kind IN "
                                "('fee_earned', 'reprint_owed')", (t,)).fetchone()[0] for t, _ in txns}
        asked = {t for t, _ in txns if db.execute("SELECT 1 FROM events WHERE transaction_id = ? AND "
                                                   "kind = 'issue_requested'", (t,)).fetchone()}
    finally:
        db.close()
    paid_out = world.coins_paid_out()
    money_in = world.notes.stacked_yen + world.coins_accepted() - paid_out
    found_paid = max(0, min(unconfirmed, paid_out - journal_paid))  # what a count of the hoppers finds paid
    unaccounted = money_in - (fees + owed - found_paid)
    double_paid = max(0, paid_out - journal_paid - unconfirmed)
    paid_pages = sum(pages[t] + unknown[t] for t, fee in txns if fee_of[t] >= fee and fee > 0)
    unpaid_pages = max(0, certificate_sheets(world.printer) - paid_pages)
    missing = 0
    for t in asked:
        on_server = books(server.database, t)
        if pages[t] or (certificate_sheets(world.printer) and len(txns) == 1):
            if on_server.result is None or on_server.ledger is None or on_server.log_entries < 1 \
                    or on_server.result[1] != pages[t]:
                missing += 1
    return Outcome(case.name, kill_at, when, cut, writes, money_in, fees, owed, unconfirmed, found_paid,
                   unaccounted, double_paid, unpaid_pages, missing, flagged, flagged_yen, seconds, state, notes)


def visit_writes(writes: list[str]) -> list[int]:
    """The kill points of a counting run: every commit from the transaction's opening on (the start-up's own
    commits — schema, first hopper counts — come before any money and are left out)."""
    numbers = [int(line.split()[0]) for line in writes]
    first = next((int(line.split()[0]) for line in writes if line.split()[1] == "open"), None)
    return [n for n in numbers if first is not None and n >= first]


def random_offsets(seconds: float, count: int, seed: int) -> list[float]:
    """``count`` cut times within a counting run's ``seconds`` (reproducible)."""
    rng = random.Random(seed)
    return sorted(round(rng.uniform(1.0, max(seconds, 1.5)), 2) for _ in range(count))
