"""The dashboard's pages: fleet, staff calls, refunds owed, the day's issuances, statistics, one kiosk.

Each reads through the server's own modules (:mod:`server.fleet`, :mod:`server.refunds`,
:mod:`server.refund_verify`, :mod:`server.ledger`, :mod:`server.statistics`) and shows ward staff only their
ward's kiosks.  A POST changes something once: a command that still waits for its kiosk is not sent again, and a
refund slip already paid is refused with who paid it and when.
"""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

from cryptography import x509
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from certs.refund_slip import PREFIX, normalise_reference
from server import fleet, ledger, refunds, statistics
from server import staff as staff_mod
from server.dashboard.app import Dashboard, Refused
from server.dashboard.chart import bars
from server.dashboard.i18n import jst, translate
from server.db import utcnow
from server.enrolment import AdminError
from server.refund_verify import verify_slip

KIOSK_ID = re.compile(r"^kiosk-[A-Za-z0-9-]{1,58}$")


def register(app: FastAPI, dash: Dashboard) -> None:
    @app.get("/fleet", response_class=HTMLResponse)
    def fleet_page(request: Request, part: str = ""):
        with dash.db() as db:
            staff = dash.staff(request, db)
            views = fleet.fleet(db, staff, silent_after=dash.silent_after)
        if part == "grid":
            response = dash.page(request, "fleet_grid.html", staff=staff, views=views)
            response.headers["X-Dashboard-Part"] = "grid"
            return response
        return dash.page(request, "fleet.html", staff=staff, views=views, nav="fleet")

    @app.get("/calls", response_class=HTMLResponse)
    def calls_page(request: Request, done: str = "", kiosk: str = ""):
        with dash.db() as db:
            staff = dash.staff(request, db)
            calls = fleet.staff_calls(db, staff)
        message = None
        if done in ("acked", "already_acked", "no_open_call") and KIOSK_ID.fullmatch(kiosk):
            message = (done, {"kiosk": kiosk})
        return dash.page(request, "calls.html", staff=staff, calls=calls, nav="calls", message=message)

    @app.post("/calls/ack")
    def acknowledge(request: Request, kiosk: str = Form(""), csrf: str = Form("")):
        with dash.db() as db:
            staff = dash.staff(request, db)
            dash.check_csrf(db, staff, csrf, request)
            done = _command(db, staff, kiosk, "ack_staff_call")
        return RedirectResponse(f"/calls?done={done}&kiosk={quote(kiosk)}", status_code=303)

    @app.get("/kiosks/{kiosk_id}", response_class=HTMLResponse)
    def kiosk_page(request: Request, kiosk_id: str, done: str = "", kind: str = ""):
        with dash.db() as db:
            staff = dash.staff(request, db)
            _visible(db, staff, kiosk_id)
            view = next((v for v in fleet.fleet(db, staff, silent_after=dash.silent_after)
                         if v.kiosk_id == kiosk_id), None)
            events = fleet.timeline(db, kiosk_id)
            commands = fleet.commands_of(db, kiosk_id)
        message = None
        if done in ("sent", "already", "acked", "already_acked", "no_open_call") and kind in fleet.COMMANDS:
            key = {"acked": "sent", "already_acked": "already"}.get(done, done)
            message = ("cmd_" + key if key != "no_open_call" else key,
                       {"kiosk": kiosk_id, "what": translate(dash.lang(request), "cmd_" + kind)})
        return dash.page(request, "kiosk.html", staff=staff, view=view, kiosk_id=kiosk_id, events=events,
                         commands=commands, nav="fleet", message=message)

    @app.post("/kiosks/{kiosk_id}/command")
    def command(request: Request, kiosk_id: str, kind: str = Form(""), csrf: str = Form("")):
        with dash.db() as db:
            staff = dash.staff(request, db)
            dash.check_csrf(db, staff, csrf, request)
            if kind not in fleet.COMMANDS:
                raise Refused(400, "not_found")
            done = _command(db, staff, kiosk_id, kind)
        return RedirectResponse(f"/kiosks/{quote(kiosk_id)}?done={done}&kind={kind}", status_code=303)

    @app.get("/refunds", response_class=HTMLResponse)
    def refunds_page(request: Request):
        with dash.db() as db:
            staff = dash.staff(request, db)
            return _refunds(request, dash, db, staff)

    @app.post("/refunds/pay", response_class=HTMLResponse)
    def pay(request: Request, reference: str = Form(""), csrf: str = Form("")):
        with dash.db() as db:
            staff = dash.staff(request, db)
            dash.check_csrf(db, staff, csrf, request)
            status, message = _pay(dash, db, staff, reference.strip())
            return _refunds(request, dash, db, staff, status=status, message=message)

    @app.get("/day", response_class=HTMLResponse)
    def day_page(request: Request, day: str = ""):
        try:
            wanted = date.fromisoformat(day) if day else ledger.business_day(utcnow())
        except ValueError:
            wanted = ledger.business_day(utcnow())
        with dash.db() as db:
            staff = dash.staff(request, db)
            visible = staff_mod.visible_kiosks(db, staff)
            rows = [r for r in ledger.daily(db, start=wanted, end=wanted) if visible is None or r.kiosk_id in visible]
        chart = bars([(r.kiosk_id, r.fees_earned) for r in rows], translate(dash.lang(request), "fees"), " 円"
                     if dash.lang(request) == "ja" else " yen")
        return dash.page(request, "day.html", staff=staff, rows=rows, day=wanted, chart=chart, nav="day")

    @app.get("/stats", response_class=HTMLResponse)
    def stats_page(request: Request, fy: int | None = None):
        with dash.db() as db:
            staff = dash.staff(request, db)
            visible = staff_mod.visible_kiosks(db, staff)
            stats = statistics.collect(db)
        current = statistics.fiscal_year(ledger.business_day(utcnow()))
        years = sorted(set(stats.years) | {current}, reverse=True)
        year = fy if fy in years else (max(stats.years) if stats.years else current)
        total = stats.year_total(year)
        by_type = [(statistics.certificate_label(c), stats.by_type[(year, c)],
                    statistics.share(stats.by_type[(year, c)], total)) for c in stats.certificates()
                   if stats.by_type[(year, c)]]
        terminals = [(k, stats.by_kiosk[(year, k)], statistics.share(stats.by_kiosk[(year, k)], total),
                      stats.fees.get((year, k), [0, 0, 0])) for k in stats.kiosks()
                     if (visible is None or k in visible) and ((year, k) in stats.fees or stats.by_kiosk[(year, k)])]
        label = f"FY{year} {statistics.era_label(year)}"
        chart = bars([(name, n) for name, n, _ in by_type], translate(dash.lang(request), "by_type"),
                     " 件" if dash.lang(request) == "ja" else "")
        return dash.page(request, "stats.html", staff=staff, years=years, year=year, label=label, total=total,
                         by_type=by_type, terminals=terminals, chart=chart, era=statistics.era_label, nav="stats")


