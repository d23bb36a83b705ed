"""Build the kiosk's devices from configuration: real drivers or simulators, one table per device.

The configuration is the ``[devices]`` part of ``kiosk.toml`` as parsed::

    [devices.card_reader]
    driver = "sim"
    cards_dir = ".dev/cards"

    [devices.hoppers]
    driver = "sim"
    stock = { "500" = 40, "100" = 50, "50" = 40, "10" = 50 }

``build_devices(config["devices"])`` returns a :class:`Devices`; ``await devices.start_all(sink)`` starts them all.

Each device table names a ``driver``.  A driver is a function registered in :data:`DRIVERS` under
``(kind, driver name)``; it receives the table's other keys as :class:`Options` and returns the device (for
``hoppers``: a list, one hopper per coin value).  The simulators register here; a real driver module
``hal/<package>/<driver>.py`` registers itself with :func:`register_driver` when imported, and the factory imports
it the first time its name is asked for (``driver = "id003"`` on ``notes`` imports ``hal.notes.id003``).

Every mistake raises :class:`DeviceConfigError` naming the device and the key, e.g.
``devices.hoppers: stock for 500 yen must be a whole number ≥ 0, got -3``.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from hal.events import EventSink

log = logging.getLogger(__name__)

KINDS = ("card_reader", "notes", "coins", "hoppers", "printer", "signals", "voice")
PACKAGES = {"card_reader": "card", "notes": "notes", "coins": "coins", "hoppers": "coins", "printer": "printer",
            "signals": "signals", "voice": "voice"}


class DeviceConfigError(ValueError):
    """The device configuration is wrong; the message says which device, which key and why."""


class Options:
    """One device's configuration table, read key by key with checks that explain themselves."""

    def __init__(self, kind: str, table: Mapping[str, Any]):
        self.kind = kind
        self._table = dict(table)
        self._read: set[str] = {"driver"}

    def fail(self, message: str) -> DeviceConfigError:
        return DeviceConfigError(f"devices.{self.kind}: {message}")

    def has(self, key: str) -> bool:
        return key in self._table

    def raw(self, key: str, default: Any = None) -> Any:
        self._read.add(key)
        return self._table.get(key, default)

    def path(self, key: str, default: str | None = None) -> Path | None:
        value = self.raw(key, default)
        if value is None:
            return None
        if not isinstance(value, (str, Path)) or not str(value):
            raise self.fail(f"{key} must be a path, got {value!r}")
        return Path(value)

    def number(self, key: str, default: float, minimum: float = 0.0) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise self.fail(f"{key} must be a number ≥ {minimum:g}, got {value!r}")
        return float(value)

    def optional_number(self, key: str, default: float | None, minimum: float = 0.0) -> float | None:
        if self.raw(key, default) is None:
            return None
        return self.number(key, default if default is not None else minimum, minimum)

    def whole(self, key: str, default: int | None, minimum: int = 0, what: str | None = None) -> int | None:
        value = self.raw(key, default)
        if value is None:
            return None
        return whole_number(value, minimum, lambda got: self.fail(f"{what or key} must be a whole number ≥ {minimum}, "
                                                                  f"got {got!r}"))

    def yen_set(self, key: str, allowed: frozenset[int]) -> frozenset[int]:
        value = self.raw(key, sorted(allowed))
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise self.fail(f"{key} must be a list of yen values out of {sorted(allowed)}, got {value!r}")
        values = list(value)
        if not values or any(isinstance(v, bool) or v not in allowed for v in values):
            raise self.fail(f"{key} must be a list of yen values out of {sorted(allowed)}, got {value!r}")
        return frozenset(values)

    def strings(self, key: str) -> list[str]:
        value = self.raw(key, [])
        if isinstance(value, str) or not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key} must be a list of strings, got {value!r}")
        return list(value)

    def rest(self) -> dict[str, Any]:
        """The keys not read so far (for a device that takes them as they are)."""
        rest = {k: v for k, v in self._table.items() if k not in self._read}
        self._read.update(rest)
        return rest

    def finish(self) -> None:
        """Refuse keys nobody read: a typo in a key must not pass for a default."""
        unknown = sorted(set(self._table) - self._read)
        if unknown:
            raise self.fail(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                            f"for driver {self._table.get('driver')!r}")


