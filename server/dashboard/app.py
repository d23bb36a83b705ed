"""The dashboard's app: sign-in and sessions, CSRF, the language switch, security headers, error pages.

Every page needs a session (an HttpOnly, SameSite=Strict cookie; ``Secure`` when served over HTTPS).  Every POST
carries the session's CSRF token in its form (the sign-in form: a token that must equal a cookie's); a POST
without it is refused with 403 and audited.  Wrong passwords lock an account (:mod:`server.staff`).
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker

from server import staff as staff_mod
from server.config import ServerConfig
from server.dashboard.i18n import LANGUAGES, ago, code_label, jst, translate
from server.db import utcnow

HERE = Path(__file__).parent
SESSION_COOKIE, LOGIN_COOKIE, LANG_COOKIE = "kd_session", "kd_login", "kd_lang"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    pass


class Refused(Exception):
    def __init__(self, status: int, key: str):
        super().__init__(key)
        self.status, self.key = status, key


@dataclass
class Dashboard:
    """What every page handler needs: the database, the templates, the settings."""
    config: ServerConfig
    sessions: sessionmaker[Session]
    env: Environment
    silent_after: timedelta
    secure: bool

    def db(self) -> Session:
        return self.sessions()

    def lang(self, request: Request) -> str:
        lang = request.cookies.get(LANG_COOKIE, "ja")
        return lang if lang in LANGUAGES else "ja"

    def staff(self, request: Request, db: Session) -> staff_mod.Staff:
        found = staff_mod.session_staff(db, request.cookies.get(SESSION_COOKIE))
        if found is None:
            raise LoginRequired()
        return found

    def check_csrf(self, db: Session, staff: staff_mod.Staff, token: str | None, request: Request) -> None:
        if not staff_mod.csrf_ok(staff, token):
            staff_mod.audit(db, staff.staff_id, "refused_csrf", detail=f"path={request.url.path}")
            db.commit()
            raise Refused(403, "csrf_refused")

    def page(self, request: Request, template: str, *, staff: staff_mod.Staff | None = None, status: int = 200,
             **context) -> HTMLResponse:
        lang = self.lang(request)
        now = utcnow()
        html = self.env.get_template(template).render(
            t=lambda key, **f: translate(lang, key, **f), lang=lang, staff=staff, now=now, jst=jst,
            ago=lambda moment: ago(lang, moment, now), path=request.url.path,
            code=lambda c: code_label(lang, c), codes=lambda cs: "、".join(code_label(lang, c) for c in cs)
            if lang == "ja" else ", ".join(code_label(lang, c) for c in cs),
            here=quote(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""), safe=""),
            **context)
        return HTMLResponse(html, status_code=status)


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["yen"] = lambda n: f"{int(n):,}"
    return env


def create_dashboard_app(config: ServerConfig, sessions: sessionmaker[Session], *,
                         silent_after: timedelta = timedelta(minutes=5), secure: bool = False) -> FastAPI:
    from server.dashboard import pages

    app = FastAPI(title="kiosk operations dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    dash = Dashboard(config, sessions, _environment(), silent_after, secure)
    app.state.dashboard = dash
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired):
        if request.method == "POST":
            return dash.page(request, "error.html", status=403, message_key="csrf_refused")
        return RedirectResponse(f"/login?next={quote(request.url.path, safe='')}", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return dash.page(request, "error.html", status=exc.status, message_key=exc.key)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/fleet"):
        token = secrets.token_urlsafe(24)
        response = dash.page(request, "login.html", login_token=token, next=_safe_next(next))
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=dash.secure, path="/login")
        return response

    @app.post("/login", response_class=HTMLResponse)
    def login(request: Request, staff_id: str = Form(""), password: str = Form(""), csrf: str = Form(""),
              next: str = Form("/fleet")):
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not csrf or not cookie or not hmac.compare_digest(csrf.encode(), cookie.encode()):
            raise Refused(403, "csrf_refused")
        with dash.db() as db:
            result = staff_mod.login(db, staff_id.strip(), password)
            if result.outcome != "ok":
                key = "login_locked" if result.outcome == "locked" else "login_bad"
                return dash.page(request, "login.html", status=429 if result.outcome == "locked" else 401,
                                 login_token=cookie, next=_safe_next(next), error=key,
                                 until=jst(result.locked_until))
            token, _ = staff_mod.open_session(db, result.staff)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=dash.secure,
                            max_age=int(staff_mod.SESSION_FOR.total_seconds()))
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")):
        with dash.db() as db:
            staff = dash.staff(request, db)
            dash.check_csrf(db, staff, csrf, request)
            staff_mod.close_session(db, request.cookies.get(SESSION_COOKIE))
            staff_mod.audit(db, staff.staff_id, "logout")
            db.commit()
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/lang/{code}")
    def switch_language(code: str, next: str = "/fleet"):
        response = RedirectResponse(_safe_next(next), status_code=303)
        if code in LANGUAGES:
            response.set_cookie(LANG_COOKIE, code, samesite="lax", max_age=365 * 86400)
        return response

    @app.get("/")
    def home():
        return RedirectResponse("/fleet", status_code=303)

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    pages.register(app, dash)
    return app


def _safe_next(target: str) -> str:
    """Only a path on this site (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/fleet"
