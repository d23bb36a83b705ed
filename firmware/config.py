"""The kiosk's configuration: one TOML file (``/etc/kiosk/kiosk.toml`` on a kiosk; ``kiosk.dev.toml`` in the
repository selects simulators and the local reference server).

Every value is checked when the file is loaded.  A bad value stops the kiosk before it takes any money, with a
message that names the file, the key and what was expected: ``kiosk.toml: [server] url must start with
https:// (got 'http://…')``.  Relative paths are resolved against the directory of the file.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from firmware.server_client import ServerEndpoint

LANGUAGES = ("ja", "en", "zh", "ko", "pt", "vi", "ja-easy")

DEFAULT_TIMEOUTS = {
    "reading": 30.0, "pin": 60.0, "menu": 90.0, "options": 90.0, "confirm": 60.0, "paying": 120.0,
    "issuing": 30.0, "printing": 180.0, "return_card": 60.0, "take_items": 60.0,
}


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class KioskConfig:
    kiosk_id: str
    data_dir: Path
    server: ServerEndpoint
    document_keys: tuple[Path, ...]
    devices: Mapping[str, Mapping[str, Any]]
    language: str = "ja"
    max_copies: int = 5
    timeouts: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS))
    warn_before_timeout_s: float = 15.0
    applications: bool = False  # [kiosk] applications: offer the city's e-applications (電子申請) after sign-in
    control_socket: Path | None = None
    source: Path | None = None
    screen: Mapping[str, Any] = field(default_factory=dict)  # [screen]: read and checked by screens/settings.py
    maintenance: Mapping[str, Any] = field(default_factory=dict)  # [maintenance]: checked by firmware.maintenance
    network: Mapping[str, Any] = field(default_factory=dict)  # [network] vpn_state: the tunnel monitor's state file
    health: Mapping[str, Any] = field(default_factory=dict)  # [health]: checked by firmware.health
    updates: Mapping[str, Any] = field(default_factory=dict)  # [updates]: read by firmware.update_cli (hold_dir here)
    telemetry: Mapping[str, Any] = field(default_factory=dict)  # [telemetry]: checked by firmware.telemetry

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.sqlite"

    @property
    def telemetry_path(self) -> Path:
        return self.data_dir / "telemetry.sqlite"


class _Reader:
    """Reads typed values out of the parsed TOML, naming the file and key in every error."""

    def __init__(self, source: str, base: Path):
        self.source, self.base = source, base

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {where} {message}")

    def table(self, data: Mapping, name: str, required: bool = True) -> Mapping:
        value = data.get(name, None if required else {})
        if not isinstance(value, Mapping):
            raise self.fail(f"[{name}]", "is missing" if value is None else "must be a table")
        return value

    def string(self, table: Mapping, where: str, key: str, default: str | None = None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(f"[{where}] {key}", f"must be a non-empty string (got {value!r})")
        return value

    def number(self, table: Mapping, where: str, key: str, default: float, low: float, high: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise self.fail(f"[{where}] {key}", f"must be a number from {low:g} to {high:g} (got {value!r})")
        return float(value)

    def path(self, table: Mapping, where: str, key: str, must_exist: bool = True) -> Path:
        path = self.base / self.string(table, where, key)
        if must_exist and not path.exists():
            raise self.fail(f"[{where}] {key}", f"names a file that does not exist: {path}")
        return path


def load_config(path: str | Path) -> KioskConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, source=path)


def parse_config(data: Mapping[str, Any], source: Path) -> KioskConfig:
    r = _Reader(source.name, source.parent.resolve())
    kiosk = r.table(data, "kiosk")
    server = r.table(data, "server")
    url = r.string(server, "server", "url")
    if not url.startswith("https://"):
        raise r.fail("[server] url", f"must start with https:// (got {url!r})")
    endpoint = ServerEndpoint(url=url.rstrip("/"), ca=r.path(server, "server", "ca"),
                              client_cert=r.path(server, "server", "client_cert"),
                              client_key=r.path(server, "server", "client_key"),
                              timeout_s=r.number(server, "server", "timeout_s", 10.0, 0.5, 120.0),
                              protocol=_protocol(r, server))
    keys = server.get("document_keys")
    if not isinstance(keys, list) or not keys:
        raise r.fail("[server] document_keys", "must list at least one document-signing public key file")
    if not all(isinstance(k, str) for k in keys):
        raise r.fail("[server] document_keys", "entries must be file names")
    document_keys = tuple(r.path({"document_keys": k}, "server", "document_keys") for k in keys)
    language = kiosk.get("language", "ja")
    if language not in LANGUAGES:
        raise r.fail("[kiosk] language", f"must be one of {', '.join(LANGUAGES)} (got {language!r})")
    timeouts_table = r.table(data, "timeouts", required=False)
    unknown = set(timeouts_table) - set(DEFAULT_TIMEOUTS)
    if unknown:
        raise r.fail("[timeouts]", f"has unknown states: {', '.join(sorted(unknown))}")
    timeouts = {state: r.number(timeouts_table, "timeouts", state, default, 5.0, 3600.0)
                for state, default in DEFAULT_TIMEOUTS.items()}
    payment = r.table(data, "payment", required=False)
    max_copies = r.number(payment, "payment", "max_copies", 5, 1, 20)
    if max_copies != int(max_copies):
        raise r.fail("[payment] max_copies", f"must be a whole number (got {max_copies!r})")
    devices = r.table(data, "devices")
    resolved_devices = {name: _resolve_device_paths(r, name, table) for name, table in devices.items()}
    control = kiosk.get("control_socket")
    return KioskConfig(
        kiosk_id=r.string(kiosk, "kiosk", "id"),
        data_dir=r.base / r.string(kiosk, "kiosk", "data_dir", "var/kiosk"),
        server=endpoint, document_keys=document_keys, devices=resolved_devices, language=language,
        max_copies=int(max_copies), timeouts=timeouts,
        warn_before_timeout_s=r.number(kiosk, "kiosk", "warn_before_timeout_s", 15.0, 0.0, 120.0),
        control_socket=(r.base / control) if isinstance(control, str) else None, source=source,
        applications=_flag(r, kiosk, "applications"),
        screen=dict(r.table(data, "screen", required=False)),
        maintenance=dict(r.table(data, "maintenance", required=False)),
        network=_network(r, r.table(data, "network", required=False)),
        health=dict(r.table(data, "health", required=False)),
        updates=dict(r.table(data, "updates", required=False)),
        telemetry=dict(r.table(data, "telemetry", required=False)),
    )


def _flag(r: _Reader, table: Mapping, key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise r.fail(f"[kiosk] {key}", f"must be true or false (got {value!r})")
    return value


def _network(r: _Reader, table: Mapping) -> Mapping[str, Any]:
    unknown = set(table) - {"vpn_state"}
    if unknown:
        raise r.fail("[network]", f"has unknown keys: {', '.join(sorted(unknown))} (known: vpn_state)")
    return {"vpn_state": r.base / r.string(table, "network", "vpn_state")} if "vpn_state" in table else {}


_PATH_KEYS = ("cards_dir", "out_dir", "prompts_dir")


def _resolve_device_paths(r: _Reader, name: str, table: Any) -> Mapping[str, Any]:
    if not isinstance(table, Mapping) or not isinstance(table.get("driver"), str):
        raise r.fail(f"[devices.{name}]", "must be a table with a driver name")
    return {k: (str(r.base / v) if k in _PATH_KEYS and isinstance(v, str) else v) for k, v in table.items()}



def _protocol(r: _Reader, server: Mapping) -> int:
    """``[server] protocol``: 2 (the default) or 1 for a certificate server that speaks only version 1."""
    value = server.get("protocol", 2)
    if isinstance(value, bool) or value not in (1, 2):
        raise r.fail("[server] protocol", f"must be 1 or 2 (got {value!r})")
    return value
