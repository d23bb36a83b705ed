"""Staff and audit commands of ``kiosk-server``: they work on the database named in the configuration.

    kiosk-server enrol-token  --config C --kiosk-id K --staff S [--valid-minutes N] [--url U] [--png FILE]
                              prints the enrolment payload once: text on stdout, a QR code on stderr
    kiosk-server vpn-config   --config C --output FILE        the server's `wg setconf` file, one peer per kiosk
    kiosk-server list-kiosks  --config C                      id, certificate expiry, tunnel address, last seen
    kiosk-server revoke-kiosk --config C --kiosk-id K --staff S --reason R
    kiosk-server unlock-card  --config C --card CARD --staff S
    kiosk-server verify-log   --config C                      exit 1 if the issuance log was tampered with
    kiosk-server ledger       --config C [--kiosk K] [--from DAY] [--to DAY] [--format md|csv]
    kiosk-server report       --config C [--fiscal-year Y] [--format md|csv] [--output FILE]
    kiosk-server refunds      --config C [--kiosk K] [--open|--all] [--format md|csv]
    kiosk-server refund-paid  --config C (--txn T | --reference R | --slip CODE) --staff S     once per refund

A refusal prints ``kiosk-server <command>: <why>`` on stderr and exits 2; nothing is changed then.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

COMMANDS = ("enrol-token", "vpn-config", "list-kiosks", "revoke-kiosk", "unlock-card", "verify-log", "ledger", "report", "refunds", "refund-paid")


def add_commands(commands) -> None:
    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--config", required=True, type=Path)
        return parser

    token = command("enrol-token", "make a one-time enrolment token for one kiosk (printed once)")
    token.add_argument("--kiosk-id", required=True)
    token.add_argument("--staff", required=True, help="the staff id of whoever makes the token (audited)")
    token.add_argument("--valid-minutes", type=int, default=24 * 60)
    token.add_argument("--url", default=None, help="the server URL kiosks enrol at (default: https://HOST:PORT)")
    token.add_argument("--png", type=Path, default=None, help="also write the QR code as a PNG image")
    token.add_argument("--no-qr", action="store_true", help="print the text only")
    wg = command("vpn-config", "write the server's WireGuard config (wg setconf) with every active kiosk as a peer")
    wg.add_argument("--output", "-o", type=Path, required=True)
    command("list-kiosks", "enrolled kiosks: id, certificate expiry, tunnel address, last seen")
    revoke = command("revoke-kiosk", "refuse a kiosk's certificates from now on and withdraw its tokens")
    revoke.add_argument("--kiosk-id", required=True)
    revoke.add_argument("--staff", required=True)
    revoke.add_argument("--reason", required=True)
    unlock = command("unlock-card", "unlock a citizen card locked after three wrong passwords (audited)")
    unlock.add_argument("--card", required=True, help="the card number")
    unlock.add_argument("--staff", required=True)
    command("verify-log", "check the hash chain of the issuance log; exit 1 if it was tampered with")
    ledger = command("ledger", "each kiosk's fees earned and refunds owed, per day")
    ledger.add_argument("--kiosk", default=None)
    ledger.add_argument("--from", dest="start", type=date.fromisoformat, default=None, help="YYYY-MM-DD (JST)")
    ledger.add_argument("--to", dest="end", type=date.fromisoformat, default=None, help="YYYY-MM-DD (JST)")
    ledger.add_argument("--format", choices=("md", "csv"), default="md")
    report = command("report", "issuances by certificate type and fiscal year, per terminal, and fees")
    report.add_argument("--fiscal-year", type=int, default=None, help="e.g. 2024 for April 2024 to March 2025")
    report.add_argument("--format", choices=("md", "csv"), default="md")
    report.add_argument("--output", "-o", type=Path, default=None)
    owed = command("refunds", "refunds owed to residents (refund slips), open ones unless --all")
    owed.add_argument("--kiosk", default=None)
    which = owed.add_mutually_exclusive_group()
    which.add_argument("--open", dest="all", action="store_false", help="only those not yet paid (the default)")
    which.add_argument("--all", dest="all", action="store_true", help="those paid too, with who paid them")
    owed.add_argument("--format", choices=("md", "csv"), default="md")
    owed.set_defaults(all=False)
    paid = command("refund-paid", "record that the counter paid a refund (once; audited)")
    one = paid.add_mutually_exclusive_group(required=True)
    one.add_argument("--txn", help="the transaction id (32 hex digits)")
    one.add_argument("--reference", help="the slip's reference, e.g. K7QM-4TXA-9PRC")
    one.add_argument("--slip", help="the slip's QR text (KRS1.…), verified first; pays a refund not in the books yet")
    paid.add_argument("--staff", required=True, help="the staff id of whoever paid it (audited)")


def _config(args: argparse.Namespace):
    from server.config import load_config

    return load_config(args.config)


def _open(config_path: Path):
    from server.config import load_config
    from server.db import open_database

    return open_database(load_config(config_path).database_url)


def _verified_slip(args: argparse.Namespace, db):
    """The fields of ``--slip`` if it is genuine and payable; AdminError with the verdict otherwise."""
    from cryptography import x509

    from server.config import load_config
    from server.enrolment import AdminError
    from server.refund_verify import verify_slip

    device_ca = x509.load_pem_x509_certificate(load_config(args.config).client_ca.read_bytes())
    verdict = verify_slip(db, args.slip, device_ca)
    if not verdict.payable:
        raise AdminError("the slip is not payable:\n" + "\n".join(verdict.lines()))
    return verdict.fields


def run(args: argparse.Namespace) -> int:
    from server.config import ConfigError
    from server.enrolment import AdminError

    try:
        sessions = _open(args.config)
        with sessions() as db:
            return _dispatch(args, db)
    except (ConfigError, AdminError) as exc:
        print(f"kiosk-server {args.command}: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, db) -> int:
    from server import card_unlock, enrolment, issuance_log, ledger, refunds, statistics
    from server.enrolment import AdminError

    if args.command == "enrol-token":
        from server import enrol_payload

        text = enrol_payload.make(db, _config(args), args.kiosk_id, args.staff, args.valid_minutes, args.url)
        print(f"enrolment payload for {args.kiosk_id} (one use, valid {args.valid_minutes} min); shown only now. "
              "Type it or scan it into `kiosk-provision`:", file=sys.stderr)
        if not args.no_qr:
            enrol_payload.print_qr(text, sys.stderr)
        if args.png is not None:
            enrol_payload.write_png(text, args.png)
        print(text)
        return 0
    if args.command == "vpn-config":
        from server import vpn

        config = _config(args)
        if config.vpn is None:
            raise AdminError("server.toml has no [vpn] table: there is no kiosk network to configure")
        peers = vpn.write_setconf(config, db, args.output)
        print(f"{args.output}: {peers} kiosk peer(s); apply with `wg setconf <interface> {args.output}`")
        return 0
    if args.command == "list-kiosks":
        from server import kiosk_list

        sys.stdout.write(kiosk_list.render(kiosk_list.rows(db)))
        return 0
    if args.command == "revoke-kiosk":
        count = enrolment.revoke_kiosk(db, args.kiosk_id, args.staff, args.reason)
        from server.vpn import sync_interface

        if sync_interface(_config(args), db):
            print(f"{args.kiosk_id}'s tunnel peer removed from the live interface")
        print(f"{args.kiosk_id} revoked: its certificates are refused from now on ({count} enrolled)")
        return 0
    if args.command == "unlock-card":
        done = card_unlock.unlock_card(db, args.card, args.staff)
        print(f"card {done.card_id} unlocked by {done.staff_id} at {done.unlocked_at} "
              f"({done.failed_attempts_before} wrong tries before)")
        return 0
    if args.command == "verify-log":
        result = issuance_log.verify(db)
        if result.intact:
            print(f"issuance log intact: {result.entries} entries; head #{result.head_sequence} {result.head_hash}")
            return 0
        print(f"issuance log BROKEN ({len(result.problems)} problems in {result.entries} entries):")
        for problem in result.problems:
            print(f"  {problem}")
        return 1
    if args.command == "ledger":
        rows = ledger.daily(db, kiosk_id=args.kiosk, start=args.start, end=args.end)
        sys.stdout.write(ledger.render(rows, ledger.unsettled(db, args.kiosk), args.format))
        return 0
    if args.command == "refunds":
        rows = refunds.listing(db, kiosk_id=args.kiosk, open_only=not args.all)
        sys.stdout.write(refunds.render(rows, args.format, open_only=not args.all))
        return 0
    if args.command == "refund-paid":
        done = refunds.mark_paid(db, staff_id=args.staff, txn=args.txn, reference=args.reference,
                                 slip=_verified_slip(args, db) if args.slip else None)
        print(f"refund of {done.amount} yen paid: {done.reference} txn {done.transaction_id} from {done.kiosk_id}, "
              f"by {done.paid_by} at {done.paid_at.isoformat()}Z")
        return 0
    text = statistics.report(db, args.format, args.fiscal_year)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0
