"""``python -m firmware.self_visit --config kiosk.toml``: the update gate's optional last check (issue #13).

A new release, once it runs and its devices answer, may still be unable to finish a visit (a broken screen flow,
a renderer that fails, a verifier that refuses every document).  If the city enables it, the gate runs one
headless visit with THAT release's code before it commits::

    [updates.self_visit]
    enabled = true
    cards_dir = "/etc/kiosk/self-visit"   # the city's test card (a synthetic resident registered for this)
    card = "test-resident"
    pin = "1234"                          # the test card's PIN (a synthetic card: no resident's secret)
    certificate = "residence_record_copy"

In a test mode: every device is a simulator — the card reader reads the test card, the money is simulated coins
(never the kiosk's cash), and the printer is the null printer (pages are rendered and kept in memory, never
printed) — and the journal is a throw-away one in a temporary folder, so the kiosk's own journal, counters and
cash books are untouched.  The server is the real one, over the kiosk's mTLS (and VPN): the visit signs in,
is quoted, pays, gets its document, verifies it and reports its result like any visit; the city sees it as one
issuance to its test resident.

Passes (exit 0) when the visit reaches "take your items" with every page printed, the journal settles it as
complete with the fee paid and nothing owed, and the result reached the server.  Anything else exits 1 with the
step that failed.  It never takes the kiosk's devices: the kiosk service keeps them while this runs.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
from pathlib import Path

from firmware.config import ConfigError, KioskConfig, load_config

COINS = (500, 100, 50, 10)


class SelfVisitFailed(Exception):
    pass


def self_visit_settings(config: KioskConfig) -> dict:
    table = config.updates.get("self_visit") or {}
    if not isinstance(table, dict) or table.get("enabled") is not True:
        raise ConfigError("[updates.self_visit] is not enabled")
    missing = [k for k in ("cards_dir", "card", "pin") if not isinstance(table.get(k), str) or not table.get(k)]
    if missing:
        raise ConfigError(f"[updates.self_visit] needs {', '.join(missing)}")
    timeout = table.get("timeout_s", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError("[updates.self_visit] timeout_s must be a number of seconds")
    base = config.source.parent if config.source else Path(".")
    return {"cards_dir": base / table["cards_dir"], "card": table["card"], "pin": table["pin"],
            "certificate": str(table.get("certificate", "residence_record_copy")),
            "timeout_s": float(timeout)}


def test_mode_config(config: KioskConfig, settings: dict, data_dir: Path) -> KioskConfig:
    """The kiosk's configuration with simulators for every device, a throw-away data folder, no update hold,
    no telemetry, no control socket and no box health: only the server and its keys are the kiosk's own."""
    devices = {"card_reader": {"driver": "sim", "cards_dir": str(settings["cards_dir"])},
               "notes": {"driver": "sim"}, "coins": {"driver": "sim"},
               "hoppers": {"driver": "sim", "stock": {"500": 20, "100": 20, "50": 20, "10": 20}},
               "printer": {"driver": "sim"}, "signals": {"driver": "sim"}, "voice": {"driver": "sim"}}
    return dataclasses.replace(config, data_dir=data_dir, devices=devices, control_socket=None,
                               updates={"hold_dir": None}, telemetry={"enabled": False}, health={}, network={},
                               language="ja")


async def run_visit(config: KioskConfig, settings: dict) -> dict:
    from firmware.assembly import assemble
    from firmware.headless import all_commands, wait_for_state
    from firmware.visit import ChooseCertificate, Confirm, EnterPin, SetOptions, VisitState

    parts = assemble(config)
    kiosk, journal = parts.kiosk, parts.journal
    commands = all_commands(kiosk)
    timeout = settings["timeout_s"]
    step = "start"
    try:
        await kiosk.start()
        step = "place the test card"
        await commands["place_card"]({"card": settings["card"]})
        await wait_for_state(kiosk, VisitState.PIN, timeout)
        step = "sign in"
        kiosk.send(EnterPin.of(settings["pin"]))
        await wait_for_state(kiosk, VisitState.MENU, timeout)
        step = "choose"
        kiosk.send(ChooseCertificate(settings["certificate"]))
        await wait_for_state(kiosk, VisitState.OPTIONS, timeout)
        step = "options"
        kiosk.send(SetOptions({}, 1))
        await wait_for_state(kiosk, VisitState.CONFIRM, timeout)
        step = "confirm"
        kiosk.send(Confirm())
        await wait_for_state(kiosk, VisitState.PAYING, timeout)
        step = "pay"
        fee = kiosk.view.fee
        while kiosk.view.state is VisitState.PAYING and kiosk.view.paid < fee:
            due = fee - kiosk.view.paid
            await commands["insert_coin"]({"value": next((c for c in COINS if c <= due), COINS[-1])})
            await kiosk.idle()
        step = "issue and print"
        await wait_for_state(kiosk, VisitState.RETURN_CARD, timeout)
        view = kiosk.view
        if view.pages_total < 1 or view.pages_printed != view.pages_total:
            raise SelfVisitFailed(f"{view.pages_printed} of {view.pages_total} pages printed")
        step = "take the card and the document"
        await commands["lift_card"]({})
        await wait_for_state(kiosk, VisitState.TAKE_ITEMS, timeout)
        await commands["take_document"]({})
        await wait_for_state(kiosk, VisitState.IDLE, timeout)
        step = "settle and report"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while journal.open_transactions() or journal.pending_results():
            if loop.time() > deadline:
                raise SelfVisitFailed(f"the visit's result did not reach the server "
                                      f"({len(journal.pending_results())} pending)")
            await asyncio.sleep(0.05)
        kinds = journal.totals()["kinds"]
        owed = kinds.get("refund_owed", {}).get("amount", 0)
        credited = kinds.get("credit", {}).get("amount", 0)
        if owed or credited < fee:
            raise SelfVisitFailed(f"the journal does not balance: {credited} yen credited for a fee of {fee}, "
                                  f"{owed} yen owed")
        return {"fee": fee, "pages": view.pages_total}
    except SelfVisitFailed as exc:
        raise SelfVisitFailed(f"{step}: {exc}") from None
    except Exception as exc:  # a step that did not happen: the state the kiosk was left in says why
        raise SelfVisitFailed(f"{step}: {type(exc).__name__}: {exc} (state {kiosk.view.state.value}, "
                              f"message {kiosk.view.message})") from None
    finally:
        await kiosk.stop()
        await parts.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware.self_visit",
                                     description="One headless test-mode visit with this release's code.")
    parser.add_argument("--config", type=Path, default=Path("/etc/kiosk/kiosk.toml"))
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        settings = self_visit_settings(config)
    except ConfigError as exc:
        print(f"self-visit: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kiosk-self-visit-") as data_dir:
        try:
            done = asyncio.run(run_visit(test_mode_config(config, settings, Path(data_dir)), settings))
        except SelfVisitFailed as exc:
            print(f"self-visit: FAILED at {exc}", file=sys.stderr, flush=True)
            return 1
    print(f"self-visit: passed ({settings['certificate']}, {done['pages']} page(s), fee {done['fee']} yen paid "
          "in simulated coins, result reported)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
