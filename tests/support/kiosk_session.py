"""Run a whole kiosk in the test's own event loop: simulated devices, the real journal, and the reference server
over HTTPS.  Used by the end-to-end tests and the visit benchmark."""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from firmware.assembly import Assembled, assemble
from firmware.audit import AuditLog
from firmware.clock import Clock, SystemClock
from firmware.config import parse_config
from firmware.headless import all_commands, wait_for_state
from firmware.visit import VisitState


def kiosk_config_data(dev_dir: Path, work: Path, server_url: str, **overrides) -> dict:
    """A kiosk configuration (as parsed TOML) that uses the dev environment's keys and a copy of its cards."""
    cards = work / "cards"
    if not cards.exists():
        shutil.copytree(dev_dir / "cards", cards)
    data = {
        "kiosk": {"id": "kiosk-dev-01", "data_dir": str(work / "kiosk")},
        "server": {"url": server_url, "ca": str(dev_dir / "tls/ca.pem"),
                   "client_cert": str(dev_dir / "tls/kiosk-dev-01.pem"),
                   "client_key": str(dev_dir / "tls/kiosk-dev-01-key.pem"),
                   "document_keys": [str(dev_dir / "signing/document-pub.pem")], "timeout_s": 5},
        "devices": {
            "card_reader": {"driver": "sim", "cards_dir": str(cards)},
            "notes": {"driver": "sim"}, "coins": {"driver": "sim"},
            "hoppers": {"driver": "sim", "stock": {"500": 40, "100": 50, "50": 40, "10": 50}},
            "printer": {"driver": "sim", "out_dir": str(work / "printed"), "dpi": 203},
            "signals": {"driver": "sim"}, "voice": {"driver": "sim"},
        },
    }
    for dotted, value in overrides.items():
        table, key = dotted.split(".", 1) if "." in dotted else (dotted, None)
        if key is None:
            data[table] = value
        else:
            node = data.setdefault(table, {})
            *parents, last = key.split(".")
            for parent in parents:
                node = node.setdefault(parent, {})
            node[last] = value
    return data


class KioskSession:
    """``async with KioskSession(config_data, work) as k:`` — a started kiosk; ``await k.do("insert_coin",
    value=100)``; ``await k.wait("paying")``."""

    def __init__(self, config_data: dict, work: Path, clock: Clock | None = None):
        self.config = parse_config(config_data, source=work / "kiosk.toml")
        self.clock = clock or SystemClock()
        self.audit = AuditLog()
        self.parts: Assembled | None = None

    async def __aenter__(self) -> "KioskSession":
        self.parts = assemble(self.config, clock=self.clock, audit=self.audit)
        await self.parts.kiosk.start()
        self.commands = all_commands(self.parts.kiosk)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.parts.close()

    @property
    def kiosk(self):
        return self.parts.kiosk

    @property
    def devices(self):
        return self.parts.devices

    @property
    def journal(self):
        return self.parts.journal

    @property
    def state(self) -> VisitState:
        return self.kiosk.view.state

    async def do(self, command: str, **args) -> dict:
        reply = await self.commands[command](args)
        await asyncio.sleep(0.01)
        return reply

    async def wait(self, state: str, timeout: float = 15.0) -> None:
        await wait_for_state(self.kiosk, VisitState(state), timeout)

    async def sign_in(self, card: str = "resident-a", pin: str = "1234") -> None:
        await self.do("place_card", card=card)
        await self.wait("pin")
        await self.do("enter_pin", pin=pin)
        await self.wait("menu")

    async def to_payment(self, certificate: str = "residence_record_copy", copies: int = 1,
                         card: str = "resident-a") -> None:
        await self.sign_in(card)
        await self.do("choose", certificate=certificate)
        await self.wait("options")
        await self.do("options", copies=copies)
        await self.wait("confirm")
        await self.do("confirm")
        await self.wait("paying")
