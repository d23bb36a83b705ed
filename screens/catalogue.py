"""One string catalogue keyed by message id, one TOML file per language in ``screens/strings/``.

The firmware names things by id (``prompt.pin``, ``pin_last_try``, ``reason.under_15``, ``print_failed.paper_out``);
the catalogue turns an id into the resident's language.  A firmware message id ``a.b`` is looked up as ``msg.a.b``,
then ``msg.a`` (its family), then ``msg.other``: a new firmware code never shows a raw id to a resident.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from firmware.config import LANGUAGES

STRINGS_DIR = Path(__file__).with_name("strings")
DEFAULT_LANGUAGE = "ja"
JAPANESE = ("ja", "ja-easy")  # the languages whose voice reads the city's Japanese data (names, items) as it is


class CatalogueError(Exception):
    pass


@lru_cache(maxsize=None)
def load(language: str) -> dict[str, str]:
    path = STRINGS_DIR / f"{language}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"no string catalogue for language {language!r} ({path})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: not valid TOML ({exc})") from None
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        raise CatalogueError(f"{path}: values must be strings ({', '.join(bad)})")
    return data


def missing_ids() -> dict[str, list[str]]:
    """For each language, the ids the default language has and it lacks (and the other way round)."""
    reference = set(load(DEFAULT_LANGUAGE))
    report = {}
    for language in LANGUAGES:
        ids = set(load(language))
        gaps = sorted((reference - ids) | (ids - reference))
        if gaps:
            report[language] = gaps
    return report


class Strings:
    """``t = Strings("en"); t("paying.due")``; ``t.money(300)`` → "¥300"; ``t.message("print_failed.jammed")``."""

    def __init__(self, language: str):
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self._table = load(self.language)

    def __call__(self, message_id: str, **values) -> str:
        text = self._table.get(message_id)
        if text is None:
            text = load(DEFAULT_LANGUAGE).get(message_id, message_id)
        return text.format(**values) if values else text

    def has(self, message_id: str) -> bool:
        return message_id in self._table

    def money(self, amount: int) -> str:
        return self("yen", amount=f"{amount:,}")

    def message(self, firmware_id: str | None) -> str:
        """The text for a firmware message id (``msg.<id>``, else its family ``msg.<first part>``)."""
        if not firmware_id:
            return ""
        for candidate in (f"msg.{firmware_id}", f"msg.{firmware_id.split('.')[0]}"):
            if candidate in self._table:
                return self._table[candidate]
        return self._table["msg.other"]

    def reason(self, code: str | None) -> str:
        return self._table.get(f"reason.{code}", self._table["reason.other"])

    def out_of_service(self, reason: str | None) -> str:
        reason = reason or "other"
        if reason.startswith("printer_"):
            reason = "printer"
        return self._table.get(f"oos.{reason}", self._table["oos.other"])
