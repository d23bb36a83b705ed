"""The device factory: a development config builds simulators; every mistake names the device and the key."""
from __future__ import annotations

import asyncio
import copy

import pytest

from hal.coins.sim import SimHopper
from hal.factory import DRIVERS, DeviceConfigError, Devices, build_devices, register_driver

DEV = {
    "card_reader": {"driver": "sim", "cards_dir": "/tmp/cards"},
    "notes": {"driver": "sim"},
    "coins": {"driver": "sim"},
    "hoppers": {"driver": "sim", "stock": {"500": 40, "100": 50, "50": 40, "10": 50}},
    "printer": {"driver": "sim", "dpi": 203},
    "signals": {"driver": "sim"},
    "voice": {"driver": "sim"},
}


def config(**changes):
    c = copy.deepcopy(DEV)
    for path, value in changes.items():
        kind, _, key = path.partition("__")
        if key:
            c[kind][key] = value
        elif value is None:
            del c[kind]
        else:
            c[kind] = value
    return c


def test_the_development_config_builds_every_simulator():
    devices = build_devices(DEV)
    assert [h.coin_value for h in devices.hoppers] == [500, 100, 50, 10]
    assert devices.hopper(100).coins_estimate() == 50 and devices.hopper(5) is None
    assert str(devices.card_reader.cards_dir) == "/tmp/cards"
    assert len(devices.all()) == 10 and len({d.name for d in devices.all()}) == 10


@pytest.mark.parametrize("changes, message", [
    ({"hoppers__stock": {"500": -3}}, "devices.hoppers: stock for 500 yen must be a whole number ≥ 0, got -3"),
    ({"hoppers__stock": {"500": 2.5}}, "devices.hoppers: stock for 500 yen must be a whole number ≥ 0, got 2.5"),
    ({"hoppers__stock": {"5": 3}}, "devices.hoppers: stock has '5', which is not a yen coin value"),
    ({"hoppers__stock": {}}, "devices.hoppers: stock must be a table"),
    ({"notes__driver": "id9999"}, "devices.notes: unknown driver 'id9999' (known: "),
    ({"coins__driver": None}, "devices.coins: driver must be a driver name"),
    ({"notes__capcity": 3}, "devices.notes: unknown key capcity for driver 'sim'"),
    ({"notes__capacity": 0}, "devices.notes: capacity must be a whole number ≥ 1, got 0"),
    ({"notes__denominations": [1000, 3000]}, "devices.notes: denominations must be a list of yen values"),
    ({"coins__denominations": "100"}, "devices.coins: denominations must be a list of yen values"),
    ({"card_reader__latency": -1}, "devices.card_reader: latency must be a number ≥ 0, got -1"),
    ({"voice__missing": "welcome"}, "devices.voice: missing must be a list of strings"),
    ({"signals": None}, "devices.signals: not configured"),
    ({"printer": "sim"}, "devices.printer: must be a table with a driver"),
    ({"printer__dpi": 0}, "devices.printer: dpi must be a whole number ≥ 1, got 0"),
    ({"printer__colour": True}, "devices.printer: the simulated printer does not take these options"),
    ({"lights": {"driver": "sim"}}, "devices: unknown device lights"),
])
def test_a_bad_config_names_the_device_and_the_key(changes, message):
    with pytest.raises(DeviceConfigError) as error:
        build_devices(config(**changes))
    assert str(error.value).startswith(message)


def test_a_registered_driver_is_used():
    built = []

    @register_driver("voice", "recording")
    def recording_voice(options):
        built.append(options.raw("volume"))
        from hal.voice.sim import SimVoice
        return SimVoice(name="voice")

    try:
        build_devices(config(voice={"driver": "recording", "volume": 7}))
        assert built == [7]
    finally:
        del DRIVERS[("voice", "recording")]


class Recorder:
    def __init__(self, name, log, fail=False):
        self.name, self.log, self.fail = name, log, fail

    async def start(self, sink):
        if self.fail:
            raise OSError("no such port")
        self.log.append(("start", self.name))

    async def stop(self):
        self.log.append(("stop", self.name))


def test_start_all_undoes_a_partial_start_and_stop_all_stops_in_reverse():
    log = []
    devices = Devices(card_reader=Recorder("a", log), notes=Recorder("b", log), coins=Recorder("c", log, fail=True),
                      hoppers=[Recorder("h", log)])

    async def discard(event):
        pass
    with pytest.raises(OSError):
        asyncio.run(devices.start_all(discard))
    assert log == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]
    log.clear()
    devices.coins.fail = False
    asyncio.run(devices.start_all(discard))
    asyncio.run(devices.stop_all())
    assert log[4:] == [("stop", "h"), ("stop", "c"), ("stop", "b"), ("stop", "a")]


def test_hoppers_are_simulated_with_the_stock_configured():
    devices = build_devices(config(hoppers__low_level=5))
    assert all(isinstance(h, SimHopper) and h.low_level == 5 for h in devices.hoppers)
    assert devices.hopper(500).stock == 40
