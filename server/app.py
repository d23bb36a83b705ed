"""The reference certificate server's HTTP API (docs/kiosk-server-protocol.md), as a FastAPI app.

The kiosk's identity is the subject CN of its VERIFIED client certificate, which the TLS layer puts into the
ASGI scope (``scope["extensions"]["tls"]``, see :mod:`server.tls_scope`); it is never read from a header.
Handlers are plain functions (FastAPI runs them in worker threads): the database and the PDF renderer block.
"""
from __future__ import annotations

import functools
import json
import re
from typing import Annotated

from cryptography import x509
from cryptography.x509.oid import NameOID
from fastapi import Body, Depends, FastAPI, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from certs import wire
from certs.enrolment import PATH_ENROLMENT, PATH_ENROLMENT_CA, PATH_READINESS, PATH_RENEWAL, PATH_UNPAIR
from server import applications, enrolment, issuing, refunds, settlement, signin
from server.admission import Admission
from server.opening import opening
from server.config import ServerConfig
from server.db import REQUEST_THREADS, iso, utcnow
from server.error_codes import error_responses
from server.errors import BodyGuard, ApiError, install_error_handlers
from server.models import SessionRecord
from server.schemas import (ChallengeReply, CitizenCardSignin, Empty, Envelope, ErrorDocument, Health,
                            IssuanceRequest, JpkiSignin, Menu, QuoteReply, QuoteRequest, ResultRequest,
                            SessionMenuReply, SessionReply, Settled, SignedOut, SigninRequest)
from server.schemas_applications import ApplicationQuoteReply, ApplicationQuoteRequest, FormsReply
from server.schemas_telemetry import TelemetryBatch, TelemetryReply
from server.schemas_enrolment import CaReply, EnrolmentReply, EnrolmentRequest, ReadinessReport, RenewalRequest
from server.services import Services

KIOSK_ID = re.compile(r"^kiosk-[A-Za-z0-9-]{1,58}$")
API_VERSION = "1"


def _errors(*statuses: int) -> dict:
    """The error responses of an endpoint: those of every endpoint (403: kiosk_revoked; 500: a server fault) and
    its own."""
    return error_responses(ErrorDocument, *sorted({400, 401, 403, 413, 422, 500, *statuses}))


_COMMON = _errors()
_bearer = HTTPBearer(auto_error=False, description="session_token from POST /v1/signin")


