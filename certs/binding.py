"""The per-page binding: every printed page names the transaction and the resident it belongs to.

The server writes one binding line on every page (small print in the footer, as text the PDF carries), and the
same facts go into the signed manifest.  The kiosk reads the line back from every page before printing and
compares it with the manifest and with its own transaction and signed-in resident.  A page of someone else's
document (the 2023 Tokushima incident: page 2 of 3 belonged to another person) therefore never prints.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_PREFIX = "BIND1"
_PATTERN = re.compile(
    r"BIND1 txn=(?P<txn>[0-9a-f]{32}) subj=(?P<subj>[0-9a-z]{8,64}) doc=(?P<doc>[0-9a-z-]{8,64}) "
    r"page=(?P<page>\d{1,3})/(?P<pages>\d{1,3})"
)


@dataclass(frozen=True)
class PageBinding:
    transaction_id: str
    subject_ref: str
    document_id: str
    page: int  # 1-based
    pages: int

    def line(self) -> str:
        return (f"{_PREFIX} txn={self.transaction_id} subj={self.subject_ref} doc={self.document_id} "
                f"page={self.page}/{self.pages}")


def find_bindings(page_text: str) -> list[PageBinding]:
    """Every binding line found in the text of one page (a well-formed page has exactly one)."""
    compact = re.sub(r"[\r\n]+", " ", page_text)
    return [
        PageBinding(m["txn"], m["subj"], m["doc"], int(m["page"]), int(m["pages"]))
        for m in _PATTERN.finditer(compact)
    ]
