"""Run the server: uvicorn over HTTPS, TLS 1.2 or later, client certificates verified against the city's device CA.

A client certificate is OPTIONAL in the handshake (a kiosk that is not enrolled yet has none), but one that is
presented must chain to the city's device CA or the handshake fails.  Without one, only ``POST /v1/enrolment``
answers; every other endpoint refuses with ``401 unauthenticated`` (:func:`server.app.verified_certificate`).

Prints exactly one line to stdout once it accepts connections: ``listening on https://HOST:PORT`` (with the
real port when the configuration says 0).  Logs go to stderr and carry ids and codes only.
"""
from __future__ import annotations

import logging
import socket
import ssl
import sys

import anyio.to_thread
import uvicorn

from server.accept_balance import BalancedListener, ConnectionShares, Share
from server.app import create_app
from server.config import ServerConfig
from server.db import REQUEST_THREADS
from server.tls_scope import client_cert_protocol
from server.workers import fork_workers, stop_workers

log = logging.getLogger("server.serve")

# How long a thread may keep the GIL while another asks for it (CPython's default: 5 ms).  A thread back from a
# database call, a TLS read or a lock waits that long for its turn; the one holding the database's writer lock
# makes several such calls before it lets go, so every millisecond here is spent by every writer queued behind it.
GIL_SWITCH_S = 0.001

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "plain"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "server": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


def tls_context_factory(config: uvicorn.Config, default) -> ssl.SSLContext:
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_OPTIONAL  # verified when presented; required by every endpoint but enrolment
    return context


class _Server(uvicorn.Server):
    """uvicorn with the request thread pool sized to the database pool (server.db.REQUEST_THREADS, not anyio's 40:
    forty CPU-bound requests in one process only take turns at the GIL, each holding a database connection).

    With a ``share`` (one of several processes on one socket), connections are accepted by a
    :class:`~server.accept_balance.BalancedListener`, so the processes hold even shares of the kiosks."""

    def __init__(self, config: uvicorn.Config, share: Share | None = None):
        super().__init__(config)
        self.share = share
        self.listener: BalancedListener | None = None

    async def startup(self, sockets=None) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        if self.share is None or not sockets:
            await super().startup(sockets=sockets)
            return
        await super().startup(sockets=[])  # uvicorn's start without a listener of its own: ours accepts
        config = self.config

        def protocol():
            return config.http_protocol_class(config=config, server_state=self.server_state,
                                              app_state=self.lifespan.state)

        (sock,) = sockets
        self.listener = BalancedListener(sock, protocol, config.ssl, self.share,
                                         serving=lambda: len(self.server_state.connections))
        self.listener.start()

    async def shutdown(self, sockets=None) -> None:
        if self.listener is not None:
            self.listener.stop()
        await super().shutdown(sockets=sockets)


class _AnnouncingServer(_Server):
    def __init__(self, config: uvicorn.Config, url: str, share: Share | None = None):
        super().__init__(config, share)
        self._url = url

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            print(f"listening on {self._url}", flush=True)


def _uvicorn_config(app, config: ServerConfig) -> uvicorn.Config:
    return uvicorn.Config(
        app, http=client_cert_protocol(), lifespan="off", log_config=LOG_CONFIG, server_header=False,
        access_log=False,  # a line per request costs CPU; issuances, sign-ins and refusals are logged by the app
        ssl_certfile=str(config.tls_certificate), ssl_keyfile=str(config.tls_key),
        ssl_ca_certs=str(config.client_ca), ssl_cert_reqs=ssl.CERT_OPTIONAL, ssl_context_factory=tls_context_factory,
        timeout_keep_alive=30,
    )


class EnrolmentOnly:
    """An ASGI wrapper that answers only the enrolment paths (404 to everything else): the listener on the network
    kiosks enrol from, while the kiosk API itself is bound to the tunnel address."""

    PATHS = ("/v1/enrolment", "/v1/enrolment/ca")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path") not in self.PATHS:
            body = b'{"error":{"code":"not_found","message":"only enrolment is served here"}}'
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def serve(config: ServerConfig, workers: int = 1, only_enrolment: bool = False) -> None:
    """Serve until SIGTERM/SIGINT; ``workers`` > 1 forks more processes on the same socket (server/workers.py)."""
    sys.setswitchinterval(GIL_SWITCH_S)  # inherited by the processes forked below
    if config.fault != "none":
        log.warning("DEVELOPMENT FAULT ENABLED: %s — never use this configuration with real kiosks", config.fault)
    app = create_app(config)
    if only_enrolment:
        app = EnrolmentOnly(app)
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    # IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY on accepted connections only for a socket that says it is
    # TCP; without it every reply (headers, then body) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    port = sock.getsockname()[1]
    host = f"[{config.host}]" if family == socket.AF_INET6 else config.host
    children: list[int] = []
    shares = ConnectionShares(workers) if workers > 1 else None
    if shares is not None:
        sock.listen(2048)
        (app.app if only_enrolment else app).state.services.sessions.kw["bind"].dispose()  # no connection may be shared with a child
        wrap = EnrolmentOnly if only_enrolment else (lambda a: a)
        children = fork_workers(workers - 1, lambda n: _Server(_uvicorn_config(wrap(create_app(config)), config),
                                                               shares.slot(n)).run(sockets=[sock]))
    server = _AnnouncingServer(_uvicorn_config(app, config), f"https://{host}:{port}",
                               shares.slot(0) if shares is not None else None)
    try:
        server.run(sockets=[sock])
    finally:
        stop_workers(children)
        sock.close()
    sys.stdout.flush()
