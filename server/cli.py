"""``kiosk-server``: devinit (a development world), serve (HTTPS with mTLS), openapi (the API document), and the
staff and audit commands of :mod:`server.cli_admin` (enrol-token, revoke-kiosk, unlock-card, verify-log, ledger,
report, refunds, refund-paid), updates (:mod:`server.cli_updates`: signed kiosk releases), the dashboard's
(:mod:`server.cli_dashboard`: dashboard, staff-add, kiosk-ward), verify (:mod:`server.cli_verify`: a saved or
scanned certificate, or a refund slip), and the telemetry commands of :mod:`server.cli_telemetry`
(telemetry-prune, envelope-prune, kiosk-command)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server import cli_admin, cli_applications, cli_dashboard, cli_telemetry, cli_updates, cli_verify


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-server", description="The kiosk's reference certificate server.")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("devinit", help="make CA, keys, simulated cards and server.toml in a directory")
    init.add_argument("--dir", required=True, type=Path)
    init.add_argument("--force", action="store_true", help="replace existing keys (and the database)")
    init.add_argument("--server-ip", action="append", default=[], help="another IP address in the server's TLS "
                      "certificate (e.g. its tunnel address); repeatable")
    run = commands.add_parser("serve", help="run the server over HTTPS with client certificates")
    run.add_argument("--config", required=True, type=Path)
    run.add_argument("--port", type=int, default=None, help="override the configured port (0: pick a free one)")
    run.add_argument("--workers", type=int, default=1, help="server processes sharing the socket and the database")
    run.add_argument("--host", default=None, help="override the configured address (e.g. the tunnel address alone)")
    run.add_argument("--only-enrolment", action="store_true", help="serve enrolment alone (for the network kiosks "
                     "enrol from, while the kiosk API listens on the tunnel address)")
    api = commands.add_parser("openapi", help="write the OpenAPI document")
    api.add_argument("--output", "-o", type=Path, default=None, help="file to write (default: stdout)")
    cli_admin.add_commands(commands)
    cli_dashboard.add_commands(commands)
    cli_verify.add_command(commands)
    cli_updates.add_command(commands)
    cli_telemetry.add_commands(commands)
    cli_applications.add_command(commands)
    args = parser.parse_args(argv)

    if args.command in cli_admin.COMMANDS:
        return cli_admin.run(args)
    if args.command in cli_dashboard.COMMANDS:
        return cli_dashboard.run(args)
    if args.command == "verify":
        return cli_verify.run(args)
    if args.command == cli_updates.COMMAND:
        return cli_updates.run(args)
    if args.command in cli_telemetry.COMMANDS:
        return cli_telemetry.run(args)
    if args.command == cli_applications.COMMAND:
        return cli_applications.run(args)

    if args.command == "devinit":
        from server.devinit import AlreadyInitialised, devinit

        try:
            config = devinit(args.dir, force=args.force, server_ips=tuple(args.server_ip))
        except AlreadyInitialised as exc:
            print(f"kiosk-server devinit: {exc}", file=sys.stderr)
            return 2
        print(f"development world written; start with: kiosk-server serve --config {config}")
        return 0
    if args.command == "serve":
        import dataclasses

        from server.config import ConfigError, load_config
        from server.serve import serve

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"kiosk-server serve: {exc}", file=sys.stderr)
            return 2
        if args.port is not None:
            config = dataclasses.replace(config, port=args.port)
        if args.host is not None:
            config = dataclasses.replace(config, host=args.host)
        serve(config, workers=max(1, args.workers), only_enrolment=args.only_enrolment)
        return 0
    from server.app import openapi_json

    text = openapi_json()
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
