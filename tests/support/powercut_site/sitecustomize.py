"""Loaded only by kiosk processes the power-cut rig starts (tests/support/powercut.py puts this directory on their
PYTHONPATH): it counts the journal's commits and cuts the power at one of them.  Nothing in firmware/ knows.

    POWERCUT_LOG=FILE        append one line per commit: "<n> <what wrote>" (e.g. "7 record_credit")
    POWERCUT_KILL_AT=N       SIGKILL this process at the N-th commit ...
    POWERCUT_KILL_WHEN=after ... once it is on disk ("after", the default) or with its transaction written but
                             not committed ("before": SQLite rolls it back, what the caller did before is done)

The commits are those of ``firmware.journal.Journal._write`` (the context manager every write goes through).
"""
import os
import signal
import sys

_log = os.environ.get("POWERCUT_LOG")
if _log:
    from contextlib import contextmanager

    from firmware import journal as _journal

    _kill_at = int(os.environ.get("POWERCUT_KILL_AT", "0") or 0)
    _when = os.environ.get("POWERCUT_KILL_WHEN", "after")
    _count = 0
    _original = _journal.Journal._write
    _FILES = ("journal.py", "journal_devices.py")

    def _what() -> str:
        """The journal method that asked for this write (the outermost frame in the journal's modules), and the
        kind of event for the generic ones."""
        frame, found = sys._getframe(2), None
        while frame is not None:
            if frame.f_code.co_filename.endswith(_FILES) and "firmware" in frame.f_code.co_filename:
                found = frame
            frame = frame.f_back
        if found is None:
            return "?"
        name = found.f_code.co_name
        kind = found.f_locals.get("kind") if name in ("note", "begin_payout") else None
        reason = found.f_locals.get("reason") if name in ("record_reconciliation", "record_hopper_stock") else None
        extra = kind or reason
        return f"{name}:{extra}" if isinstance(extra, str) else name

    def _mark(n: int, what: str, killed: bool) -> None:
        with open(_log, "a", encoding="utf-8") as out:
            out.write(f"{n} {what}{' KILLED-' + _when if killed else ''}\n")
            out.flush()
            os.fsync(out.fileno())

    def _cut() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    @contextmanager
    def _write(self):
        global _count
        what = _what()
        with _original(self) as cur:
            yield cur
            n = _count + 1  # the body ran without an error: this write is about to commit
            if _when == "before" and n == _kill_at:
                _mark(n, what, True)
                _cut()
        _count = n
        if _when != "before" and n == _kill_at:
            _mark(n, what, True)
            _cut()
        _mark(n, what, False)

    _journal.Journal._write = _write
