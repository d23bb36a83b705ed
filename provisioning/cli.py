"""``kiosk-provision``: turn a blank Pi into an enrolled kiosk, and look after it afterwards.

    kiosk-provision [--root DIR] [--payload TEXT | --payload-file FILE] [--answers FILE] [--redo STEP] [--no-vpn]
    kiosk-provision status [--root DIR]
    kiosk-provision renew  [--root DIR] [--force]      the device certificate, over mTLS, after 2/3 of its life
    kiosk-provision unpair [--root DIR] [--force]      revoke on the server, then wipe keys, VPN config and queue

Steps: preflight, enrol, vpn, config, install, self-test, then the readiness report (a table, saved to
var/lib/kiosk/provision/readiness-report.txt).  Exit 0 when the kiosk is ready, 1 when it is not, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console

from provisioning import report
from provisioning.certificate import CertificateLife
from provisioning.files import atomic_write, wipe
from provisioning.layout import Layout
from provisioning.state import STEPS, State
from provisioning.steps import Provisioner, StepFailed, checkpoint


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-provision", description="Enrol and configure a certificate kiosk.")
    parser.add_argument("command", nargs="?", default="run", choices=("run", "status", "renew", "unpair"))
    parser.add_argument("--root", type=Path, default=Path("/"), help="install into this directory tree (default /)")
    parser.add_argument("--payload", default=None, help="the enrolment payload text (KEP1.…)")
    parser.add_argument("--payload-file", type=Path, default=None, help="a file holding the payload")
    parser.add_argument("--answers", type=Path, default=None, help="the city's answers (devices, ports, hours)")
    parser.add_argument("--kiosk-id", default=None, help="refuse a payload made for another kiosk")
    parser.add_argument("--redo", choices=[s for s in STEPS if s != "report"], default=None,
                        help="do this step (and the ones after it) again")
    parser.add_argument("--release", type=Path, default=None,
                        help="the first release bundle (kiosk-<version>.tar.gz from kiosk-server updates build)")
    parser.add_argument("--no-vpn", action="store_true", help="no tunnel: the kiosk reaches the server directly")
    parser.add_argument("--no-tunnel-self-test", action="store_true",
                        help="do not bring the tunnel up for the self-test (the server is reached as configured)")
    parser.add_argument("--force", action="store_true", help="renew: even if not due; unpair: wipe even if the "
                                                             "server cannot be told")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    layout = Layout(args.root.resolve())
    console = Console(highlight=False)
    state = State.load(layout.state_file)
    if args.command == "status":
        return status(layout, state, console)
    if args.command == "renew":
        return renew(layout, console, args.force)
    if args.command == "unpair":
        return unpair(layout, console, args.force)
    payload = args.payload
    if args.payload_file is not None:
        payload = args.payload_file.read_text(encoding="ascii")
    if payload is None and not state.done("enrol") and not layout.pending_payload.exists() and sys.stdin.isatty():
        payload = console.input("enrolment payload (type it, or scan the QR code): ")
    if args.redo:
        state.forget(args.redo)
    prov = Provisioner(layout, state, payload, args.answers, args.kiosk_id, with_vpn=not args.no_vpn,
                       tunnel_for_self_test=not args.no_tunnel_self_test, release=args.release)
    try:
        return run(prov, console)
    finally:
        prov.close()


def run(prov: Provisioner, console: Console) -> int:
    outcomes: dict[str, tuple[str, str, float]] = {}
    failed = False
    prov.keep_payload()
    for name, step in prov.steps().items():
        if failed:
            outcomes[name] = ("not run", "an earlier step failed", 0.0)
            continue
        if prov.state.done(name):
            outcomes[name] = ("done", f"done before ({prov.state.result(name).get('done_at', '')})", 0.0)
            console.print(f"[green]✓[/] {name}: done before")
            continue
        started = time.monotonic()
        try:
            with console.status(f"{name} …"):
                result = step()
        except StepFailed as exc:
            outcomes[name] = ("FAILED", str(exc), time.monotonic() - started)
            console.print(f"[red]✗ {name}[/]: {exc}")
            failed = True
            continue
        prov.state.mark(name, **result)
        checkpoint(f"after-{name}")
        elapsed = time.monotonic() - started
        outcomes[name] = ("done", report.summary(name, result), elapsed)
        console.print(f"[green]✓[/] {name} ({elapsed:.1f} s)")
    ready = not failed
    text = report.render(prov, outcomes, ready)
    atomic_write(prov.layout.report_file, text)
    sys.stdout.write(text)
    console.print(f"report saved to {prov.layout.report_file}")
    console.print(_send_report(prov.layout, ready, text))
    if ready:
        prov.state.mark("report", ready=True)
    return 0 if ready else 1


def _send_report(layout: Layout, ready: bool, text: str) -> str:
    """Send the report to the server when the kiosk has a certificate and a config; never fatal."""
    from certs.wire import ProtocolError, ServerRefused
    from provisioning import enrolment

    if not (layout.device_cert.exists() and layout.kiosk_toml.exists()):
        return "report not sent: the kiosk is not enrolled and configured yet"
    try:
        enrolment.send_readiness(_server_url(layout), layout.ca, layout.device_cert, layout.device_key, ready, text)
    except (ServerRefused, ProtocolError, OSError, ValueError, httpx.HTTPError) as exc:
        return f"report not sent to the server ({type(exc).__name__}): the file above is the record"
    return "report sent to the server (kiosk-server list-kiosks shows it)"


def status(layout: Layout, state: State, console: Console) -> int:
    console.print(report.status_table(layout, state))
    if layout.device_cert.exists():
        console.print(CertificateLife.of(layout.device_cert).words())
    return 0 if state.done("report") else 1


def _server_url(layout: Layout) -> str:
    if layout.kiosk_toml.exists():
        from firmware.config import load_config

        return load_config(layout.kiosk_toml).server.url
    return json.loads(layout.enrolment_file.read_text(encoding="utf-8"))["server_url"]


def renew(layout: Layout, console: Console, force: bool) -> int:
    from certs.wire import ProtocolError, ServerRefused
    from provisioning import enrolment

    if not layout.device_cert.exists():
        console.print("this kiosk is not enrolled: run kiosk-provision with an enrolment payload")
        return 1
    life = CertificateLife.of(layout.device_cert)
    if life.expired():
        console.print(life.words())
        return 1
    if not life.due() and not force:
        console.print(f"not due: {life.words()}")
        return 0
    record = json.loads(layout.enrolment_file.read_text(encoding="utf-8"))
    try:
        _, renewed = enrolment.renew(_server_url(layout), layout.ca, layout.device_cert, layout.device_key,
                                     record["kiosk_id"], new_key_pem=layout.device_key.read_bytes())
    except (ServerRefused, ProtocolError, OSError, httpx.HTTPError) as exc:
        console.print(f"renewal failed: {exc} — the current certificate still works until {life.not_after:%Y-%m-%d}; "
                      "try again later")
        return 1
    atomic_write(layout.device_cert, renewed.certificate_pem)  # same key: one file changes, atomically
    record.update(serial=renewed.serial, not_after=renewed.not_after)
    atomic_write(layout.enrolment_file, json.dumps(record, indent=2))
    console.print(f"renewed: {CertificateLife.of(layout.device_cert).words()}")
    return 0


def unpair(layout: Layout, console: Console, force: bool) -> int:
    from certs.wire import ProtocolError, ServerRefused
    from provisioning import enrolment

    owed = _money_still_held(layout.data_dir / "journal.sqlite")
    if owed and not force:
        console.print(f"not unpaired: the kiosk's journal still holds {owed}. Let the kiosk settle and deliver them "
                      "(start it with the server reachable), or take them to the counter first; --force wipes anyway")
        return 1
    if layout.device_cert.exists():
        try:
            enrolment.unpair(_server_url(layout), layout.ca, layout.device_cert, layout.device_key)
            console.print("revoked on the server: its certificates and its tunnel peer are refused from now on")
        except (ServerRefused, ProtocolError, OSError, httpx.HTTPError) as exc:
            if not force:
                console.print(f"the server could not be told ({exc}); nothing was wiped. Run again when it is "
                              "reachable, or --force to wipe anyway (then staff run kiosk-server revoke-kiosk)")
                return 1
            console.print(f"the server could not be told ({exc}): staff must run kiosk-server revoke-kiosk")
    wiped = [p.name for p in layout.secrets() if wipe(p)]
    for path in (layout.device_cert, layout.network_file, layout.enrolment_file, layout.state_file):
        path.unlink(missing_ok=True)
    if layout.data_dir.exists():
        shutil.rmtree(layout.data_dir)  # the journal and its outbox: a revoked kiosk can send nothing more
    console.print(f"unpaired: wiped {', '.join(wiped) or 'no keys (none were left)'}; VPN config, queue and "
                  "state removed")
    return 0


def _money_still_held(journal: Path) -> str:
    """What the journal holds that the city's books do not have yet ('' if nothing): open transactions and results
    not yet acknowledged by the server.  Read-only; a journal that does not exist holds nothing."""
    import sqlite3

    if not journal.exists():
        return ""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        still_open = db.execute("SELECT count(*) FROM transactions WHERE state != 'closed'").fetchone()[0]
        try:
            unsent = db.execute("SELECT count(*) FROM results WHERE delivered_at IS NULL").fetchone()[0]
        except sqlite3.OperationalError:  # a journal from before the result outbox
            unsent = 0
    finally:
        db.close()
    parts = [f"{still_open} open transaction(s)" if still_open else "",
             f"{unsent} result(s) the server has not acknowledged" if unsent else ""]
    return " and ".join(p for p in parts if p)


if __name__ == "__main__":
    sys.exit(main())
