"""The benchmark's latency proxy (tests/support/latency_proxy.py) against the real server: each HTTP round trip
through it takes the added time, the replies arrive whole, and it stays on the loopback interface."""
from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.support.latency_proxy import LatencyProxy


def test_every_round_trip_through_the_proxy_takes_the_added_time_and_arrives_whole(server):
    with LatencyProxy(server.port, rtt_s=0.030) as proxy:
        with server.client() as direct:
            expected = direct.get("/v1/health").json()["protocol_versions"]
        with httpx.Client(base_url=proxy.url, verify=server.ssl_context(), trust_env=False, timeout=10) as http:
            http.get("/v1/health")  # the connection and its TLS handshake
            times = []
            for _ in range(5):
                started = time.perf_counter()
                reply = http.get("/v1/health")
                times.append(time.perf_counter() - started)
                assert reply.status_code == 200 and reply.json()["protocol_versions"] == expected
    assert min(times) >= 0.030


def test_the_proxy_refuses_connections_beyond_its_bound_and_any_upstream_off_loopback(server):
    with pytest.raises(ValueError):
        LatencyProxy(server.port, upstream_host="192.0.2.1")
    with LatencyProxy(server.port, rtt_s=0.0, max_connections=2) as proxy:
        held = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(2)]
        try:
            deadline = time.monotonic() + 5
            while proxy.connections < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            extra = socket.create_connection(("127.0.0.1", proxy.port))
            extra.settimeout(5)
            assert extra.recv(1) == b""  # closed at once
            extra.close()
        finally:
            for s in held:
                s.close()
    assert proxy.refused == 1
