"""Each kiosk's summary row (``kiosk_summaries``), kept up to date as its events arrive.

What the fleet page reads: in or out of service and why, VPN state, open faults (``device:state`` codes of devices
not in a normal state, ``health:check`` of the box), an open staff call, and the last gauges the kiosk sent.
"""
from __future__ import annotations

from datetime import datetime

from server.models_telemetry import KioskSummary

NORMAL_STATES = frozenset({"ready", "idle", "disabled", "accepting", "dispensing", "closed", "ok", "present",
                           "escrow", "stacking", "returning", "empty", "card_present"})
"""Device states that are no fault (a note validator stacking, a hopper paying out, …)."""

DEVICE_KINDS = frozenset({"paper_low", "paper_out", "cover_open", "cash_box_removed", "cash_box_full", "hopper_low",
                          "hopper_empty", "stacker_near_full", "device_fault", "device_recovered", "door_opened",
                          "door_closed"})


def _set_fault(summary: KioskSummary, prefix: str, code: str | None) -> None:
    faults = [f for f in (summary.open_faults or []) if not f.startswith(prefix + ":")]
    if code is not None:
        faults.append(f"{prefix}:{code}")
    summary.open_faults = sorted(faults)  # a new list: the JSON column sees the change


def apply_event(summary: KioskSummary, kind: str, fields: dict, when: datetime) -> None:
    if kind == "out_of_service":
        summary.in_service = False
        summary.out_of_service_reason = str(fields.get("reason") or "unknown")[:48]
    elif kind in ("back_in_service", "kiosk_started"):
        if kind == "back_in_service" or summary.in_service is None:
            summary.in_service = True
            summary.out_of_service_reason = None
    elif kind in ("vpn_down", "vpn_up"):
        summary.vpn_up = kind == "vpn_up"
    elif kind == "staff_call":
        summary.staff_call_since = summary.staff_call_since or when
    elif kind == "staff_call_acknowledged" or (kind == "command_done" and fields.get("command") == "ack_staff_call"):
        summary.staff_call_since = None
    elif kind in DEVICE_KINDS and isinstance(fields.get("device"), str):
        state = fields.get("state")
        _set_fault(summary, fields["device"], None if state in NORMAL_STATES or kind == "device_recovered"
                   else str(state or kind))
    elif kind in ("update_rolled_back", "update_refused", "update_committed"):
        # the last update's trouble stays on the fleet page until a release commits (firmware/telemetry_updates.py)
        code = {"update_rolled_back": f"rolled_back.{fields.get('version')}.{fields.get('check')}",
                "update_refused": f"refused.{fields.get('reason')}"}.get(kind)
        _set_fault(summary, "update", code[:48] if code else None)
    elif kind in ("under_voltage", "health_changed") and isinstance(fields.get("check"), str):
        bad = fields.get("value") == "yes" and fields["check"] != "clock_synchronised"
        _set_fault(summary, f"health.{fields['check']}", "yes" if bad else None)


def apply_gauges(summary: KioskSummary, sampled_at: str, values: dict) -> None:
    summary.gauges = {**dict(values), "sampled_at": sampled_at}