@functools.lru_cache(maxsize=256)
def _identity(pem: str) -> tuple[str, str] | None:
    """(subject CN, serial in lower-case hex) of a PEM certificate."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return (str(names[0].value), format(cert.serial_number, "x")) if len(names) == 1 else None


def verified_certificate(request: Request) -> tuple[str, str]:
    """(kiosk id, serial) of the verified client certificate.  The TLS layer refuses a certificate the city's CA
    did not issue; a connection without one gets here with no chain and is refused (only enrolment serves it)."""
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    identity = _identity(chain[0]) if chain and isinstance(chain[0], str) else None
    if identity is None or not KIOSK_ID.fullmatch(identity[0]):
        raise ApiError(401, "unauthenticated", "no verified kiosk certificate on this connection")
    return identity


@functools.lru_cache(maxsize=256)
def _certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def connection_certificate(request: Request) -> x509.Certificate:
    """The verified client certificate itself (after :func:`verified_certificate` accepted it)."""
    verified_certificate(request)
    return _certificate(request.scope["extensions"]["tls"]["client_cert_chain"][0])


def verified_kiosk_id(request: Request) -> str:
    """The kiosk id from the verified client certificate."""
    return verified_certificate(request)[0]


def active_kiosk_id(request: Request) -> str:
    """The kiosk id of a verified certificate that has not been revoked (``kiosk-server revoke-kiosk``)."""
    kiosk, serial = verified_certificate(request)
    svc = getattr(request.app.state, "services", None)
    if svc is not None:
        with svc.sessions() as db:
            enrolment.refuse_if_revoked(db, kiosk, serial)
    return kiosk


async def services(request: Request) -> Services:
    """(async: it only reads the app's state, so FastAPI runs it on the event loop, not on a worker thread)"""
    svc = getattr(request.app.state, "services", None)
    if svc is None:
        raise ApiError(503, "not_configured", "the server has no configuration")
    return svc


def database(svc: Annotated[Services, Depends(services)]):
    with svc.sessions() as db:
        yield db


Kiosk = Annotated[str, Depends(active_kiosk_id)]
Svc = Annotated[Services, Depends(services)]
Db = Annotated[Session, Depends(database)]


def active_kiosk_in_session(request: Request, db: Db) -> str:
    """``active_kiosk_id`` checked in the request's own database session (for endpoints that have one: a request
    then checks out one connection, not two).  The certificate is read before the database is touched."""
    kiosk, serial = verified_certificate(request)
    enrolment.refuse_if_revoked(db, kiosk, serial)
    return kiosk


KioskDb = Annotated[str, Depends(active_kiosk_in_session)]


def bearer_session(kiosk: KioskDb, db: Db,
                   credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> SessionRecord:
    header = f"Bearer {credentials.credentials}" if credentials else None
    return signin.current_session(db, header, kiosk)


SignedIn = Annotated[SessionRecord, Depends(bearer_session)]


def _kiosk_and_session(request: Request, svc: Services,
                       credentials: HTTPAuthorizationCredentials | None) -> tuple[str, SessionRecord]:
    """What ``KioskDb`` and ``SignedIn`` check, in that order, in one thread and one database session."""
    with svc.sessions() as db:
        kiosk = active_kiosk_in_session(request, db)
        return kiosk, bearer_session(kiosk, db, credentials)


def _issue(svc: Services, session: SessionRecord, kiosk: str, body: IssuanceRequest) -> tuple[int, bytes]:
    with svc.sessions() as db:
        return issuing.issue(svc, db, session, kiosk, body)


async def signed_in_kiosk(request: Request, svc: Svc,
                          credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
                          ) -> tuple[str, SessionRecord]:
    """(kiosk id, session) for ``POST /v1/issuances``: checked before the body is (401/403 before 422), as the
    separate dependencies did, but in one trip to the thread pool instead of four."""
    return await run_in_threadpool(_kiosk_and_session, request, svc, credentials)


def create_app(config: ServerConfig | None) -> FastAPI:
    """The app; with ``config=None`` it has routes but no services (enough for the OpenAPI document)."""
    app = FastAPI(title="Kiosk reference certificate server", version=API_VERSION,
                  description="The municipality's certificate server as the kiosk sees it. "
                              "Contract: docs/kiosk-server-protocol.md. mTLS: kiosks present a device certificate. "
                              "Errors are {\"error\": {\"code\", \"message\", \"detail\"}}; each error status "
                              "below lists its codes. A path not listed answers 404 `not_found`; a method not "
                              "listed for a path, 405 `method_not_allowed`.",
                  docs_url=None, redoc_url=None, openapi_url=None)  # served below, to kiosks only
    if config is not None:
        app.state.services = Services.from_config(config)
    install_error_handlers(app)
    app.add_middleware(BodyGuard)
    app.add_middleware(Admission, limit=REQUEST_THREADS)  # outermost: requests wait for a place before anything
    _routes(app)
    return app


def _routes(app: FastAPI) -> None:
    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(kiosk: Kiosk) -> JSONResponse:
        """The OpenAPI document (also kept in docs/openapi.json), for enrolled kiosks like everything else."""
        return JSONResponse(app.openapi())

    @app.get(wire.PATH_HEALTH, response_model=Health, responses=_COMMON)
    def health(kiosk: Kiosk, svc: Svc) -> dict:
        return {"status": "ok", "server_time": iso(utcnow()), "protocol_versions": list(wire.PROTOCOL_VERSIONS),
                "hours": opening(svc.config.city.hours, svc.now())}

    @app.post(wire.PATH_CHALLENGE, response_model=ChallengeReply, responses=_COMMON)
    def challenge(kiosk: Kiosk, svc: Svc, body: Annotated[Empty | None, Body()] = None) -> dict:
        return signin.new_challenge(svc, kiosk)

    @app.post(wire.PATH_SIGNIN, response_model=SessionReply, responses=_errors(503))
    def sign_in(kiosk: Kiosk, svc: Svc, body: Annotated[SigninRequest, Body()]) -> dict:
        if isinstance(body, JpkiSignin):
            return signin.signin_jpki(svc, kiosk, body)
        assert isinstance(body, CitizenCardSignin)
        return signin.signin_citizen_card(svc, kiosk, body)

    @app.post(wire.PATH_SIGNIN_V2, response_model=SessionMenuReply, responses=_errors(503))
    def sign_in_with_menu(kiosk: Kiosk, svc: Svc, body: Annotated[SigninRequest, Body()]) -> dict:
        """Protocol version 2: the same sign-in as ``POST /v1/signin`` (same nonce rules, same errors), answered
        with the menu too, so the kiosk needs no ``GET /v1/menu``."""
        reply = sign_in(kiosk, svc, body)
        with svc.sessions() as db:
            session = signin.current_session(db, f"Bearer {reply['session_token']}", kiosk)
            return {**reply, "menu": issuing.menu(svc, db, session)}

    @app.post(wire.PATH_SIGNOUT, response_model=SignedOut, responses=_COMMON)
    def sign_out(session: SignedIn, db: Db, body: Annotated[Empty | None, Body()] = None) -> dict:
        signin.sign_out(db, session)
        return {"signed_out": True}

    @app.get(wire.PATH_MENU, response_model=Menu, responses=_COMMON)
    def menu(session: SignedIn, svc: Svc, db: Db) -> dict:
        return issuing.menu(svc, db, session)

    @app.post(wire.PATH_QUOTES, response_model=QuoteReply, responses=_COMMON)
    def quote(session: SignedIn, svc: Svc, db: Db, body: QuoteRequest) -> dict:
        return issuing.create_quote(svc, db, session, body)

    @app.post(wire.PATH_ISSUANCES, status_code=201, response_class=Response,
              responses={**_errors(402, 404, 409, 410),
                         201: {"model": Envelope, "description": "the envelope, issued now"},
                         200: {"model": Envelope, "description": "the same envelope again (a replay)"}})
    async def issue(signed_in: Annotated[tuple[str, SessionRecord], Depends(signed_in_kiosk)], svc: Svc,
                    body: IssuanceRequest) -> Response:
        # The busiest endpoint makes two trips to the thread pool (the checks, then the issuance), not six: with a
        # dependency per step (database, kiosk, session, handler) each trip was a thread wake-up and GIL hand-over
        # per step, a large part of the server's CPU per issuance (profiled).  Same checks, same order.
        kiosk, session = signed_in
        status, envelope = await run_in_threadpool(_issue, svc, session, kiosk, body)
        return Response(content=envelope, status_code=status, media_type="application/json")

    @app.get(wire.PATH_APPLICATION_FORMS, response_model=FormsReply, responses=_COMMON)
    def application_forms(session: SignedIn, svc: Svc, db: Db) -> dict:
        return applications.forms(svc, db, session)

    @app.post(wire.PATH_APPLICATION_QUOTES, response_model=ApplicationQuoteReply, responses=_errors(409))
    def application_quote(session: SignedIn, svc: Svc, db: Db, body: ApplicationQuoteRequest) -> dict:
        return applications.quote(svc, db, session, body.service, body.answers)

    @app.post(wire.PATH_APPLICATIONS, status_code=201, response_class=Response,
              responses={**_errors(402, 404, 409, 410),
                         201: {"model": Envelope, "description": "the receipt's envelope, the application taken now"},
                         200: {"model": Envelope, "description": "the same envelope again (a replay)"}})
    def submit_application(kiosk: KioskDb, session: SignedIn, svc: Svc, db: Db, body: IssuanceRequest) -> Response:
        status, envelope = applications.submit(svc, db, session, kiosk, body)
        return Response(content=envelope, status_code=status, media_type="application/json")

    @app.post(wire.PATH_ISSUANCES + "/{transaction_id}/result", response_model=Settled,
              responses=_errors(404, 409, 503))
    def result(request: Request, kiosk: KioskDb, db: Db, body: ResultRequest,
               transaction_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> dict:
        settled = settlement.report_result(db, kiosk, transaction_id, body)
        if body.refund_owed > 0:  # the kiosk's refund slip is signed with this certificate's key: keep it whole
            refunds.remember_certificate(db, connection_certificate(request), "connection")
        return settled

    @app.post(wire.PATH_TELEMETRY, response_model=TelemetryReply, responses=_errors(409))
    def telemetry(request: Request, svc: Svc, body: TelemetryBatch) -> dict:
        """A batch of the kiosk's events (stored once, in sequence) and gauges; the reply acknowledges the highest
        sequence stored and carries the kiosk's remote commands (docs/kiosk-server-protocol.md, "Telemetry").

        The revocation check and the ingest share one session opened and closed in this one call: a connection is
        never held while the request waits for another worker thread (with hundreds of kiosks reporting at once,
        sessions held across FastAPI's thread hops exhausted the pool and stalled every request)."""
        from server.telemetry import ingest

        kiosk, serial = verified_certificate(request)
        with svc.sessions() as db:
            enrolment.refuse_if_revoked(db, kiosk, serial)
            return ingest(db, kiosk, body)

    @app.post(PATH_ENROLMENT, status_code=201, response_model=EnrolmentReply,
              responses=_errors(409, 410, 503))
    def enrol(svc: Svc, body: EnrolmentRequest) -> dict:
        """The one endpoint served without a client certificate: a kiosk's first and only enrolment."""
        return enrolment.enrol(svc, body.token, body.csr, body.wireguard_public_key)

    @app.get(PATH_ENROLMENT_CA, response_model=CaReply, responses=_COMMON)
    def enrolment_ca(svc: Svc) -> dict:
        """Anonymous: the CA the enrolment payload's fingerprint pins (the kiosk checks it before sending a CSR)."""
        return {"ca_certificate": svc.config.client_ca.read_text(encoding="ascii")}

    @app.post(PATH_RENEWAL, status_code=201, response_model=EnrolmentReply, responses=_errors(503))
    def renew(kiosk: Kiosk, svc: Svc, body: RenewalRequest) -> dict:
        """A new device certificate for a new key, for an enrolled, unrevoked kiosk (mTLS)."""
        return enrolment.renew(svc, kiosk, body.csr)

    @app.post(PATH_READINESS, responses=_COMMON)
    def readiness(kiosk: KioskDb, db: Db, body: ReadinessReport) -> dict:
        """kiosk-provision's readiness report (the last one is kept; `kiosk-server list-kiosks` shows it)."""
        from server.kiosk_list import record_readiness

        return record_readiness(db, kiosk, body.ready, body.report)

    @app.post(PATH_UNPAIR, responses=_COMMON)
    def unpair(kiosk: Kiosk, svc: Svc, db: Db, body: Annotated[Empty | None, Body()] = None) -> dict:
        """The kiosk revokes itself: its certificates are refused and its tunnel peer removed from now on."""
        from server.vpn import sync_interface

        count = enrolment.revoke_kiosk(db, kiosk, "kiosk-provision", "unpaired by the kiosk")
        sync_interface(svc.config, db)
        return {"kiosk_id": kiosk, "revoked_certificates": count}

    from server.updates_api import add_routes as add_update_routes

    add_update_routes(app, Kiosk, Svc)  # the TUF repository of kiosk releases (server/updates_api.py)


def openapi_json(app: FastAPI | None = None) -> str:
    """The OpenAPI document as committed in docs/openapi.json."""
    schema = (app or create_app(None)).openapi()
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
