"""One synthetic view per screen (and per important message), to draw every screen in every language."""
from __future__ import annotations

from firmware.visit import MemberView, OfferView, VisitState as S, VisitView

OFFERS = (
    OfferView("residence_record_copy", True, None, 300, 5, ("scope", "members", "household_head", "domicile"), 400),
    OfferView("residence_record_items", True, None, 300, 5, ("scope",)),
    OfferView("seal_registration", False, "seal_not_registered", 300, 5, ()),
    OfferView("family_register_all", False, "out_of_hours", 450, 5, ()),
    OfferView("family_register_individual", False, "domicile_elsewhere", 450, 5, ()),
    OfferView("family_register_annex", True, None, 300, 5, ()),
    OfferView("resident_tax", False, "no_tax_record", 300, 5, ()),
)


HOUSEHOLD = (MemberView("a1b2c3d4e5", "試験 太郎", "世帯主"), MemberView("b1b2c3d4e5", "試験 花子", "妻"),
             MemberView("c1b2c3d4e5", "試験 一郎", "子"))
"""A synthetic household (the development registry's H0001)."""


def views(language: str) -> list[tuple[str, VisitView]]:
    v = lambda state, **kw: VisitView(state, visit=1, language=language, **kw)  # noqa: E731
    cert = dict(certificate="residence_record_copy", offers=OFFERS)
    return [
        ("idle", v(S.IDLE)),
        ("out-of-service", v(S.OUT_OF_SERVICE, out_of_service_reason="printer_paper_out")),
        ("out-of-hours", v(S.OUT_OF_SERVICE, out_of_service_reason="out_of_hours", opens_at="06:30")),
        ("reading", v(S.READING, busy=True)),
        ("pin", v(S.PIN, tries_left=3)),
        ("pin-wrong-last-try", v(S.PIN, tries_left=1, message="pin_last_try")),
        ("menu", v(S.MENU, offers=OFFERS)),
        ("options", v(S.OPTIONS, **cert)),
        ("options-members", v(S.OPTIONS, household=HOUSEHOLD, **cert)),
        ("confirm-members", v(S.CONFIRM, options={"scope": "selected", "members": "a1b2c3d4e5,c1b2c3d4e5"},
                              copies=1, fee=300, household=HOUSEHOLD, **cert)),
        ("confirm", v(S.CONFIRM, options={"scope": "household", "household_head": True}, copies=2, fee=600,
                      **cert)),
        ("paying", v(S.PAYING, fee=600, paid=500, **cert)),
        ("issuing", v(S.ISSUING, busy=True, fee=600, paid=600)),
        ("printing", v(S.PRINTING, busy=True, pages_total=2, pages_printed=1)),
        ("take-card", v(S.RETURN_CARD, message="take_card")),
        ("take-items", v(S.TAKE_ITEMS, items_to_take=("change", "document"), change_due=400)),
        ("reminder", v(S.TAKE_ITEMS, items_to_take=("document",), reminder_level=2)),
        ("pin-locked", v(S.RETURN_CARD, message="pin_locked")),
        ("refund", v(S.RETURN_CARD, message="cancelled_refunded", change_due=500)),
        ("refund-owed", v(S.RETURN_CARD, message="print_failed.paper_out", refund_owed=1000,
                          refund_reference="K7QM-4TXA-9PRC")),
        ("refund-slip", v(S.TAKE_ITEMS, refund_owed=1000, refund_reference="K7QM-4TXA-9PRC",
                          items_to_take=("slip",))),
        ("timeout-warning", v(S.PIN, tries_left=3, timeout_warning=True)),
    ]
