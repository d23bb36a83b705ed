"""Run a virtual card on a vpcd reader slot, for demos on a desktop and as the card reader tests' peer.

    python -m hal.card.vcard --card .dev/cards/resident-a.json --port 35963

needs a running ``pcscd`` with Debian's ``vsmartcard-vpcd`` (its ``/etc/reader.conf.d/vpcd`` puts slot 0 on port
35963, "Virtual PCD 00 00").  The kiosk, configured with ``[devices.card_reader] driver = "pcsc"``, then sees a
My Number card placed.  On a terminal, type ``lift``, ``place`` (the same card again), ``place FILE``, ``state``
or ``quit``.  The card's PIN counter is written back to its file, like the chip's EEPROM.

``--control PATH`` opens a Unix socket taking one JSON object per line, answered with one JSON line (the tests'
way in): ``{"do": "place", "card": FILE, "blocked_sw": "6983", "chained": true, "atr": "3B…"}``,
``{"do": "lift"}``, ``{"do": "lift_on_next_command", "after": 0}``, ``{"do": "state"}`` → ``{"ok": true,
"placed": …, "connected": …, "tries_left": …, "sign_tries_left": …, "commands": …}``, ``{"do": "journal"}`` → the
headers of the commands received so far (CLA, INS, P1, P2, Lc, Le; never data), ``{"do": "quit"}``.  A bad request gets
``{"ok": false, "error": …}``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socketserver
import sys
import threading

from hal.card.sim import SimCard
from hal.card.vcard.card import VirtualCard
from hal.card.vcard.vpcd import CardSlot

log = logging.getLogger("hal.card.vcard")


class Controller:
    """What the terminal and the control socket can do to the slot."""

    def __init__(self, slot: CardSlot):
        self.slot = slot
        self.last_card: str | None = None
        self.stopped = threading.Event()

    def handle(self, request: dict) -> dict:
        action = request.get("do")
        try:
            if action == "place":
                path = request.get("card") or self.last_card
                if not path:
                    raise ValueError("place needs a card file")
                blocked_sw = int(str(request.get("blocked_sw", "63C0")), 16)
                atr = bytes.fromhex(request["atr"]) if request.get("atr") else None
                card = VirtualCard(SimCard.load(path), blocked_sw=blocked_sw, chained=bool(request.get("chained")),
                                   atr=atr)
                self.slot.place(card)
                self.last_card = str(path)
                return {"ok": True}
            if action == "lift":
                self.slot.lift()
                return {"ok": True}
            if action == "lift_on_next_command":
                self.slot.lift_on_next_command(int(request.get("after", 0)))
                return {"ok": True}
            if action == "journal":
                card = self.slot.card
                return {"ok": True, "commands": [list(c) for c in card.journal] if card else []}
            if action == "state":
                card = self.slot.card
                return {"ok": True, "placed": card is not None, "connected": self.slot.connected(),
                        "tries_left": card.tries_left if card else None,
                        "sign_tries_left": card.sign_tries_left if card else None,
                        "commands": card.commands if card else 0,
                        "connections": self.slot.connections}
            if action == "quit":
                self.stopped.set()
                return {"ok": True}
        except (ValueError, TypeError, RuntimeError, OSError) as e:
            return {"ok": False, "error": str(e)}
        return {"ok": False, "error": f"unknown action {action!r}"}


class _ControlHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
                reply = self.server.controller.handle(request)
            except ValueError as e:
                reply = {"ok": False, "error": f"bad request: {e}"}
            self.wfile.write((json.dumps(reply) + "\n").encode())
            self.wfile.flush()


class _ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def _terminal(controller: Controller) -> None:
    print("commands: lift | place [FILE] | state | quit", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        request = {"do": words[0]}
        if words[0] == "place" and len(words) > 1:
            request["card"] = words[1]
        print(json.dumps(controller.handle(request)), flush=True)
        if controller.stopped.is_set():
            return
    controller.stopped.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hal.card.vcard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--card", help="a card file (cards/*.json written by kiosk-server devinit)")
    parser.add_argument("--host", default="127.0.0.1", help="where vpcd listens (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=35963, help="the vpcd slot's port (default 35963)")
    parser.add_argument("--blocked-sw", default="63C0", choices=["63C0", "6983", "6984"],
                        help="what VERIFY answers on a blocked PIN (default 63C0)")
    parser.add_argument("--chained", action="store_true", help="hand long answers out with 61xx + GET RESPONSE")
    parser.add_argument("--control", help="a Unix socket path for JSON-line control (tests)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="vcard: %(message)s")

    controller = Controller(CardSlot(args.host, args.port))
    if args.card:
        reply = controller.handle({"do": "place", "card": args.card, "blocked_sw": args.blocked_sw,
                                   "chained": args.chained})
        if not reply["ok"]:
            print(f"vcard: {reply['error']}", file=sys.stderr)
            return 2
    server = None
    if args.control:
        if os.path.exists(args.control):
            os.unlink(args.control)
        server = _ControlServer(args.control, _ControlHandler)
        server.controller = controller
        threading.Thread(target=server.serve_forever, name="vcard-control", daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: controller.stopped.set())
    if sys.stdin is not None and sys.stdin.isatty():
        threading.Thread(target=_terminal, args=(controller,), name="vcard-terminal", daemon=True).start()
    print(f"vcard: serving vpcd at {args.host}:{args.port}" + (f", control {args.control}" if server else ""),
          flush=True)
    while not controller.stopped.wait(0.2):  # a timed wait lets SIGTERM's handler run promptly
        pass
    controller.slot.lift()
    if server is not None:
        server.shutdown()
        os.unlink(args.control)
    return 0


if __name__ == "__main__":
    sys.exit(main())
