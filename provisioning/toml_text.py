"""A small TOML writer for the files provisioning makes (strings, numbers, booleans, lists, nested tables)."""
from __future__ import annotations

import json
from typing import Any, Mapping


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def dumps(data: Mapping[str, Any], prefix: str = "") -> str:
    """TOML text of ``data``: scalars first, then each sub-table under its [header].  A small map of numbers below
    the top level (a hopper's stock, GPIO pins) is written inline."""
    def is_table(value: Any) -> bool:
        return isinstance(value, Mapping) and (prefix == "" or not value or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()))

    out = "".join(f"{_key(k)} = {_value(v)}\n" for k, v in data.items() if not is_table(v))
    for name, table in data.items():
        if is_table(table):
            full = f"{prefix}{_key(name)}"
            body = dumps(table, full + ".")
            scalars = any(not (isinstance(v, Mapping) and is_table_nested(v)) for v in table.values())
            out += (f"\n[{full}]\n" if scalars or not table else "") + body
    return out


def is_table_nested(value: Any) -> bool:
    return isinstance(value, Mapping) and (not value or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()))
