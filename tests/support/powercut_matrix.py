"""The power-cut matrix: every case (tests/support/powercut_cases.py) cut at every journal commit of its visit,
before and after the commit reaches the disk, and at random times; one :class:`~tests.support.powercut.Outcome`
per cut.  Used by tests/e2e/test_powercut.py and scripts/powercut_matrix.py (which prints the README's table)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from tests.support.powercut import SETTLED_STATES, Case, Outcome, Server, random_offsets, run_case, visit_writes
from tests.support.powercut_cases import CASES

WHENS = ("before", "after")


@dataclass
class CaseResult:
    case: Case
    baseline: Outcome
    cuts: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def kill_points(self) -> list[int]:
        return visit_writes(self.baseline.writes)

    def label(self, n: int) -> str:
        return next((w for w in self.baseline.writes if w.split()[0] == str(n)), str(n))

    @property
    def worst(self) -> int:
        return max([abs(o.unaccounted) for o in self.all] or [0])

    @property
    def all(self) -> list[Outcome]:
        return [self.baseline] + self.cuts

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.all if not o.ok]


def run_matrix_case(case: Case, server: Server, dev_world: Path, work: Path, *, whens: Iterable[str] = WHENS,
                    random_cuts: int = 0, seed: int = 9, on_outcome: Callable[[Outcome], None] = lambda o: None
                    ) -> CaseResult:
    started = time.monotonic()
    baseline = run_case(case, server, dev_world, work / case.name / "count")
    on_outcome(baseline)
    result = CaseResult(case, baseline)
    for when in whens:
        for n in result.kill_points:
            outcome = run_case(case, server, dev_world, work / case.name / f"{when}-{n}", kill_at=n, when=when)
            result.cuts.append(outcome)
            on_outcome(outcome)
    for i, offset in enumerate(random_offsets(baseline.seconds, random_cuts, seed + len(case.name))):
        outcome = run_case(case, server, dev_world, work / case.name / f"random-{i}", kill_after_s=offset)
        outcome.when = f"t={offset:g}s"
        result.cuts.append(outcome)
        on_outcome(outcome)
    result.seconds = time.monotonic() - started
    return result


def cell(o: Outcome | None) -> str:
    """Yen unaccounted after one cut: ``0``; ``200*`` every yen of it flagged for a count with its amount; ``200!``
    not all of it flagged; then ``p`` per page printed unpaid, ``D`` a double payout, ``S`` a printed certificate
    missing on the server, ``?`` the kiosk did not settle; ``–`` no such run."""
    if o is None:
        return "–"
    mark = "" if o.unaccounted == 0 else "*" if o.unflagged == 0 else "!"
    return (f"{o.unaccounted}{mark}" + "p" * o.unpaid_pages + ("D" if o.double_paid else "")
            + ("S" if o.missing_on_server else "") + ("" if o.settled_state in SETTLED_STATES else "?"))


def describe(o: Outcome) -> str:
    figures = (f"in {o.money_in}, fees {o.fees}, owed {o.refunds_owed} (unconfirmed {o.unconfirmed}, found paid "
               f"{o.found_paid}), unaccounted {o.unaccounted} (unflagged {o.unflagged}), double paid {o.double_paid}, unpaid pages "
               f"{o.unpaid_pages}, missing on server {o.missing_on_server}, settled {o.settled_state}")
    cut = o.killed_at or "no cut came"
    return f"{o.case} cut {o.when} {o.kill_at or ''} [{cut}]: {figures}; flagged {o.flagged} {o.notes}".strip()


def table(results: list[CaseResult]) -> str:
    """Markdown: one row per case; per kill point the yen unaccounted after a cut before / after the commit."""
    lines = ["| case | commits | yen unaccounted after a cut at each journal commit of the visit, in order (what "
             "wrote: cut before / after the commit) | random cuts | double payouts | unpaid pages | missing on server | time |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        cells = []
        for n in r.kill_points:
            by_when = {o.when: o for o in r.cuts if o.kill_at == n}
            label = r.label(n).split(" ", 1)[1] if " " in r.label(n) else r.label(n)
            cells.append(f"{label} {' / '.join(cell(by_when.get(w)) for w in WHENS)}")
        random = [cell(o) for o in r.cuts if o.kill_at is None]
        lines.append(f"| {r.case.name} | {len(r.kill_points)} | {'; '.join(cells)} | "
                     f"{', '.join(random) or '–'} | {sum(o.double_paid for o in r.all)} | "
                     f"{sum(o.unpaid_pages for o in r.all)} | {sum(o.missing_on_server for o in r.all)} | "
                     f"{r.seconds:.0f} s |")
    return "\n".join(lines)


__all__ = ["CASES", "CaseResult", "describe", "run_matrix_case", "table"]
