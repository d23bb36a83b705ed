"""Every error code the server's source can answer is in the one catalogue (server/error_codes.py) with its status,
in the protocol document's table, and in the OpenAPI document (issue #17)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from server.error_codes import ERROR_CODES
from server.errors import _HTTP_CODES

ROOT = Path(__file__).resolve().parents[2]
_RAISED = re.compile(r'(?:ApiError|_send_error\(send,|error_response)\(?\s*(\d{3}), "([a-z_]+)"')


def codes_in_source() -> set[tuple[str, int]]:
    found = set()
    for path in (ROOT / "server").rglob("*.py"):
        for status, code in _RAISED.findall(path.read_text(encoding="utf-8")):
            found.add((code, int(status)))
    found |= {(code, status) for status, code in _HTTP_CODES.items()}
    return found


def catalogue() -> set[tuple[str, int]]:
    return {(code, status) for code, (statuses, _) in ERROR_CODES.items() for status in statuses}


def test_the_source_answers_exactly_the_catalogued_codes():
    source = codes_in_source()
    assert len(source) > 40  # the scan found the raises
    assert source == catalogue()


def test_the_document_table_is_the_catalogue():
    text = (ROOT / "docs" / "kiosk-server-protocol.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Error codes"):text.index("\n## Reason codes")]
    rows = re.findall(r"^\| `([a-z_]+)` \| ([\d/]+) \|", section, re.M)
    assert {(code, int(status)) for code, statuses in rows for status in statuses.split("/")} == catalogue()
    assert len(rows) == len(ERROR_CODES)


def test_openapi_lists_every_code_under_its_status():
    document = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert set(document["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]) == set(ERROR_CODES)
    described: set[tuple[str, int]] = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                described |= {(code, int(status)) for code in re.findall(r"`([a-z_]+)`", response["description"])}
    for status, code in re.findall(r"(\d{3}) `([a-z_]+)`", document["info"]["description"]):
        described.add((code, int(status)))  # not_found, method_not_allowed: answers to paths the document lacks
    assert catalogue() <= described
