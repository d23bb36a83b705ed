"""A resident gets 住民票の写し and pays: the page prints, the yen add up, nothing personal is kept."""
from __future__ import annotations

import numpy as np
from PIL import Image

from hal.signals import GuideLight, LightPattern


def test_paid_visit_prints_one_page_and_earns_the_fee(run_kiosk, tmp_path):
    async def visit(k):
        await k.to_payment()
        assert k.kiosk.view.fee == 300
        for _ in range(3):
            await k.do("insert_coin", value=100)
        await k.wait("return_card")
        assert k.devices.signals.light(GuideLight.CARD_READER) is LightPattern.PULSE
        await k.do("lift_card")
        await k.wait("take_items")
        assert k.kiosk.view.items_to_take == ("document",)
        await k.do("take_document")
        await k.wait("idle")
        txn = k.journal.totals()
        return k.devices.printer.pages, k.audit.ids(), k.journal, txn

    pages, audit, journal, totals = run_kiosk(visit)
    assert len(pages) == 1 and not pages[0].partial
    image = Image.open(pages[0].path)
    assert image.size[0] <= 1680 and image.mode == "1"
    ink = 1 - np.asarray(image, dtype=bool).mean()  # share of black dots
    assert 0.01 < ink < 0.5
    assert "visit.ended" in audit and "print.completed" in audit and "document.rejected" not in audit


def test_note_overpayment_pays_change_from_the_hoppers(run_kiosk):
    async def visit(k):
        before = k.devices.hopper(500).coins_estimate(), k.devices.hopper(100).coins_estimate()
        await k.to_payment()
        await k.do("insert_note", value=1000)
        await k.wait("return_card")
        txn = k.kiosk.visit.txn
        await k.do("lift_card")
        await k.wait("take_items")
        assert set(k.kiosk.view.items_to_take) == {"change", "document"}
        await k.do("take_document")
        await k.do("take_change")
        await k.wait("idle")
        after = k.devices.hopper(500).coins_estimate(), k.devices.hopper(100).coins_estimate()
        return before, after, k.journal.balance(txn)

    before, after, balance = run_kiosk(visit)
    assert (before[0] - after[0]) * 500 + (before[1] - after[1]) * 100 == 700
    assert balance.credited == 1000 and balance.fee_collected == 300 and balance.change_paid == 700
    assert balance.unaccounted == 0


def test_two_copies_print_two_pages(run_kiosk):
    async def visit(k):
        await k.to_payment(copies=2)
        assert k.kiosk.view.fee == 600
        await k.do("insert_coin", value=500)
        await k.do("insert_coin", value=100)
        await k.wait("return_card")
        return len(k.devices.printer.pages), k.kiosk.view.pages_printed

    assert run_kiosk(visit) == (2, 2)
