"""``kiosk --headless``: the same firmware without Kivy, driven by a scenario file or by ``kiosk-sim``.

A scenario is a TOML file of steps, run in order.  A step either does something — a resident's intent or a
simulated device action — or waits for the visit to reach a state::

    [[step]]
    do = "place_card"
    card = "resident-a"

    [[step]]
    expect = "pin"          # wait (up to `timeout` seconds, default 10) until the visit is in this state

    [[step]]
    do = "enter_pin"
    pin = "1234"

The whole file is checked before the first step runs: an unknown action or state is refused with the step's
number and the list of what is known, and nothing happens.
"""
from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from hal.simcontrol import CommandError, ControlServer, sim_commands
from firmware.controller import Kiosk
from firmware.visit import (Back, Cancel, ChooseCertificate, ChooseLanguage, ChooseService, Confirm, EnterPin,
                            MoreTime, SetOptions, SilenceVoice, SubmitForm, TakeChange, VisitState)

Command = Callable[[dict], Awaitable[dict]]


class ScenarioError(Exception):
    pass


def intent_commands(kiosk: Kiosk) -> dict[str, Command]:
    """The resident's intents as control commands (what the touchscreen would send)."""

    def simple(make) -> Command:
        async def command(args: dict) -> dict:
            kiosk.send(make(args))
            return {}
        return command

    def pin(args: dict):
        digits = args.get("pin")
        if not isinstance(digits, (str, int)):
            raise CommandError("enter_pin needs pin=NNNN")
        return EnterPin.of(str(digits).zfill(4) if isinstance(digits, int) else digits)  # (dev/sim only: a str)

    def options(args: dict):
        copies = args.get("copies", 1)
        if isinstance(copies, bool) or not isinstance(copies, int):
            raise CommandError("options: copies must be a whole number")
        chosen = args.get("options", {})
        if not isinstance(chosen, dict):
            raise CommandError("options: options must be a table")
        return SetOptions(dict(chosen), copies)

    def form(args: dict):
        answers = args.get("answers", {})
        if not isinstance(answers, dict):
            raise CommandError("form: answers must be a table")
        return SubmitForm(dict(answers))

    async def state(args: dict) -> dict:
        v = kiosk.view
        return {"state": v.state.value, "message": v.message, "fee": v.fee, "paid": v.paid,
                "pages_printed": v.pages_printed, "pages_total": v.pages_total, "items": list(v.items_to_take),
                "tries_left": v.tries_left, "out_of_service": v.out_of_service_reason, "service": v.service,
                "problem_field": v.problem_field}

    def server_link(up: bool) -> Command:  # the dev panel's "server down": a simulated outage, not a real one
        async def command(args: dict) -> dict:
            kiosk.server.simulated_outage = not up
            return {"server": "up" if up else "down"}
        return command

    return {
        "server_down": server_link(False), "server_up": server_link(True),
        "enter_pin": simple(pin),
        "choose": simple(lambda a: ChooseCertificate(str(a.get("certificate", "")))),
        "options": simple(options),
        "service": simple(lambda a: ChooseService(str(a.get("service", "")))),
        "form": simple(form),
        "confirm": simple(lambda a: Confirm()),
        "back": simple(lambda a: Back()),
        "cancel": simple(lambda a: Cancel()),
        "more_time": simple(lambda a: MoreTime()),
        "take_change": simple(lambda a: TakeChange()),
        "silence": simple(lambda a: SilenceVoice()),
        "language": simple(lambda a: ChooseLanguage(str(a.get("language", "ja")))),
        "state": state,
    }


def all_commands(kiosk: Kiosk) -> dict[str, Command]:
    commands = sim_commands(kiosk.devices)
    commands.update(intent_commands(kiosk))
    return commands


def control_server(kiosk: Kiosk, socket_path) -> ControlServer:
    """The ``kiosk-sim`` control socket for this kiosk (the headless runner and the touchscreen app serve it)."""
    return ControlServer(socket_path, all_commands(kiosk))


@dataclass
class Step:
    number: int
    action: str | None = None
    expect: VisitState | None = None
    args: dict[str, Any] = field(default_factory=dict)
    timeout: float = 10.0
    seconds: float = 0.0


def load_scenario(path: str | Path, known_actions: set[str]) -> list[Step]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(f"{path}: a scenario needs at least one [[step]]")
    states = {s.value for s in VisitState}
    steps = []
    for number, raw in enumerate(raw_steps, start=1):
        args = dict(raw)
        do, expect = args.pop("do", None), args.pop("expect", None)
        timeout = args.pop("timeout", 10.0)
        where = f"{path.name}: step {number}"
        if (do is None) == (expect is None):
            raise ScenarioError(f"{where}: needs exactly one of do = \"…\" or expect = \"…\"")
        if expect is not None:
            if expect not in states:
                raise ScenarioError(f"{where}: unknown state {expect!r} (states: {', '.join(sorted(states))})")
            steps.append(Step(number, expect=VisitState(expect), timeout=float(timeout)))
        elif do == "wait":
            steps.append(Step(number, action="wait", seconds=float(args.get("seconds", 1.0))))
        elif do not in known_actions:
            raise ScenarioError(f"{where}: unknown action {do!r} (actions: wait, {', '.join(sorted(known_actions))})")
        else:
            steps.append(Step(number, action=do, args=args))
    return steps


async def wait_for_state(kiosk: Kiosk, state: VisitState, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while kiosk.view.state is not state:
        if loop.time() > deadline:
            raise ScenarioError(f"expected state {state.value}, still {kiosk.view.state.value} "
                                f"(message {kiosk.view.message}) after {timeout:g} s")
        await asyncio.sleep(0.01)


async def run_scenario(kiosk: Kiosk, steps: list[Step], echo: Callable[[str], None] = lambda line: None) -> None:
    commands = all_commands(kiosk)
    for step in steps:
        if step.expect is not None:
            await wait_for_state(kiosk, step.expect, step.timeout)
            echo(f"step {step.number}: state is {step.expect.value}")
        elif step.action == "wait":
            await asyncio.sleep(step.seconds)
        else:
            try:
                await commands[step.action](dict(step.args))
            except CommandError as exc:
                raise ScenarioError(f"step {step.number} ({step.action}): {exc}") from None
            except (TypeError, ValueError) as exc:
                raise ScenarioError(f"step {step.number} ({step.action}): bad arguments ({exc})") from None
            echo(f"step {step.number}: {step.action} {_describe(step.args)}".rstrip())
            await asyncio.sleep(0.02)


def _describe(args: dict) -> str:
    return " ".join(f"{k}={'****' if k == 'pin' else v}" for k, v in args.items())
