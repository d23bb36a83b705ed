"""A sign-in with the REAL card reader driver: the kiosk configured with ``driver = "pcsc"``, the real pcscd with
vpcd, the virtual card playing devinit's resident-a card (its JPKI key and certificate chain), and the real
reference server checking the signature the card made over the wire."""
from __future__ import annotations

import json
import shutil

from tests.support.pcsc import READERS, require_pcsc_world

SLOT = 1


def test_a_resident_signs_in_through_the_real_reader_and_a_wrong_pin_counts_on_the_chip(run_kiosk, kiosk_config,
                                                                                       dev_world, tmp_path):
    world = require_pcsc_world()
    card = tmp_path / "resident-a.json"
    shutil.copy(dev_world / "cards" / "resident-a.json", card)
    config = kiosk_config(**{"devices.card_reader": {"driver": "pcsc", "reader": READERS[SLOT],
                                                     "poll_interval": 0.05, "retry_interval": 0.05}})
    world.card("lift", slot=SLOT)
    world.wait_for_no_card(READERS[SLOT])

    async def visit(k):
        world.card("place", slot=SLOT, card=str(card))
        await k.wait("pin")
        assert k.kiosk.view.tries_left == 3
        await k.do("enter_pin", pin="9999")
        for _ in range(1000):  # up to ~10 s on a loaded machine
            if k.kiosk.view.tries_left == 2 and not k.kiosk.view.busy:
                break
            await k.do("state")
        assert k.kiosk.view.tries_left == 2 and k.kiosk.view.message == "pin_wrong"
        await k.do("enter_pin", pin="1234")
        await k.wait("menu")
        return k.audit.ids()

    try:
        audit = run_kiosk(visit, config)
    finally:
        world.card("lift", slot=SLOT)  # after the kiosk let go of the card (see tests/contracts/pcsc_harness.py)
    assert "signin.succeeded" in audit and audit.count("card.pin_wrong") == 1
    assert json.loads(card.read_text())["tries_left"] == 3  # the chip's counter, written back by the virtual card
