"""Every 4xx is an error document; bad input never gives a 500; bodies are limited to 64 KiB."""
from __future__ import annotations

import json

import pytest


def error(reply, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    document = reply.json()
    assert set(document) == {"error"} and set(document["error"]) == {"code", "message", "detail"}
    assert document["error"]["code"] == code
    return document["error"]


@pytest.mark.parametrize("raw", [b"{bad", b"\xff\xfe", b"[1, 2", b"nul"])
def test_malformed_json_is_400(http, raw):
    error(http.post("/v1/signin", content=raw, headers={"content-type": "application/json"}), 400, "bad_request")


def test_wrong_fields_are_422_bad_request_without_their_values(http):
    reply = http.post("/v1/signin", json={"method": "citizen_card", "card_id": "C0000001", "password": "98765"})
    detail = error(reply, 422, "bad_request")["detail"]
    assert "98765" not in reply.text and detail["fields"]


def test_unknown_method_and_extra_fields(http):
    error(http.post("/v1/signin", json={"method": "fingerprint"}), 422, "bad_request")
    error(http.post("/v1/signin/challenge", json={"kiosk_id": "kiosk-other"}), 422, "bad_request")


def test_oversized_body_is_413(http):
    body = json.dumps({"pad": "x" * (65 * 1024)})
    error(http.post("/v1/signin", content=body, headers={"content-type": "application/json"}), 413,
          "payload_too_large")


def test_oversized_streamed_body_is_413(http):
    chunks = (b"[" + b"1," * 40000 + b"1]" for _ in range(1))  # a generator: sent chunked, no Content-Length
    error(http.post("/v1/signin", content=chunks, headers={"content-type": "application/json"}), 413,
          "payload_too_large")


def test_unknown_path_and_method(http):
    error(http.get("/v1/nothing"), 404, "not_found")
    error(http.get("/v1/signin"), 405, "method_not_allowed")


def test_bad_transaction_id_in_path(http):
    report = {"outcome": "printed", "pages_printed": 1, "fee_collected": 300, "refund_owed": 0}
    error(http.post("/v1/issuances/NOT-HEX/result", json=report), 422, "bad_request")


def test_missing_or_unknown_bearer_token(http):
    error(http.get("/v1/menu"), 401, "unauthenticated")
    error(http.get("/v1/menu", headers={"Authorization": "Bearer nonsense"}), 401, "unauthenticated")
