"""Whole visits with the real output drivers: the ESC/POS printer over loopback TCP to the printer emulator, the
GPIO signals on gpiozero's mock PWM pins, the aplay voice on ALSA's null device.  The kiosk only knows them by
configuration."""
from __future__ import annotations

import pytest
from gpiozero import Device

from hal.signals.gpio import LEAD_TONES
from tests.contracts.gpio_harness import ToneRecordingPin, note_of
from tests.contracts.voice_harness import write_tone
from tests.support.escpos_decoder import decode
from tests.support.emulators import PrinterEmulator

PINS = {"lights": {"card_reader": 5, "outlet": 6}, "buzzer": 12, "beacon": 16, "door": 20}
# The door switch here is wired to read high (released, with the pull-up) while the door is shut.
DOOR_SWITCH = "open_when_shut"


@pytest.fixture
def real_outputs(kiosk_config, tmp_path):
    from gpiozero.pins.mock import MockFactory
    before = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=ToneRecordingPin)
    emulator = PrinterEmulator()
    host, port = emulator.start_tcp()
    write_tone(tmp_path / "voice" / "ja" / "prompt.idle.wav", 8000, 0.2)  # the other prompts are missing
    config = kiosk_config(**{
        "devices.printer": {"driver": "escpos", "connection": "network", "host": host, "port": port,
                            "width_dots": 1680, "poll_interval": 0.05},
        "devices.signals": {"driver": "gpio", **PINS, "door_switch": DOOR_SWITCH},
        "devices.voice": {"driver": "player", "sounds_dir": str(tmp_path / "voice"), "audio_device": "null"},
    })
    yield config, emulator, Device.pin_factory
    emulator.stop()
    Device.pin_factory.reset()
    Device.pin_factory = before


def test_a_paid_visit_prints_on_the_escpos_printer_and_ends_when_the_sheet_is_taken(run_kiosk, real_outputs):
    config, emulator, pins = real_outputs

    async def visit(k):
        await k.to_payment()
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card")
        await k.do("lift_card")
        await k.wait("take_items")
        assert emulator.document_waiting  # the sheet lies in the printer's outlet
        emulator.take_document()  # the resident takes it: the outlet sensor, polled by the driver, tells the kiosk
        await k.wait("idle", 5)
        return k.audit.ids()

    audit = run_kiosk(visit, config=config)
    visit_events = [a for a in audit if a.startswith(("visit.", "print.", "reminder."))]  # (the outbox runs apart)
    assert "print.completed" in visit_events and visit_events[-1] == "visit.ended"
    (sheet,) = decode(bytes(emulator.received)).sheets  # strict: the stream holds nothing but commands
    assert sheet.cut == "full" and sheet.bits.shape[1] <= 1680 and 2000 < sheet.bits.shape[0] <= 2400
    assert 0.01 < sheet.bits.mean() < 0.5
    assert emulator.errors == [] and not emulator.overflowed
    # voice prompts whose files are missing fell back to the buzzer: its pin played ATTENTION's lead tone
    heard = {LEAD_TONES.get(note_of(hz)) for _, hz in pins.pin(PINS["buzzer"]).tones if hz}
    assert any(p is not None and p.value == "attention" for p in heard)


def test_opening_the_door_on_its_gpio_switch_takes_the_kiosk_out_of_service(run_kiosk, real_outputs):
    config, emulator, pins = real_outputs

    async def visit(k):
        pins.pin(PINS["door"]).drive_low()  # the door opens: its switch closes to ground
        await k.wait("out_of_service", 5)
        return k.kiosk.view.out_of_service_reason, pins.pin(PINS["beacon"]).state, k.audit.ids()

    reason, beacon, audit = run_kiosk(visit, config=config)
    assert reason == "door_open" and beacon == 1.0 and "door.opened" in audit
