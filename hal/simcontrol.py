"""Drive the simulators of a running kiosk from outside its process: ``kiosk-sim place-card resident-a``.

The kiosk listens on a Unix socket and speaks JSON lines: one request per line, one reply per line::

    {"cmd": "place_card", "args": {"card": "resident-a"}}   ->   {"ok": true}
    {"cmd": "insert_note", "args": {"value": 3000}}         ->   {"ok": false, "error": "..."}

:class:`ControlServer` serves a dictionary of commands (``name -> async function(args) -> dict``);
:func:`sim_commands` gives the ones that act on the simulated devices, and other layers add their own (the
headless kiosk adds the resident's intents, such as entering a PIN).  :func:`main` is the ``kiosk-sim`` command::

    kiosk-sim [--socket PATH] COMMAND [ARGS...]
    kiosk-sim insert-coin 100
    kiosk-sim paper-out after_rows=300
    kiosk-sim status

The socket is ``--socket``, else ``$KIOSK_SIM_SOCKET``, else ``var/kiosk/sim.sock``.
"""
from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

Command = Callable[[dict], Awaitable[dict]]
DEFAULT_SOCKET = "var/kiosk/sim.sock"
MAX_LINE = 64 * 1024


class CommandError(Exception):
    """A command could not be done; the message goes back to the caller as ``{"ok": false, "error": ...}``."""


