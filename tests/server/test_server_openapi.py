"""docs/openapi.json must be the app's current schema (regenerate: kiosk-server openapi -o docs/openapi.json)."""
from __future__ import annotations

import json
from pathlib import Path

from server.app import openapi_json

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_app():
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == json.loads(openapi_json()), \
        "docs/openapi.json is stale: run `kiosk-server openapi -o docs/openapi.json`"


def test_openapi_names_every_contract_path():
    paths = set(json.loads(openapi_json())["paths"])
    assert paths == {"/v1/health", "/v1/signin/challenge", "/v1/signin", "/v2/signin", "/v1/signout", "/v1/menu",
                     "/v1/quotes",
                     "/v1/issuances", "/v1/issuances/{transaction_id}/result", "/v1/enrolment",
                     "/v1/enrolment/ca", "/v1/enrolment/renew", "/v1/enrolment/unpair", "/v1/readiness",
                     "/v1/telemetry", "/v1/applications", "/v1/applications/forms", "/v1/applications/quotes"}