def whole_number(value: Any, minimum: int, error: Callable[[Any], Exception]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise error(value)
    return value


DeviceBuilder = Callable[[Options], Any]
DRIVERS: dict[tuple[str, str], DeviceBuilder] = {}
"""``(kind, driver name)`` → a function building the device from its :class:`Options`."""


def register_driver(kind: str, name: str) -> Callable[[DeviceBuilder], DeviceBuilder]:
    """Decorator: make ``driver = name`` on device ``kind`` build with the decorated function."""
    if kind not in KINDS:
        raise ValueError(f"no device kind {kind!r}; kinds are {', '.join(KINDS)}")

    def register(builder: DeviceBuilder) -> DeviceBuilder:
        DRIVERS[(kind, name)] = builder
        return builder
    return register


@dataclass
class Devices:
    """The kiosk's devices, one of each kind and one hopper per coin value (largest first)."""

    card_reader: Any
    notes: Any
    coins: Any
    hoppers: list = field(default_factory=list)
    printer: Any = None
    signals: Any = None
    voice: Any = None

    def all(self) -> list:
        """Every device, in the order they start."""
        singles = [self.card_reader, self.notes, self.coins]
        rest = [self.printer, self.signals, self.voice]
        return [d for d in singles + list(self.hoppers) + rest if d is not None]

    def hopper(self, coin_value: int):
        """The hopper paying coins of ``coin_value`` yen, or None."""
        return next((h for h in self.hoppers if h.coin_value == coin_value), None)

    async def start_all(self, sink: EventSink) -> None:
        """Start every device.  If one fails, those already started are stopped again and the error raised."""
        started = []
        try:
            for device in self.all():
                await device.start(sink)
                started.append(device)
        except BaseException:
            await _stop(reversed(started))
            raise

    async def start_each(self, sink: EventSink) -> list:
        """Start every device that will start; return those that did not (each failure logged).  An appliance
        keeps running with a device that failed at boot (out of service, trying it again) rather than exit."""
        failed = []
        for device in self.all():
            try:
                await device.start(sink)
            except Exception as e:
                log.error("%s did not start: %s", getattr(device, "name", device), e)
                failed.append(device)
        return failed

    async def stop_all(self) -> None:
        """Stop every device (in reverse order); a device that fails to stop does not keep the others running."""
        await _stop(reversed(self.all()))


async def _stop(devices: Iterable) -> None:
    for device in devices:
        try:
            await device.stop()
        except Exception:
            log.exception("%s did not stop cleanly", getattr(device, "name", device))


def build_devices(config: Mapping[str, Mapping[str, Any]]) -> Devices:
    """Build every device from the ``[devices]`` configuration.  Raises :class:`DeviceConfigError`."""
    if not isinstance(config, Mapping):
        raise DeviceConfigError(f"devices must be a table of device tables, got {type(config).__name__}")
    unknown = sorted(set(config) - set(KINDS))
    if unknown:
        raise DeviceConfigError(f"devices: unknown device {', '.join(unknown)} (devices are {', '.join(KINDS)})")
    built = {kind: build_device(kind, config.get(kind)) for kind in KINDS}
    return Devices(**built)


def build_device(kind: str, table: Mapping[str, Any] | None) -> Any:
    """Build one device (for ``hoppers``: the list of hoppers) from its configuration table."""
    if table is None:
        raise DeviceConfigError(f"devices.{kind}: not configured (add [devices.{kind}] with a driver)")
    if not isinstance(table, Mapping):
        raise DeviceConfigError(f"devices.{kind}: must be a table with a driver, got {table!r}")
    name = table.get("driver")
    if not isinstance(name, str) or not name:
        raise DeviceConfigError(f"devices.{kind}: driver must be a driver name ({_known(kind)}), got {name!r}")
    builder = _driver(kind, name)
    options = Options(kind, table)
    device = builder(options)
    options.finish()
    return device


def _driver(kind: str, name: str) -> DeviceBuilder:
    if (kind, name) not in DRIVERS and name.isidentifier():
        module = f"hal.{PACKAGES[kind]}.{name}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise DeviceConfigError(f"devices.{kind}: driver {name!r} needs {e.name}, which is not installed") \
                    from None
    try:
        return DRIVERS[(kind, name)]
    except KeyError:
        raise DeviceConfigError(f"devices.{kind}: unknown driver {name!r} (known: {_known(kind)})") from None


def _known(kind: str) -> str:
    return ", ".join(sorted(n for k, n in DRIVERS if k == kind)) or "none"


# -- the simulators ------------------------------------------------------------------------------------------------

@register_driver("card_reader", "sim")
def _sim_card_reader(o: Options):
    from hal.card.sim import SimCardReader
    return SimCardReader(cards_dir=o.path("cards_dir"), latency=o.number("latency", 0.0))


@register_driver("notes", "sim")
def _sim_notes(o: Options):
    from hal.notes.contract import YEN_NOTES
    from hal.notes.sim import SimNoteValidator
    return SimNoteValidator(denominations=o.yen_set("denominations", YEN_NOTES),
                            capacity=o.whole("capacity", None, minimum=1),
                            retry_interval=o.optional_number("retry_interval", 0.5),
                            latency=o.number("latency", 0.0))


@register_driver("coins", "sim")
def _sim_coins(o: Options):
    from hal.coins.contract import YEN_COINS
    from hal.coins.sim import SimCoinAcceptor
    return SimCoinAcceptor(denominations=o.yen_set("denominations", YEN_COINS),
                           retry_interval=o.optional_number("retry_interval", 0.5))


@register_driver("hoppers", "sim")
def _sim_hoppers(o: Options):
    from hal.coins.contract import YEN_COINS
    from hal.coins.sim import SimHopper
    stock = o.raw("stock")
    if not isinstance(stock, Mapping) or not stock:
        raise o.fail(f"stock must be a table of coin value → coin count, e.g. {{ \"100\" = 50 }}, got {stock!r}")
    low_level = o.whole("low_level", 10)
    latency = o.number("latency_per_coin", 0.0)
    hoppers = []
    for key, count in stock.items():
        value = int(key) if isinstance(key, str) and key.isdigit() else key
        if value not in YEN_COINS or isinstance(value, bool):
            raise o.fail(f"stock has {key!r}, which is not a yen coin value ({', '.join(map(str, sorted(YEN_COINS)))})")
        whole_number(count, 0, lambda got: o.fail(f"stock for {value} yen must be a whole number ≥ 0, got {got!r}"))
        hoppers.append(SimHopper(coin_value=value, stock=count, low_level=low_level, latency_per_coin=latency))
    if len({h.coin_value for h in hoppers}) != len(hoppers):
        raise o.fail("stock names a coin value twice")
    return sorted(hoppers, key=lambda h: -h.coin_value)


@register_driver("printer", "sim")
def _sim_printer(o: Options):
    from hal.printer.sim import SimPrinter  # imported here: the printer simulator is its own module
    kwargs: dict[str, Any] = {}
    if o.has("out_dir"):
        kwargs["out_dir"] = o.path("out_dir")
    for key in ("dpi", "width_dots"):
        if o.has(key):
            kwargs[key] = o.whole(key, None, minimum=1)
    kwargs.update(o.rest())
    try:
        return SimPrinter(**kwargs)
    except TypeError as e:
        raise o.fail(f"the simulated printer does not take these options: {e}") from None
    except ValueError as e:
        raise o.fail(str(e)) from None


@register_driver("signals", "sim")
def _sim_signals(o: Options):
    from hal.signals.sim import SimIndicators
    return SimIndicators()


@register_driver("voice", "sim")
def _sim_voice(o: Options):
    from hal.voice.sim import SimVoice
    return SimVoice(missing=o.strings("missing"))
