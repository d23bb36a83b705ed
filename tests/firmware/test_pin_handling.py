"""PIN digits never become an immutable ``str`` on the kiosk's side where the code can avoid it: the intent holds a
:class:`hal.card.Pin` (a bytearray), the controller wipes it once handled, and the citizen card's password goes
into the server's JSON body through a bytearray that is wiped after the call (README, "PINs in memory")."""
from __future__ import annotations

import asyncio
import json
from dataclasses import fields
from pathlib import Path

import httpx
import pytest

from firmware import operations as ops
from firmware.headless import intent_commands
from firmware.server_client import ServerClient, ServerEndpoint
from firmware.visit import EnterPin
from hal.card import Pin


def strings_in(value, seen=None) -> list[str]:
    """Every ``str`` reachable from ``value`` through its attributes, slots and containers."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, bytearray, int, float, bool, type(None))):
        return []
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            found += strings_in(k, seen) + strings_in(v, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            found += strings_in(item, seen)
    for name in getattr(type(value), "__slots__", ()):
        if hasattr(value, name):
            found += strings_in(getattr(value, name), seen)
    for item in getattr(value, "__dict__", {}).values():
        found += strings_in(item, seen)
    return found


def test_the_pin_intent_holds_no_str_of_the_digits():
    typed = bytearray(b"4821")  # as the PIN pad builds it
    intent = EnterPin.of(typed)
    typed[:] = bytes(4)  # the pad wipes its own at once: the intent has its own copy
    assert [f.name for f in fields(intent)] == ["pin"] and isinstance(intent.pin, Pin)
    assert not any("4821" in s for s in strings_in(intent))
    assert intent.pin.ascii_bytes() == b"4821"
    assert "4821" not in repr(intent) and "4821" not in str(intent.pin)
    intent.pin.wipe()
    assert intent.pin.wiped


def test_the_control_socket_pin_command_sends_a_pin_not_a_str():
    class Kiosk:
        sent = []

        def send(self, intent):
            self.sent.append(intent)

    kiosk = Kiosk()
    asyncio.run(intent_commands(kiosk)["enter_pin"]({"pin": "1234"}))
    asyncio.run(intent_commands(kiosk)["enter_pin"]({"pin": "12a4"}))
    good, bad = kiosk.sent
    assert isinstance(good.pin, Pin) and good.pin.ascii_bytes() == b"1234"
    assert bad.pin is None  # not a PIN: the visit says pin_format, nothing reaches the card


def test_a_pin_from_a_bytearray_is_checked_and_copies_without_a_str():
    for bad in (bytearray(b"123"), bytearray(b"12345"), bytearray(b"12a4"), b"\x00\x01\x02\x03", 1234):
        with pytest.raises(ValueError):
            Pin(bad)
    pin = Pin(bytearray(b"0007"))
    copy = pin.copy()
    pin.wipe()
    assert pin.wiped and not copy.wiped and copy.ascii_bytes() == b"0007"
    with pytest.raises(ValueError):
        pin.copy()


def test_the_citizen_password_reaches_the_server_body_from_the_pin_and_the_pin_is_wiped():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("menu"):
            return httpx.Response(200, json={"offers": []})
        bodies.append((request.headers["content-type"], json.loads(request.content)))
        return httpx.Response(200, json={"session_token": "t", "subject_ref": "abcdef0123456789",
                                         "expires_at": "2026-01-01T00:00:00Z", "menu": {"offers": []}})

    async def main():
        endpoint = ServerEndpoint("https://server.test", Path("ca"), Path("c"), Path("k"))
        client = ServerClient(endpoint, transport=httpx.MockTransport(handler))
        pin = Pin(bytearray(b"2580"))
        try:
            signed = await ops.sign_in_citizen(client, 'C-"1', pin)
        finally:
            await client.aclose()
        return signed, pin

    signed, pin = asyncio.run(main())
    assert bodies[0] == ("application/json", {"method": "citizen_card", "card_id": 'C-"1', "password": "2580"})
    assert pin.wiped and signed.session.token == "t"


def test_the_citizen_password_must_be_a_pin():
    async def main():
        endpoint = ServerEndpoint("https://server.test", Path("ca"), Path("c"), Path("k"))
        client = ServerClient(endpoint, transport=httpx.MockTransport(lambda r: httpx.Response(500)))
        try:
            await client.sign_in_citizen("C1", b"2580")
        finally:
            await client.aclose()
    with pytest.raises(TypeError):
        asyncio.run(main())
