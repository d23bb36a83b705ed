"""``kiosk-server applications``: the day's e-applications for the department that handles them, as a table or
as CSV (the phone number included: this is the city's own list, read on the city's side; never sent to a kiosk).

    kiosk-server applications --config server.toml [--date 2026-12-07] [--service bulky_waste] [--csv out.csv]
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

JST = timezone(timedelta(hours=9))
COMMAND = "applications"
COLUMNS = ("application_no", "received_at", "service", "channel", "kiosk_id", "district", "service_date", "name",
           "address", "answers", "total_fee", "payment")


def add_command(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser(COMMAND, help="list the day's e-applications for the handling department (or CSV)")
    cmd.add_argument("--config", required=True, type=Path, help="the server's server.toml")
    cmd.add_argument("--date", type=date.fromisoformat, default=None, help="the day received (default: today, JST)")
    cmd.add_argument("--service", default=None, help="one application only, e.g. bulky_waste")
    cmd.add_argument("--csv", type=Path, default=None, help="write CSV (UTF-8 with BOM, for spreadsheets) here; "
                                                            "'-' for stdout")


def _answers(answers: dict) -> str:
    parts = []
    for name, value in answers.items():
        shown = " ".join(f"{k}×{n}" for k, n in value.items()) if isinstance(value, dict) else str(value)
        parts.append(f"{name}={shown}")
    return "; ".join(parts)


def _rows(records: list[dict]) -> list[list[str]]:
    return [[str(r[c]) if c != "answers" else _answers(r[c]) for c in COLUMNS] for r in records]


def run(args: argparse.Namespace) -> int:
    from server.applications import day_list
    from server.config import ConfigError, load_config
    from server.db import open_database

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"kiosk-server applications: {exc}", file=sys.stderr)
        return 2
    day = args.date or (config.dev_now or datetime.now(timezone.utc)).astimezone(JST).date()
    sessions = open_database(config.database_url)
    try:
        with sessions() as db:
            records = day_list(db, day, args.service)
    finally:
        sessions.kw["bind"].dispose()
    rows = _rows(records)
    if args.csv is not None:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        if str(args.csv) == "-":
            sys.stdout.write(out.getvalue())
        else:
            args.csv.write_text("\ufeff" + out.getvalue(), encoding="utf-8")
            print(f"{len(rows)} application(s) of {day.isoformat()} written to {args.csv}")
        return 0
    print(f"{day.isoformat()}: {len(rows)} application(s)" + (f" ({args.service})" if args.service else ""))
    for r in rows:
        print("  " + "  ".join(r))
    return 0
