"""The kiosk's side of the kiosk↔server protocol (docs/kiosk-server-protocol.md), over HTTPS with mTLS.

Every failure reaches the caller as one of three exceptions, each with a message fit for a log (ids and codes,
never personal data): :class:`ServerUnavailable` (down, timed out, a 5xx), :class:`certs.wire.ServerRefused`
(a 4xx with an error code from the contract) and :class:`certs.wire.ProtocolError` (a reply that is not what
the contract promises).  The caller decides what each means for the visit; none of them ever costs money.
"""
from __future__ import annotations

import base64
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from certs import wire
from hal.card import Pin


class ServerUnavailable(Exception):
    """The server could not be reached or failed (timeout, refused connection, TLS failure, HTTP 5xx)."""


@dataclass(frozen=True)
class ServerEndpoint:
    url: str
    ca: Path
    client_cert: Path
    client_key: Path
    timeout_s: float = 10.0
    protocol: int = 2
    """The protocol version the kiosk speaks (docs/kiosk-server-protocol.md): 2 signs in and gets the menu in one
    round trip; 1 is the old sequence (sign-in, then the menu), for a server that has not been updated."""


def tls_context(endpoint: ServerEndpoint) -> ssl.SSLContext:
    """Trust only the city's CA, and present the kiosk's device certificate."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(endpoint.ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(endpoint.client_cert), str(endpoint.client_key))
    return context


class ServerClient:
    def __init__(self, endpoint: ServerEndpoint, transport: httpx.AsyncBaseTransport | None = None):
        """``transport`` replaces the network, for unit tests of reply parsing only."""
        self._endpoint = endpoint
        verify = tls_context(endpoint) if transport is None else False
        self._client = httpx.AsyncClient(base_url=endpoint.url, verify=verify, timeout=endpoint.timeout_s,
                                         trust_env=False, transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    simulated_outage = False
    """Development only (the dev panel's "server down"): every call fails as if the network were cut."""

    async def _call(self, method: str, path: str, *, token: str | None = None, body: Any = None,
                    timeout_s: float | None = None, raw_json: bytearray | None = None) -> tuple[int, Any]:
        """``timeout_s``: this call's own bound (never longer than the endpoint's ``timeout_s``).  ``raw_json``: a
        body already encoded (a secret's, built in a bytearray the caller wipes)."""
        if self.simulated_outage:
            raise ServerUnavailable(f"{method} {path}: simulated outage")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        timeout = httpx.USE_CLIENT_DEFAULT if timeout_s is None else max(min(timeout_s, self._endpoint.timeout_s), 0.1)
        if raw_json is not None:
            headers["Content-Type"] = "application/json"
        try:
            if raw_json is not None:  # httpx sends bytes only: this is the one immutable copy (see README, PINs)
                response = await self._client.request(method, path, content=bytes(raw_json), headers=headers,
                                                       timeout=timeout)
            else:
                response = await self._client.request(method, path, json=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            raise ServerUnavailable(f"{method} {path}: timed out") from None
        except (httpx.TransportError, ssl.SSLError, OSError) as exc:
            raise ServerUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise ServerUnavailable(f"{method} {path}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            if response.status_code >= 400:
                raise wire.parse_error(response.status_code, None) from None
            raise wire.ProtocolError(f"{method} {path}: reply is not JSON") from None
        if response.status_code >= 400:
            raise wire.parse_error(response.status_code, data)
        return response.status_code, data

    async def health(self, timeout_s: float = 3.0) -> bool:
        """Whether the server answers and says it is ok (checked before money is taken)."""
        _, data = await self._call("GET", wire.PATH_HEALTH, timeout_s=timeout_s)
        return isinstance(data, dict) and data.get("status") == "ok"

    async def opening_hours(self, timeout_s: float = 5.0) -> dict | None:
        """The kiosk-wide opening hours the server's health answer carries (None: it says nothing of them)."""
        _, data = await self._call("GET", wire.PATH_HEALTH, timeout_s=timeout_s)
        hours = data.get("hours") if isinstance(data, dict) else None
        return hours if isinstance(hours, dict) else None

    async def challenge(self) -> wire.Challenge:
        _, data = await self._call("POST", wire.PATH_CHALLENGE, body={})
        return wire.Challenge.parse(data)

    @property
    def protocol(self) -> int:
        return self._endpoint.protocol

    async def sign_in_jpki(self, nonce: str, certificate: bytes, signature: bytes) -> wire.Session:
        """Version 1: the session only (the menu is another call)."""
        _, data = await self._call("POST", wire.PATH_SIGNIN, body=_jpki_body(nonce, certificate, signature))
        return wire.Session.parse(data)

    async def signed_in_jpki(self, nonce: str, certificate: bytes, signature: bytes) -> wire.SignedIn:
        """The session and the menu: one round trip in version 2, two in version 1."""
        if self.protocol < 2:
            session = await self.sign_in_jpki(nonce, certificate, signature)
            return await self._signed_in_v1(session)
        _, data = await self._call("POST", wire.PATH_SIGNIN_V2, body=_jpki_body(nonce, certificate, signature))
        return wire.SignedIn.parse(data)

    async def signed_in_citizen(self, card_id: str, password: Pin) -> wire.SignedIn:
        """The session and the menu: one round trip in version 2, two in version 1.  (The caller wipes the Pin.)"""
        if self.protocol < 2:
            session = await self.sign_in_citizen(card_id, password)
            return await self._signed_in_v1(session)
        return wire.SignedIn.parse(await self._citizen_call(wire.PATH_SIGNIN_V2, card_id, password))

    async def sign_in_citizen(self, card_id: str, password: Pin) -> wire.Session:
        """The password's digits go from the :class:`~hal.card.Pin` into a bytearray holding the JSON body, never
        into a ``str``; the bytearray is wiped when the call returns.  (The caller wipes the Pin.)"""
        return wire.Session.parse(await self._citizen_call(wire.PATH_SIGNIN, card_id, password))

    async def _citizen_call(self, path: str, card_id: str, password: Pin):
        if not isinstance(password, Pin):
            raise TypeError("the citizen card password is a hal.card.Pin")
        body = bytearray(b'{"method":"citizen_card","card_id":')
        body += json.dumps(card_id, ensure_ascii=True).encode("ascii")
        body += b',"password":"'
        try:
            password.copy_into(body)  # ASCII digits: nothing in them needs escaping
            body += b'"}'
            _, data = await self._call("POST", path, raw_json=body)
        finally:
            body[:] = bytes(len(body))
        return data

    async def sign_out(self, session: wire.Session) -> None:
        await self._call("POST", wire.PATH_SIGNOUT, token=session.token, body={})

    async def _signed_in_v1(self, session: wire.Session) -> wire.SignedIn:
        _, data = await self._call("GET", wire.PATH_MENU, token=session.token)
        return wire.SignedIn(session, wire.parse_menu(data), wire.parse_household(data))

    async def menu(self, session: wire.Session) -> list[wire.Offer]:
        _, data = await self._call("GET", wire.PATH_MENU, token=session.token)
        return wire.parse_menu(data)

    async def quote(self, session: wire.Session, certificate: str, options: dict, copies: int) -> wire.Quote:
        body = {"certificate": certificate, "options": options, "copies": copies}
        _, data = await self._call("POST", wire.PATH_QUOTES, token=session.token, body=body)
        return wire.Quote.parse(data)

    async def issue(self, session: wire.Session, transaction_id: str, quote_id: str, amount_paid: int,
                    timeout_s: float | None = None) -> dict:
        """The envelope, unverified: the caller verifies it before anything prints."""
        body = {"transaction_id": transaction_id, "quote_id": quote_id, "amount_paid": amount_paid}
        _, data = await self._call("POST", wire.PATH_ISSUANCES, token=session.token, body=body, timeout_s=timeout_s)
        if not isinstance(data, dict):
            raise wire.ProtocolError("issuance: reply is not an envelope object")
        return data

    async def application_forms(self, session: wire.Session) -> list:
        _, data = await self._call("GET", wire.PATH_APPLICATION_FORMS, token=session.token)
        return wire.parse_forms(data)

    async def application_quote(self, session: wire.Session, service: str, answers: dict) -> wire.ApplicationQuote:
        body = {"service": service, "answers": answers}
        _, data = await self._call("POST", wire.PATH_APPLICATION_QUOTES, token=session.token, body=body)
        return wire.ApplicationQuote.parse(data)

    async def submit_application(self, session: wire.Session, transaction_id: str, quote_id: str, amount_paid: int,
                                 timeout_s: float | None = None) -> dict:
        """The intake: the receipt's envelope (the same one again on a retry with the same transaction id)."""
        body = {"transaction_id": transaction_id, "quote_id": quote_id, "amount_paid": amount_paid}
        _, data = await self._call("POST", wire.PATH_APPLICATIONS, token=session.token, body=body,
                                   timeout_s=timeout_s)
        return data

    async def send_telemetry(self, batch: dict) -> dict:
        """POST a telemetry batch; the reply's ``acked_seq`` and ``commands`` (docs/kiosk-server-protocol.md)."""
        _, data = await self._call("POST", wire.PATH_TELEMETRY, body=batch)
        if not isinstance(data, dict) or not isinstance(data.get("acked_seq"), int) \
                or not isinstance(data.get("commands"), list) \
                or not all(isinstance(c, dict) and isinstance(c.get("command_id"), int)
                           and isinstance(c.get("kind"), str) for c in data["commands"]):
            raise wire.ProtocolError("telemetry: reply has no acked_seq or commands")
        return data

    async def report_result(self, transaction_id: str, outcome: str, pages_printed: int, fee_collected: int,
                            refund_owed: int, reason: str | None = None) -> None:
        if outcome not in wire.ResultOutcome.ALL:
            raise ValueError(f"unknown outcome {outcome!r}")
        body = {"outcome": outcome, "pages_printed": pages_printed, "fee_collected": fee_collected,
                "refund_owed": refund_owed, "reason": reason}
        await self._call("POST", wire.path_result(transaction_id), body=body)


def _jpki_body(nonce: str, certificate: bytes, signature: bytes) -> dict:
    return {"method": "jpki", "nonce": nonce, "certificate": base64.b64encode(certificate).decode("ascii"),
            "signature": base64.b64encode(signature).decode("ascii")}
