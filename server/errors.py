"""Error documents: every 4xx is ``{"error": {"code", "message", "detail"}}`` (docs/kiosk-server-protocol.md).

Messages are English and carry no personal data: validation errors name the fields that were wrong, never the
values (a password or a card number could be among them).  Request bodies are limited to 64 KiB (413).
"""
from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("server.errors")

MAX_BODY = 64 * 1024


class ApiError(Exception):
    """A refusal from the contract's error catalogue."""

    def __init__(self, status: int, code: str, message: str, detail: dict | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail or {}


def error_document(code: str, message: str, detail: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "detail": detail or {}}}


def error_response(status: int, code: str, message: str, detail: dict | None = None,
                   headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_document(code, message, detail), status_code=status, headers=headers)


_HTTP_CODES = {401: "unauthenticated", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        log.info("refused %s %s", exc.status, exc.code)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 and exc.code == "unauthenticated" else None
        return error_response(exc.status, exc.code, exc.message, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        malformed = any(e.get("type") in ("json_invalid", "json_type") for e in errors)
        fields = sorted({".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body" for e in errors})
        if malformed:
            return error_response(400, "bad_request", "the body is not valid JSON", {"fields": fields})
        return error_response(422, "bad_request", "some fields are missing or malformed", {"fields": fields})

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # A bug, not a refusal: still an error document, without details.  (Starlette re-raises it afterwards,
        # so the server's log gets the traceback; SQL parameters are hidden from it, see server.db.)
        log.error("unexpected %s", type(exc).__name__)
        return error_response(500, "server_error", "the server could not answer this request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "server_error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, code, message, headers=exc.headers)  # e.g. 405's Allow


class BodyGuard:
    """ASGI middleware: bodies over ``limit`` bytes get 413 (announced or streamed; exactly ``limit`` bytes pass);
    a body sent as another type than JSON (a Content-Type other than application/json or application/*+json; no
    Content-Type is taken as JSON) or that is not UTF-8 JSON gets 400 ``bad_request``.  The rule for the two
    statuses of ``bad_request``: 400 when the body cannot be read as one JSON document, 422 (the validation
    handler below) when it can but does not fit the endpoint."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                await _send_error(send, 400, "bad_request", "Content-Length is not a number")
                return
            if too_big:
                await _send_error(send, 413, "payload_too_large", f"request bodies are limited to {self.limit} bytes")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await _send_error(send, 413, "payload_too_large", f"request bodies are limited to {self.limit} bytes")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            media = dict(scope.get("headers") or ()).get(b"content-type", b"application/json").split(b";")[0]
            if not _is_json(media.strip().lower()):
                await _send_error(send, 400, "bad_request", "the body must be application/json")
                return
            try:
                document = json.loads(body.decode("utf-8"))
            except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
                await _send_error(send, 400, "bad_request", "the body is not valid JSON")
                return
            if _has_nul(document):  # no field of the contract holds one, and PostgreSQL cannot even compare it
                await _send_error(send, 400, "bad_request", "text in the body may not contain U+0000")
                return
        buffered: Message = {"type": "http.request", "body": body, "more_body": False}
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return buffered
            return await receive()

        await self.app(scope, replay, send)


def _is_json(media_type: bytes) -> bool:
    return media_type == b"application/json" or (media_type.startswith(b"application/")
                                                 and media_type.endswith(b"+json"))


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_document(code, message)).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
