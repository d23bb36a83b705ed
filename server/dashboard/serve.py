"""Serve the dashboard with uvicorn on its own address and port (never the kiosks' mTLS listener).

Prints one line once it accepts connections: ``dashboard listening on http(s)://HOST:PORT``.  Over plain HTTP it
is meant for 127.0.0.1 or behind the city's reverse proxy; ``--https`` serves it with the server's TLS
certificate (no client certificate asked) and marks the cookies ``Secure``.
"""
from __future__ import annotations

import socket
from datetime import timedelta

import uvicorn

from server.config import ServerConfig
from server.dashboard.app import create_dashboard_app
from server.db import open_database
from server.serve import LOG_CONFIG


class _Announcing(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, url: str):
        super().__init__(config)
        self._url = url

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            print(f"dashboard listening on {self._url}", flush=True)


def serve(config: ServerConfig, host: str, port: int, *, https: bool = False,
          silent_after: timedelta = timedelta(minutes=5)) -> None:
    app = create_dashboard_app(config, open_database(config.database_url), silent_after=silent_after, secure=https)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"{'https' if https else 'http'}://{shown}:{sock.getsockname()[1]}"
    tls = {"ssl_certfile": str(config.tls_certificate), "ssl_keyfile": str(config.tls_key)} if https else {}
    server = _Announcing(uvicorn.Config(app, lifespan="off", log_config=LOG_CONFIG, server_header=False,
                                        access_log=False, timeout_keep_alive=30, **tls), url)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