def _visible(db, staff, kiosk_id: str) -> None:
    if not KIOSK_ID.fullmatch(kiosk_id):
        raise Refused(404, "not_found")
    if not staff_mod.may_see(db, staff, kiosk_id):
        staff_mod.audit(db, staff.staff_id, "refused_kiosk", kiosk_id=kiosk_id, detail="page")
        db.commit()
        raise Refused(403, "not_your_kiosk")
    if not fleet.known_kiosk(db, kiosk_id):
        raise Refused(404, "not_found")


def _command(db, staff, kiosk_id: str, kind: str) -> str:
    if not KIOSK_ID.fullmatch(kiosk_id):
        raise Refused(404, "not_found")
    try:
        sent = fleet.send_command(db, staff, kiosk_id, kind)
    except AdminError as exc:
        if str(exc) == "not_your_kiosk":
            raise Refused(403, "not_your_kiosk") from None
        return "no_open_call"
    if kind == "ack_staff_call":
        return "already_acked" if sent.already else "acked"
    return "already" if sent.already else "sent"


def _refunds(request: Request, dash: Dashboard, db, staff, *, status: int = 200, message=None) -> HTMLResponse:
    visible = staff_mod.visible_kiosks(db, staff)
    rows = [r for r in refunds.listing(db) if visible is None or r.kiosk_id in visible]
    return dash.page(request, "refunds.html", staff=staff, rows=rows, nav="refunds", status=status, message=message,
                     total=sum(r.amount for r in rows))


def _pay(dash: Dashboard, db, staff, text: str) -> tuple[int, tuple[str, dict]]:
    """Pay a refund by its slip's reference (typed) or its QR text (scanned): (HTTP status, message)."""
    slip = None
    if text.startswith(PREFIX):
        ca = x509.load_pem_x509_certificate(dash.config.client_ca.read_bytes())
        verdict = verify_slip(db, text, ca)
        if verdict.fields is None or not verdict.genuine:
            staff_mod.audit(db, staff.staff_id, "refund_refused", detail="slip_not_genuine")
            db.commit()
            return 400, ("pay_refused", {"why": "; ".join(verdict.problems) or "not genuine"})
        slip = verdict.fields
        refund = refunds.find(db, txn=slip.transaction_id)
        reference = slip.reference
    else:
        try:
            reference = normalise_reference(text)
        except ValueError:
            return 400, ("pay_invalid", {})
        try:
            refund = refunds.find(db, reference=reference)
        except AdminError as exc:
            return 409, ("pay_refused", {"why": str(exc)})
    kiosk = refund.kiosk_id if refund is not None else (slip.kiosk_id if slip else None)
    if refund is None and slip is None:
        staff_mod.audit(db, staff.staff_id, "refund_refused", detail=f"ref={reference} unknown")
        db.commit()
        return 404, ("pay_unknown", {"ref": reference})
    if not staff_mod.may_see(db, staff, kiosk):
        staff_mod.audit(db, staff.staff_id, "refused_kiosk", kiosk_id=kiosk, detail=f"refund ref={reference}")
        db.commit()
        return 403, ("not_your_kiosk", {})
    if refund is not None and refund.paid:
        staff_mod.audit(db, staff.staff_id, "refund_refused", kiosk_id=kiosk, detail=f"ref={reference} paid_twice")
        db.commit()
        return 409, ("paid_twice", {"ref": reference, "when": jst(refund.paid_at), "by": refund.paid_by})
    try:
        done = refunds.mark_paid(db, staff_id=staff.staff_id, txn=refund.transaction_id if refund else None,
                                 slip=slip if refund is None else None)
    except AdminError as exc:
        db.rollback()
        again = refunds.find(db, reference=reference)
        if again is not None and again.paid:
            return 409, ("paid_twice", {"ref": reference, "when": jst(again.paid_at), "by": again.paid_by})
        return 409, ("pay_refused", {"why": str(exc)})
    staff_mod.audit(db, staff.staff_id, "refund_paid", kiosk_id=done.kiosk_id,
                    detail=f"ref={done.reference} amount={done.amount}")
    db.commit()
    return 200, ("paid_ok", {"ref": done.reference, "amount": f"{done.amount:,}", "kiosk": done.kiosk_id})
