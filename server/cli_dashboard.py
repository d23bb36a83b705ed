"""``kiosk-server`` commands of the operations dashboard:

    kiosk-server dashboard  --config C [--host H] [--port P] [--https] [--silent-after-min N]
                            serves the dashboard for staff on its own listener (default 127.0.0.1:8088)
    kiosk-server staff-add  --config C --staff S --role ward|admin [--ward W] [--password-stdin] [--replace]
                            makes an account (the password is asked twice, or read from stdin)
    kiosk-server kiosk-ward --config C --kiosk K --ward W      places a kiosk in a ward

A refusal prints ``kiosk-server <command>: <why>`` on stderr and exits 2.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import timedelta
from pathlib import Path

COMMANDS = ("dashboard", "staff-add", "kiosk-ward")


def add_commands(commands) -> None:
    serve = commands.add_parser("dashboard", help="serve the operations dashboard for staff (its own listener)")
    serve.add_argument("--config", required=True, type=Path)
    serve.add_argument("--host", default="127.0.0.1", help="the address staff reach (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8088, help="0: pick a free one")
    serve.add_argument("--https", action="store_true", help="serve over HTTPS with the server's TLS certificate")
    serve.add_argument("--silent-after-min", type=float, default=5.0,
                       help="a kiosk not heard from for this many minutes is shown as silent")
    add = commands.add_parser("staff-add", help="make (or --replace) a dashboard account")
    add.add_argument("--config", required=True, type=Path)
    add.add_argument("--staff", required=True, help="the staff id (an employee number, not a name)")
    add.add_argument("--role", required=True, choices=("ward", "admin"))
    add.add_argument("--ward", default=None, help="the ward whose kiosks ward staff see")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--replace", action="store_true", help="reset an existing account (new password, unlocked)")
    ward = commands.add_parser("kiosk-ward", help="place a kiosk in a ward (ward staff see their ward's kiosks)")
    ward.add_argument("--config", required=True, type=Path)
    ward.add_argument("--kiosk", required=True)
    ward.add_argument("--ward", required=True)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        from server.enrolment import AdminError

        raise AdminError("the two passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    from server.config import ConfigError, load_config
    from server.db import open_database
    from server.enrolment import AdminError

    try:
        config = load_config(args.config)
        if args.command == "dashboard":
            from server.dashboard.serve import serve

            serve(config, args.host, args.port, https=args.https,
                  silent_after=timedelta(minutes=args.silent_after_min))
            return 0
        from server import staff

        sessions = open_database(config.database_url)
        with sessions() as db:
            if args.command == "staff-add":
                made = staff.create_account(db, args.staff, args.role, _password(args), args.ward,
                                            replace=args.replace)
                print(f"account {made.staff_id}: {made.role}" + (f" of {made.ward}" if made.ward else " (all wards)"))
            else:
                staff.assign_ward(db, args.kiosk, args.ward)
                print(f"{args.kiosk} is in {args.ward}")
        return 0
    except (ConfigError, AdminError) as exc:
        print(f"kiosk-server {args.command}: {exc}", file=sys.stderr)
        return 2
