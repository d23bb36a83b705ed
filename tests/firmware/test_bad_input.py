"""Bad input gets a clear error and costs nothing: malformed server replies, a bad config value, an unknown
scenario step."""
from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from certs import wire
from firmware.config import ConfigError, load_config, parse_config
from firmware.headless import ScenarioError, load_scenario
from firmware.server_client import ServerClient, ServerEndpoint, ServerUnavailable
from hal.card import Pin

REPO = Path(__file__).resolve().parents[2]
SESSION = wire.Session("token", "abcdef0123456789", "2026-01-01T00:00:00Z")


def _client(handler) -> ServerClient:
    endpoint = ServerEndpoint("https://server.test", Path("ca"), Path("c"), Path("k"))
    return ServerClient(endpoint, transport=httpx.MockTransport(handler))


def _call(handler, op):
    async def main():
        client = _client(handler)
        try:
            return await op(client)
        finally:
            await client.aclose()
    return asyncio.run(main())


@pytest.mark.parametrize("reply, fragment", [
    ({"offers": [{"certificate": "passport", "available": True, "reason": None, "fee": 1, "max_copies": 1,
                  "options": []}]}, "unknown certificate type"),
    ({"offers": [{"certificate": "residence_record_copy", "available": True, "reason": None, "fee": "300",
                  "max_copies": 1, "options": []}]}, "'fee' should be int"),
    ({"offers": [{"certificate": "residence_record_copy", "available": False, "reason": None, "fee": 300,
                  "max_copies": 1, "options": []}]}, "inconsistent"),
    ({"menu": []}, "missing field 'offers'"),
])
def test_malformed_menu_reply_is_a_protocol_error(reply, fragment):
    with pytest.raises(wire.ProtocolError, match=fragment):
        _call(lambda request: httpx.Response(200, json=reply), lambda c: c.menu(SESSION))


def test_quote_whose_total_does_not_add_up_is_refused():
    reply = {"quote_id": "q1", "certificate": "residence_record_copy", "copies": 2, "fee_per_copy": 300,
             "total_fee": 300, "pages": 2, "expires_at": "x"}
    with pytest.raises(wire.ProtocolError, match="inconsistent"):
        _call(lambda r: httpx.Response(200, json=reply), lambda c: c.quote(SESSION, "residence_record_copy", {}, 2))


def test_reply_that_is_not_json_is_a_protocol_error():
    with pytest.raises(wire.ProtocolError, match="not JSON"):
        _call(lambda r: httpx.Response(200, content=b"<html>"), lambda c: c.challenge())


def test_server_error_document_becomes_server_refused_with_its_code():
    body = {"error": {"code": "nonce_reused", "message": "used", "detail": {}}}
    with pytest.raises(wire.ServerRefused) as refused:
        _call(lambda r: httpx.Response(401, json=body), lambda c: c.challenge())
    assert refused.value.code == "nonce_reused" and refused.value.status == 401


def test_5xx_and_a_dropped_connection_are_server_unavailable():
    with pytest.raises(ServerUnavailable, match="HTTP 502"):
        _call(lambda r: httpx.Response(502, text="bad gateway"), lambda c: c.health())

    def drop(request):
        raise httpx.ConnectError("connection refused")
    with pytest.raises(ServerUnavailable, match="ConnectError"):
        _call(drop, lambda c: c.health())


def test_subject_ref_that_is_not_opaque_is_refused():
    reply = {"session_token": "t", "subject_ref": "試験 太郎", "expires_at": "x"}
    with pytest.raises(wire.ProtocolError) as error:
        _call(lambda r: httpx.Response(200, json=reply), lambda c: c.sign_in_citizen("C1", Pin("2580")))
    assert "試験" not in str(error.value)  # the message never repeats a value that may be personal


def _config_data(tmp_path: Path, **server) -> dict:
    for name in ("ca.pem", "kiosk.pem", "kiosk-key.pem", "doc.pem"):
        (tmp_path / name).write_text("x")
    return {"kiosk": {"id": "k1"},
            "server": {"url": "https://127.0.0.1:8443", "ca": "ca.pem", "client_cert": "kiosk.pem",
                       "client_key": "kiosk-key.pem", "document_keys": ["doc.pem"], **server},
            "devices": {"printer": {"driver": "sim"}}}


@pytest.mark.parametrize("change, message", [
    ({"url": "http://127.0.0.1:8443"}, "[server] url must start with https://"),
    ({"timeout_s": -1}, "[server] timeout_s must be a number from 0.5 to 120"),
    ({"ca": "missing.pem"}, "[server] ca names a file that does not exist"),
    ({"document_keys": []}, "[server] document_keys must list at least one"),
    ({"protocol": 3}, "[server] protocol must be 1 or 2 (got 3)"),
    ({"protocol": True}, "[server] protocol must be 1 or 2 (got True)"),
])
def test_bad_config_value_names_the_file_the_key_and_what_was_expected(tmp_path, change, message):
    with pytest.raises(ConfigError) as error:
        parse_config(_config_data(tmp_path, **change), source=tmp_path / "kiosk.toml")
    assert str(error.value).startswith("kiosk.toml: ") and message in str(error.value)


def test_the_protocol_version_is_2_unless_the_config_says_1(tmp_path):
    assert parse_config(_config_data(tmp_path), source=tmp_path / "kiosk.toml").server.protocol == 2
    assert parse_config(_config_data(tmp_path, protocol=1), source=tmp_path / "kiosk.toml").server.protocol == 1


def test_bad_timeouts_and_copies_are_refused(tmp_path):
    data = _config_data(tmp_path)
    data["timeouts"] = {"payingg": 30}
    with pytest.raises(ConfigError, match=r"\[timeouts\] has unknown states: payingg"):
        parse_config(data, source=tmp_path / "kiosk.toml")
    data = _config_data(tmp_path)
    data["payment"] = {"max_copies": 0}
    with pytest.raises(ConfigError, match=r"\[payment\] max_copies must be a number from 1 to 20 \(got 0\)"):
        parse_config(data, source=tmp_path / "kiosk.toml")


def test_config_file_that_is_not_toml(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text("[kiosk\nid=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_the_shipped_dev_config_parses_once_its_files_exist(tmp_path):
    text = (REPO / "kiosk.dev.toml").read_text()
    import tomllib
    data = tomllib.loads(text)
    for key in ("ca", "client_cert", "client_key"):
        (tmp_path / data["server"][key]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / data["server"][key]).write_text("x")
    (tmp_path / data["server"]["document_keys"][0]).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / data["server"]["document_keys"][0]).write_text("x")
    config = parse_config(data, source=tmp_path / "kiosk.dev.toml")
    assert config.kiosk_id == "kiosk-dev-01" and config.server.url.startswith("https://")


def test_unknown_scenario_step_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[step]]\ndo = "place_card"\ncard = "resident-a"\n\n[[step]]\ndo = "insert_coins"\nvalue = 1\n')
    with pytest.raises(ScenarioError) as error:
        load_scenario(path, {"place_card", "insert_coin"})
    assert "step 2: unknown action 'insert_coins'" in str(error.value) and "insert_coin" in str(error.value)


def test_unknown_expected_state_is_refused(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[step]]\nexpect = "payed"\n')
    with pytest.raises(ScenarioError, match="unknown state 'payed'"):
        load_scenario(path, set())


def test_the_demo_scenario_loads():
    steps = load_scenario(REPO / "scenarios/demo-residence-record.toml",
                          {"place_card", "enter_pin", "choose", "options", "confirm", "insert_coin", "lift_card",
                           "take_document"})
    assert steps[0].action == "place_card" and steps[-1].expect.value == "idle"