class ControlServer:
    """A JSON-lines command server on a Unix socket.  Use as ``async with ControlServer(path, commands):``."""

    def __init__(self, socket_path: str | os.PathLike, commands: Mapping[str, Command] | None = None):
        self.socket_path = Path(socket_path)
        self.commands: dict[str, Command] = dict(commands or {})
        self._server: asyncio.AbstractServer | None = None

    def add(self, name: str, command: Command) -> None:
        self.commands[name] = command

    async def start(self) -> None:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            if _is_listening(self.socket_path):
                raise OSError(f"another process already listens on {self.socket_path}")
            self.socket_path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path), limit=MAX_LINE)
        os.chmod(self.socket_path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        try:
            self.socket_path.unlink()
        except FileNotFoundError:
            pass

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def handle(self, request: Any) -> dict:
        """Answer one request (already decoded from JSON)."""
        if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
            return {"ok": False, "error": 'a request is {"cmd": NAME, "args": {...}}'}
        name, args = request["cmd"], request.get("args") or {}
        if name == "commands":
            return {"ok": True, "commands": sorted(self.commands)}
        command = self.commands.get(name)
        if command is None:
            return {"ok": False, "error": f"unknown command {name!r}", "commands": sorted(self.commands)}
        if not isinstance(args, dict):
            return {"ok": False, "error": "args must be an object"}
        try:
            reply = await command(args)
        except (CommandError, ValueError, KeyError, TypeError) as e:
            return {"ok": False, "error": f"{name}: {_describe(e)}"}
        except Exception as e:  # a device refused (DeviceError and friends): tell the caller, keep serving
            return {"ok": False, "error": f"{name}: {type(e).__name__}: {e}"}
        return {"ok": True, **(reply or {})}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                except ValueError:
                    reply = {"ok": False, "error": "not a JSON line"}
                else:
                    reply = await self.handle(request)
                writer.write(json.dumps(reply, ensure_ascii=False, default=str).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()


def _describe(e: Exception) -> str:
    if isinstance(e, KeyError):
        return f"missing argument {e.args[0]!r}"
    return str(e)


def _is_listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


# -- the simulator commands ----------------------------------------------------------------------------------------

def sim_commands(devices) -> dict[str, Command]:
    """The commands that make the world act on simulated ``devices`` (a :class:`hal.factory.Devices`)."""

    async def call(device, method: str, *args, **kwargs) -> None:
        action = getattr(device, method, None)
        if action is None:
            raise CommandError(f"{getattr(device, 'name', device)} cannot {method.replace('_', ' ')} "
                               f"(it is not a simulator that supports it)")
        result = action(*args, **kwargs)
        if inspect.isawaitable(result):
            await result

    def whole(args: dict, key: str) -> int:
        value = args[key]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise CommandError(f"{key} must be a whole number, got {value!r}")
        return value

    async def place_card(args):
        await call(devices.card_reader, "place_card", str(args["card"]))
        return {}

    async def lift_card(args):
        await call(devices.card_reader, "lift_card")
        return {}

    async def insert_note(args):
        await call(devices.notes, "insert_note", whole(args, "value"))
        return {"state": devices.notes.state().value}

    async def insert_coin(args):
        await call(devices.coins, "insert_coin", whole(args, "value"))
        return {"state": devices.coins.state().value}

    async def jam_note(args):
        where = args.get("where", "stacker")
        if where not in ("stacker", "acceptor"):
            raise CommandError(f"where must be stacker or acceptor, got {where!r}")
        await call(devices.notes, f"jam_{where}")
        return {"state": devices.notes.state().value}

    async def open_cashbox(args):
        await call(devices.notes, "remove_cashbox")
        return {}

    async def close_cashbox(args):
        await call(devices.notes, "replace_cashbox")
        return {}

    def printer(method: str, *keys: str) -> Command:
        async def command(args):
            kwargs = {k: (whole(args, k) if args[k] is not None else None) for k in keys if k in args}
            await call(devices.printer, method, **kwargs)
            return {}
        return command

    async def hopper_short(args):
        value = whole(args, "value")
        hopper = devices.hopper(value)
        if hopper is None:
            raise CommandError(f"no hopper pays {value} yen coins")
        await call(hopper, "short_of_coins", whole(args, "stock"))
        return {"state": hopper.state().value}

    async def door_open(args):
        await call(devices.signals, "open_door")
        return {}

    async def door_close(args):
        await call(devices.signals, "close_door")
        return {}

    async def staff_call(args):
        await call(devices.signals, "press_staff_call")
        return {}

    async def status(args):
        report = {}
        for device in devices.all():
            report[device.name] = await _describe_device(device)
        return {"devices": report}

    return {
        "place_card": place_card, "lift_card": lift_card,
        "insert_note": insert_note, "insert_coin": insert_coin, "jam_note": jam_note,
        "open_cashbox": open_cashbox, "close_cashbox": close_cashbox,
        "take_document": printer("take_document"), "paper_out": printer("paper_out", "after_rows"),
        "paper_low": printer("paper_low"), "refill_paper": printer("refill_paper"),
        "open_cover": printer("open_cover"), "close_cover": printer("close_cover"), "fail_cut": printer("fail_cut"),
        "hopper_short": hopper_short, "door_open": door_open, "door_close": door_close, "staff_call": staff_call,
        "status": status,
    }


async def _describe_device(device) -> Any:
    """A device's condition in a word or two, for ``status``."""
    if hasattr(device, "status"):  # the printer asks the device
        state = await device.status()
        return state.describe() if hasattr(state, "describe") else str(state)
    if hasattr(device, "state"):
        return device.state().value
    if hasattr(device, "door_closed"):  # the signals
        return f"door {'closed' if device.door_closed() else 'open'}, beacon {'on' if device.beacon() else 'off'}"
    if hasattr(device, "speaking"):  # the voice
        return f"speaking {device.speaking()}" if device.speaking() else "quiet"
    return "?"


# -- the kiosk-sim command -------------------------------------------------------------------------------------------

POSITIONAL = {
    "place-card": ["card"], "lift-card": [], "insert-note": ["value"], "insert-coin": ["value"],
    "jam-note": ["where"], "open-cashbox": [], "close-cashbox": [], "take-document": [],
    "paper-out": ["after_rows"], "paper-low": [], "refill-paper": [], "open-cover": [], "close-cover": [],
    "hopper-short": ["value", "stock"], "door-open": [], "door-close": [], "staff-call": [], "status": [],
}
"""The simulator commands and their positional arguments.  Any command also takes ``key=value`` arguments."""


def usage(extra: list[str] | None = None) -> str:
    lines = ["usage: kiosk-sim [--socket PATH] COMMAND [ARGS...]", "", "commands:"]
    for name, args in POSITIONAL.items():
        lines.append(f"  {name} {' '.join(a.upper() for a in args)}".rstrip())
    more = sorted(set(extra or ()) - {n.replace("-", "_") for n in POSITIONAL} - {"commands"})
    if more:
        lines += ["", "commands this kiosk adds:"] + [f"  {n.replace('_', '-')} [KEY=VALUE...]" for n in more]
    return "\n".join(lines)


def parse_request(command: str, words: list[str]) -> dict:
    """Turn ``insert-coin 100`` into ``{"cmd": "insert_coin", "args": {"value": 100}}``."""
    positional = POSITIONAL.get(command, [])
    args: dict[str, Any] = {}
    loose = []
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key.isidentifier():
            args[key] = _value(value)
        else:
            loose.append(word)
    if len(loose) > len(positional):
        raise ValueError(f"{command} takes {len(positional)} argument(s), got {len(loose)}: {' '.join(loose)}")
    for key, word in zip(positional, loose):
        args[key] = word if key == "card" else _value(word)
    return {"cmd": command.replace("-", "_"), "args": args}


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def send(socket_path: str | os.PathLike, request: dict, timeout: float = 10.0) -> dict:
    """Send one request and return the reply.  Raises ConnectionError if nobody listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(socket_path))
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise ConnectionError(f"no kiosk is listening on {socket_path}") from e
        s.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data:
        raise ConnectionError(f"the kiosk on {socket_path} closed the connection without answering")
    return json.loads(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-sim", usage=usage(), add_help=False)
    parser.add_argument("--socket", default=os.environ.get("KIOSK_SIM_SOCKET", DEFAULT_SOCKET))
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("command", nargs="?")
    parser.add_argument("words", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    if ns.help or not ns.command:
        print(usage(), file=sys.stdout if ns.help else sys.stderr)
        return 0 if ns.help else 2
    try:
        request = parse_request(ns.command, ns.words)
        reply = send(ns.socket, request)
    except ValueError as e:
        print(f"kiosk-sim: {e}", file=sys.stderr)
        return 2
    except (ConnectionError, OSError) as e:
        message = str(e) if isinstance(e, ConnectionError) else f"no kiosk is listening on {ns.socket} ({e})"
        if ns.command not in POSITIONAL:  # cannot ask the kiosk which commands it adds: show ours
            message = f"unknown command {ns.command!r} (and {message})\n\n{usage()}"
        print(f"kiosk-sim: {message}", file=sys.stderr)
        return 2
    if not reply.get("ok"):
        if "commands" in reply:
            print(f"kiosk-sim: unknown command {ns.command!r}\n\n{usage(reply['commands'])}", file=sys.stderr)
            return 2
        print(f"kiosk-sim: {reply.get('error', 'failed')}", file=sys.stderr)
        return 1
    rest = {k: v for k, v in reply.items() if k != "ok"}
    print(json.dumps(rest, ensure_ascii=False, indent=1) if rest else "ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
