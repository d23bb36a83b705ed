"""``kiosk-server telemetry-prune``, ``envelope-prune`` and ``kiosk-command``: retention and remote commands.

    kiosk-server telemetry-prune --config server.toml [--days 90]      events received over N days ago go;
                                                                       each kiosk's summary stays
    kiosk-server envelope-prune --config server.toml [--days 7]        the PDFs of issuances settled over N days
                                                                       ago go; their signed manifests stay
    kiosk-server kiosk-command --config server.toml --kiosk-id K --kind out_of_service --staff S0042

Both are audited on the ``server.audit`` logger.  A systemd timer (or cron) runs the prunes once a day.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMANDS = ("telemetry-prune", "envelope-prune", "kiosk-command")
DEFAULT_RETENTION_DAYS = 90
DEFAULT_ENVELOPE_DAYS = 7


def add_commands(commands) -> None:
    prune = commands.add_parser("telemetry-prune", help="delete telemetry events older than N days (summaries stay)")
    prune.add_argument("--config", required=True, type=Path)
    prune.add_argument("--days", type=int, default=DEFAULT_RETENTION_DAYS)
    envelopes = commands.add_parser("envelope-prune", help="drop the PDFs of issuances settled over N days ago "
                                    "(their signed manifests stay)")
    envelopes.add_argument("--config", required=True, type=Path)
    envelopes.add_argument("--days", type=int, default=DEFAULT_ENVELOPE_DAYS)
    command = commands.add_parser("kiosk-command", help="queue a remote command for a kiosk (audited)")
    command.add_argument("--config", required=True, type=Path)
    command.add_argument("--kiosk-id", required=True)
    command.add_argument("--kind", required=True, choices=("out_of_service", "back_in_service", "ack_staff_call"))
    command.add_argument("--staff", required=True, help="the staff id of whoever asks (audited)")


def run(args: argparse.Namespace) -> int:
    from server.config import ConfigError, load_config
    from server.db import open_database
    from server import envelope_retention, telemetry

    try:
        sessions = open_database(load_config(args.config).database_url)
    except ConfigError as exc:
        print(f"kiosk-server {args.command}: {exc}", file=sys.stderr)
        return 2
    with sessions() as db:
        prunes = {"telemetry-prune": (telemetry.prune, "{n} telemetry event(s) older than {days} days deleted; "
                                                       "kiosk summaries kept"),
                  "envelope-prune": (envelope_retention.prune_envelopes, "{n} envelope(s) settled over {days} days "
                                                                         "ago pruned to their signed manifests")}
        if args.command in prunes:
            prune, done_text = prunes[args.command]
            try:
                n = prune(db, args.days)
            except ValueError as exc:
                print(f"kiosk-server {args.command}: {exc}", file=sys.stderr)
                return 2
            print(done_text.format(n=n, days=args.days))
            return 0
        done, already = telemetry.create_command(db, args.kiosk_id, args.kind, args.staff)
        if already:
            print(f"command {done.command_id} ({done.kind}) is already waiting for {done.kiosk_id}: not added again")
        else:
            print(f"command {done.command_id} ({done.kind}) queued for {done.kiosk_id}; it is delivered at the "
                  "kiosk's next telemetry exchange")
        return 0
