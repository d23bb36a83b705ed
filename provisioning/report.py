"""The readiness report: one line per step and one per check (preflight, self-test), as a ``rich`` table; saved as
plain text beside the state file."""
from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from provisioning.layout import Layout
from provisioning.state import State


def summary(step: str, result: dict) -> str:
    keys = {"enrol": ("kiosk_id", "not_after"), "vpn": ("address", "endpoint", "skipped"),
            "config": ("kiosk_toml", "server_url"), "install": ("units", "enabled", "release", "software"),
            "preflight": ("checks",), "self-test": ("checks",)}.get(step, ())
    return ", ".join(f"{k} {result[k]}" for k in keys if k in result)


def _mark(ok) -> str:
    return {True: "pass", False: "FAIL", None: "unknown"}[ok]


def render(prov, outcomes: dict, ready: bool) -> str:
    table = Table(title=f"Readiness report: {prov.state.kiosk_id or 'kiosk'} — {'READY' if ready else 'NOT READY'}")
    table.add_column("step / check")
    table.add_column("result")
    table.add_column("detail")
    table.add_column("time", justify="right")
    for name, (verdict, detail, elapsed) in outcomes.items():
        table.add_row(name, verdict, detail, f"{elapsed:.1f} s" if elapsed else "")
        for check in prov.lines.get(name, []):
            table.add_row(f"  {check.name}", _mark(check.ok), check.detail + (f" — {check.fix}" if check.fix else ""),
                          "")
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(table)
    return out.getvalue()


def status_table(layout: Layout, state: State) -> Table:
    table = Table(title=f"kiosk-provision status: {state.kiosk_id or 'not enrolled'}")
    table.add_column("step")
    table.add_column("state")
    table.add_column("when")
    from provisioning.state import STEPS

    for step in STEPS:
        result = state.result(step)
        table.add_row(step, "done" if state.done(step) else "to do", result.get("done_at", ""))
    return table
