"""The *config* step: ``kiosk.toml`` from the template (provisioning/templates/kiosk.toml), the city's answers and
what enrolment gave, checked by the kiosk's own loader (:func:`firmware.config.parse_config`) before it is
written atomically.  A value the kiosk would refuse is refused here, with the kiosk's own message."""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from firmware.config import ConfigError, parse_config
from provisioning.files import atomic_write
from provisioning.layout import Layout
from provisioning.toml_text import dumps

ANSWER_TABLES = ("kiosk", "payment", "devices", "screen", "timeouts", "maintenance")
_PATH_KEYS = ("cards_dir", "out_dir", "prompts_dir", "sounds_dir")


def template() -> dict:
    return tomllib.loads(resources.files("provisioning").joinpath("templates/kiosk.toml").read_text("utf-8"))


def _merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, Mapping) and isinstance(
            out.get(key), dict) else value
    return out


def load_answers(path: Path | None) -> dict:
    """The city's answers; relative device paths resolved against the answers file."""
    if path is None:
        return {}
    try:
        answers = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path.name}: cannot read the answers ({exc})") from None
    unknown = set(answers) - set(ANSWER_TABLES)
    if unknown:
        raise ConfigError(f"{path.name}: unknown tables {', '.join(sorted(unknown))} (answers may hold "
                          f"{', '.join(ANSWER_TABLES)})")
    for table in answers.get("devices", {}).values():
        if isinstance(table, dict):
            for key in _PATH_KEYS:
                if isinstance(table.get(key), str):
                    table[key] = str((path.parent / table[key]).resolve())
    return answers


VPN_STATE = "../../run/kiosk-vpn/state.json"  # written by firmware.network (kiosk-vpn.service), read by the kiosk


def build(layout: Layout, kiosk_id: str, server_url: str, answers: Mapping, with_vpn: bool = False) -> dict:
    data = _merge(template(), answers)
    data["kiosk"] = {**data.get("kiosk", {}), "id": kiosk_id}
    data["server"] = {**data.get("server", {}), "url": server_url, "ca": "tls/ca.pem",
                      "client_cert": "tls/device.pem", "client_key": "tls/device-key.pem",
                      "document_keys": ["signing/document-pub.pem"]}
    if with_vpn:
        data["network"] = {"vpn_state": VPN_STATE}
    return data


def write(layout: Layout, data: Mapping[str, Any]) -> Path:
    """Check ``data`` as the kiosk will, then write it atomically; raises ConfigError with the kiosk's message."""
    text = dumps(data)
    for directory in ("data_dir",):
        (layout.etc / data["kiosk"].get(directory, "")).mkdir(parents=True, exist_ok=True)
    out_dir = data["devices"].get("printer", {}).get("out_dir")
    if isinstance(out_dir, str):
        (layout.etc / out_dir).mkdir(parents=True, exist_ok=True)
    parse_config(tomllib.loads(text), layout.kiosk_toml)
    return atomic_write(layout.kiosk_toml, text)
