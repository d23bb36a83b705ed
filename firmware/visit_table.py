"""The visit as one table: every (state, event) the controller acts on, when, with which step, and where it goes.

The controller (:mod:`firmware.controller`) executes this table and nothing else: for each item it takes off its
queue it names the event (:func:`event_name`), looks up the rows for the current state (:func:`rows_for`), and
runs the action of the first row whose guard holds.  An item with no row does nothing (an outcome of an
abandoned step, a tap on a screen that has moved on).  Actions are methods of :class:`firmware.controller.Kiosk`
and its step mixins; an action decides among the row's ``goes_to`` states.

Events are a device event's or an intent's class name, ``done:<operation>`` for the outcome of a long step
(card, server, printer) that the controller started, ``tick`` for the clock and ``deadline`` for a state's
timeout.  ``docs/visit-table.md`` is this table for people: regenerate it with ``make visit-table``
(``python -m firmware.visit_table``); a test fails when it is stale.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from firmware.visit import CANCELLABLE, RESIDENT_STATES, VisitState as S

ANY = None
BEFORE_PAYING = frozenset({S.READING, S.PIN, S.MENU, S.OPTIONS, S.CONFIRM})


@dataclass(frozen=True)
class Row:
    states: frozenset[S] | None  # None: in every state
    event: str
    action: str  # a method of the Kiosk, called with the item (``done:`` rows: with result, error)
    goes_to: str  # for people: the states the action may lead to
    guard: str = ""  # a key of GUARDS; the row applies only when it holds
    note: str = ""


def _states(*states: S) -> frozenset[S]:
    return frozenset(states)


ROWS: tuple[Row, ...] = (
    # --- any state: what never waits for the visit ---------------------------------------------------------
    Row(ANY, "Tick", "_on_tick", "(readiness: idle ⇄ out_of_service; reminders; then `deadline`)"),
    Row(ANY, "NoteEscrowed", "_on_note_escrowed", "(same)", note="the cashier stacks it or gives it back"),
    Row(ANY, "NoteCredited", "_on_credit", "confirm→issuing once paid", note="journalled before acknowledged"),
    Row(ANY, "CoinCredited", "_on_credit", "confirm→issuing once paid", note="after the payment: paid back"),
    Row(ANY, "NoteValidatorStateChanged", "_on_cash_device_state", "paying→return_card", "cash device failed",
        "a jam while paying stops it now; otherwise readiness takes it out of service"),
    Row(ANY, "CoinAcceptorStateChanged", "_on_cash_device_state", "paying→return_card", "cash device failed"),
    Row(ANY, "DocumentTaken", "_on_outlet_emptied", "take_items→idle when nothing is left"),
    Row(ANY, "TakeChange", "_on_change_taken", "take_items→idle when nothing is left"),
    Row(ANY, "DoorOpened", "_on_door_opened", "out_of_service", note="money settled, visit ended"),
    Row(ANY, "DoorClosed", "_on_door_closed", "(readiness at the next tick)"),
    Row(ANY, "StaffCallPressed", "_on_staff_call", "(same)", note="beacon on"),
    Row(ANY, "CallStaff", "_on_staff_call", "(same)", note="beacon on"),
    Row(ANY, "ChooseLanguage", "_on_language", "(same)", note="prompt said again in it"),
    Row(ANY, "SilenceVoice", "_on_silence", "(same)"),
    Row(ANY, "Speak", "_on_speak", "(same)", note="a screen says what it shows (text never logged)"),
    Row(ANY, "VoiceControl", "_on_voice_control", "(same)", note="click, louder, softer, slower: until the visit ends"),
    # --- idle and out of service ---------------------------------------------------------------------------
    Row(_states(S.IDLE), "CardPlaced", "_on_card_placed", "reading, or out_of_service if it cannot sell"),
    Row(_states(S.OUT_OF_SERVICE), "CardPlaced", "_on_card_placed_out_of_service", "(same)",
        note="only a staff card: it is read for maintenance"),
    Row(_states(S.OUT_OF_SERVICE), "done:staff_card", "_done_staff_card", "out_of_service (maintenance)"),
    Row(_states(S.OUT_OF_SERVICE), "CardRemoved", "_on_card_lifted_out_of_service", "idle at the next tick",
        note="a forgotten card taken: readiness checked at once"),
    # --- before money ----------------------------------------------------------------------------------------
    Row(_states(S.READING), "done:read_card", "_done_read_card", "pin, return_card (refused), idle (staff card)"),
    Row(_states(S.PIN), "EnterPin", "_on_enter_pin", "(pin: sign-in runs)", "not busy"),
    Row(_states(S.PIN), "done:sign_in", "_done_sign_in", "menu, pin (wrong PIN), return_card"),
    Row(_states(S.MENU), "ChooseCertificate", "_on_choose", "options", "not busy"),
    Row(_states(S.MENU, S.OPTIONS), "FormsArrived", "_on_forms_arrived", "(same); menu if the form went",
        note="e-applications offered (firmware.visit_application)"),
    Row(_states(S.MENU), "ChooseService", "_on_choose_service", "options (the application's form)", "not busy"),
    Row(_states(S.OPTIONS), "SubmitForm", "_on_submit_form", "(options: checked here, then the quote runs)",
        "not busy"),
    Row(_states(S.OPTIONS), "done:application_quote", "_done_application_quote",
        "confirm, options (answer refused: message), return_card"),
    Row(_states(S.OPTIONS), "Back", "_on_application_back", "menu", "application, not busy"),
    Row(_states(S.OPTIONS), "SetOptions", "_on_set_options", "(options: the quote runs)", "not busy"),
    Row(_states(S.OPTIONS, S.CONFIRM), "done:quote", "_done_quote",
        "confirm, options (refused option), return_card; at confirm: paying, confirm (fee changed)",
        note="protocol 2 asks for the quote at Confirm: its answer is the server-link check before money"),
    Row(_states(S.OPTIONS, S.CONFIRM), "Back", "_on_back", "options→menu, confirm→options", "not busy"),
    Row(_states(S.CONFIRM), "Confirm", "_start_payment", "(confirm: the server link is checked: health, or "
        "the quote in protocol 2)", "not busy",
        "return_card if a device cannot deliver"),
    Row(_states(S.CONFIRM), "done:health", "_done_health", "paying, return_card (server unavailable)"),
    Row(BEFORE_PAYING, "CardRemoved", "_on_card_lifted_before_paying", "idle"),
    Row(CANCELLABLE, "Cancel", "_cancel", "return_card (refunded while paying)"),
    Row(RESIDENT_STATES, "MoreTime", "_on_more_time", "(same)", "deadline armed"),
    Row(RESIDENT_STATES, "deadline", "_on_resident_timeout", "return_card (refunded while paying)"),
    # --- money and documents ---------------------------------------------------------------------------------
    Row(_states(S.PAYING), "CardRemoved", "_cancel", "return_card→take_items (refunded; card already gone)"),
    Row(_states(S.ISSUING), "done:issue", "_done_issue", "(issuing: verify runs), return_card (refunded)"),
    Row(_states(S.ISSUING), "done:verify", "_done_verify", "printing, return_card (rejected: refunded)"),
    Row(_states(S.PRINTING), "done:print", "_done_print", "return_card (fee earned once a page printed)"),
    Row(_states(S.ISSUING, S.PRINTING), "deadline", "_on_delivery_timeout", "return_card (settled)"),
    # --- the end of a visit ----------------------------------------------------------------------------------
    Row(_states(S.RETURN_CARD), "CardRemoved", "_on_card_returned", "take_items, idle"),
    Row(_states(S.RETURN_CARD, S.TAKE_ITEMS), "done:slip", "_done_slip", "(same); idle if nothing is left",
        note="refund slip printed, or its reference read aloud"),
    Row(_states(S.RETURN_CARD, S.TAKE_ITEMS), "deadline", "_items_abandoned",
        "take_items, idle, out_of_service (card or certificate left)"),
)

GUARDS: dict[str, Callable[[object, object], bool]] = {
    "not busy": lambda kiosk, item: not kiosk.visit.busy,  # a double tap while the card or server works does one thing
    "deadline armed": lambda kiosk, item: kiosk._deadline is not None,
    "application, not busy": lambda kiosk, item: kiosk.visit.service is not None and not kiosk.visit.busy,
    "cash device failed": lambda kiosk, item: item.state.out_of_service,
}

_BY_EVENT: dict[str, list[Row]] = {}
for _row in ROWS:
    _BY_EVENT.setdefault(_row.event, []).append(_row)


def event_name(item: object) -> str:
    """The table's name for a queue item: ``done:<name>`` for an operation's outcome, else its class name."""
    if type(item).__name__ == "OperationDone":
        return f"done:{item.name}"
    return type(item).__name__


def rows_for(state: S, event: str) -> list[Row]:
    """The rows that may act on ``event`` in ``state``, in table order (any-state rows included)."""
    return [row for row in _BY_EVENT.get(event, ()) if row.states is None or state in row.states]


def markdown() -> str:
    """The table for people (docs/visit-table.md)."""
    lines = ["# The visit, as the controller runs it", "",
             "Generated from `firmware/visit_table.py` by `make visit-table`; do not edit by hand. One row per "
             "(state, event): the first row whose guard holds acts; an event with no row in a state does nothing.",
             "", "| in state | event | guard | action | goes to | note |", "|---|---|---|---|---|---|"]
    order = [s for s in S]
    for row in ROWS:
        states = "any" if row.states is None else ", ".join(s.value for s in order if s in row.states)
        lines.append(f"| {states} | `{row.event}` | {row.guard} | `{row.action}` | {row.goes_to} | {row.note} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - the document generator
    sys.stdout.write(markdown())
