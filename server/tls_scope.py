"""Put the verified client certificate into the ASGI scope (uvicorn 0.54 does not).

:class:`ClientCertHttpToolsProtocol` (uvicorn's httptools protocol, the faster parser, served when httptools is
installed) and :class:`ClientCertH11Protocol` (the pure-Python h11 one) add one thing to uvicorn's protocol:
when a TLS connection is made (the handshake, including client-certificate verification against the city's CA,
is already complete), it reads the peer certificate from the SSL object and wraps the app for this connection
so that every request's scope carries the ASGI TLS extension: ``scope["extensions"]["tls"] =
{"client_cert_chain": [PEM], "client_cert_name": RFC 4514, "client_cert_error": None, "tls_version": …}``.
One protocol object serves one connection, so the wrapper can never leak one kiosk's identity to another
connection.
"""
from __future__ import annotations

import asyncio
import ssl

from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def peer_tls_extension(transport: asyncio.BaseTransport) -> dict | None:
    """The ASGI TLS extension for this connection, or None when it is not TLS or the peer sent no certificate."""
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject):
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)],
        "client_cert_name": cert.subject.rfc4514_string(),
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class _WithTls:
    def __init__(self, app, tls: dict):
        self.app = app
        self.tls = tls

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            scope = dict(scope)
            scope["extensions"] = {**(scope.get("extensions") or {}), "tls": self.tls}
        await self.app(scope, receive, send)


class ClientCertH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls = peer_tls_extension(transport)
        if tls is not None:
            self.app = _WithTls(self.app, tls)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed: h11 only
    ClientCertHttpToolsProtocol = None
else:
    class ClientCertHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[no-redef]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            tls = peer_tls_extension(transport)
            if tls is not None:
                self.app = _WithTls(self.app, tls)


def client_cert_protocol() -> type:
    """The HTTP protocol class to serve with: httptools' when installed (parsing costs a fraction of h11's)."""
    return ClientCertHttpToolsProtocol or ClientCertH11Protocol
