"""The visit table: the controller runs it and nothing else, every row names a real step, and its document is
current."""
from pathlib import Path

from firmware import visit_table
from firmware.controller import Kiosk
from firmware.visit import VisitState as S

REPO = Path(__file__).resolve().parents[2]


def test_the_document_is_the_table_as_it_is_now():
    text = (REPO / "docs" / "visit-table.md").read_text(encoding="utf-8")
    assert text == visit_table.markdown(), "docs/visit-table.md is stale: run `make visit-table`"


def test_every_row_names_a_step_of_the_kiosk_and_a_guard_that_exists():
    for row in visit_table.ROWS:
        assert callable(getattr(Kiosk, row.action, None)), row
        assert not row.guard or row.guard in visit_table.GUARDS, row


def test_every_operation_the_kiosk_starts_has_its_outcome_in_the_table():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "firmware").glob("visit*.py"))
    import re

    started = set(re.findall(r'self\._spawn\("([a-z_]+)"', source))
    handled = {row.event[len("done:"):] for row in visit_table.ROWS if row.event.startswith("done:")}
    assert started and started == handled


def test_no_state_has_two_unguarded_rows_for_one_event():
    for state in S:
        for event in {row.event for row in visit_table.ROWS}:
            rows = visit_table.rows_for(state, event)
            unguarded = [row for row in rows if not row.guard]
            assert len(unguarded) <= 1, (state, event, unguarded)


def test_the_whole_visit_fits_in_one_screenful():
    assert len(visit_table.ROWS) <= 50
