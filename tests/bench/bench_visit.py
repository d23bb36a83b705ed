"""Benchmark one whole headless kiosk visit against the real reference server over HTTPS on 127.0.0.1, in both
protocol versions, without and with an added round-trip time, side by side in one run.

Run: ``PYTHONPATH=. .venv/bin/python tests/bench/bench_visit.py [--visits 30] [--latency-visits 10]
[--protocol both|1|2] [--rtt-ms 30] [--profile]``.  Not a test: it prints p50, p95 and max in milliseconds and
asserts nothing about speed; it exits non-zero only if a visit goes wrong.  The target (issue) is a whole visit
<= 150 ms p50 on a 2-core x86 machine, without added latency.

A visit: card placed -> PIN -> menu -> choose 住民票の写し (residence_record_copy) -> options (1 copy) -> confirm ->
three 100 yen coins -> issue, verify, print -> lift card -> take document -> idle.  The resident acts the instant
the kiosk reaches the state that allows it (zero think time) and every simulator has zero latency.  The next
resident comes when the kiosk is quiet (no HTTP call of the last visit still in flight, at most 2 s): a queue
of real residents is seconds apart, and the two protocol versions are compared on the same footing.

Protocol 1 is the old sequence (challenge, sign-in, menu, quote, health, issuance; result and sign-out after);
protocol 2 (docs/kiosk-server-protocol.md, "Protocol version 2") prefetches the nonce while idle, gets the menu
with the sign-in and asks for the quote at Confirm.  ``+30 ms`` runs put tests/support/latency_proxy.py
between the kiosk and the server: every chunk is delayed 15 ms each way (a 30 ms round trip, a LGWAN-like line).

What is timed is the software, not the test: commands go straight to the kiosk's command table (no 10 ms sleep
after each, as ``KioskSession.do`` has), and states are caught by a listener subscribed to the kiosk's view (called
synchronously when the controller publishes), so each split ends on the exact moment the state was entered.
Simulator work is kept out of the figure: the simulated printer has no ``out_dir`` (pages stay in memory, no PNG
is encoded), and the card is parsed from its file once (an RSA key load with full key checks, tens of ms) and
then placed on the reader as an object each visit, instead of the ``place_card`` command re-reading the file;
the parse time is printed separately.  One kiosk session per column and one server process serve every visit;
the first visits of each column warm up (TLS connections, pdfium, fonts, thread pool) and are not counted.

HTTP round trips are counted by who made them: the visit's own operations (``op:*`` tasks: the resident's screen
waits for their answer) are "on the critical path"; the nonce prefetch, the result outbox and the sign-out run
beside or after the visit and are counted in the total only.

Splits:  sign-in     = card placed -> menu (card read, PIN, [challenge +] sign-in [+ menu])
         options     = options sent -> confirm (protocol 1: the quote)
         confirm     = confirm -> paying (protocol 1: health; protocol 2: the quote)
         issue+print = payment complete (kiosk leaves PAYING for ISSUING) -> return_card
                       (issuance request, signature/hash/binding verification, rasterise, print, cut)
         waits       = the four above: what the resident waits for the kiosk in one visit
``--profile`` profiles one extra protocol-2 visit (no added latency) with cProfile, including the worker
threads (``asyncio.to_thread``: verification, rasterising), and prints the top costs.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import io
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from firmware.visit import VisitState  # noqa: E402
from hal.card.sim import SimCard  # noqa: E402
from tests.support.kiosk_session import KioskSession, kiosk_config_data  # noqa: E402
from tests.support.latency_proxy import LatencyProxy  # noqa: E402
from tests.support.server_process import make_dev_world, start_server  # noqa: E402

TARGET_P50_MS = 150.0
CERTIFICATE = "residence_record_copy"
CARD = "resident-a"
FEE = 300
STATE_TIMEOUT_S = 15.0
S = VisitState


class VisitFailed(Exception):
    pass


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class StateWatch:
    """Subscribed to the kiosk's view: notes when each state is first entered and wakes whoever waits for it."""

    def __init__(self, session: KioskSession):
        self.kiosk = session.kiosk
        self.entered: dict[VisitState, float] = {}
        self.waiting: dict[VisitState, asyncio.Future] = {}
        self.last = session.kiosk.view.state
        session.kiosk.subscribe(self._on_view)

    def _on_view(self, view) -> None:
        if view.state is not self.last:
            self.last = view.state
            self.entered.setdefault(view.state, time.perf_counter())
        future = self.waiting.get(view.state)
        if future is not None and not future.done():
            future.set_result(None)

    def reset(self) -> None:
        self.entered.clear()

    async def wait(self, state: VisitState) -> float:
        """Wait until the visit is in ``state``; return the moment it was entered."""
        if self.kiosk.view.state is not state:
            future = asyncio.get_running_loop().create_future()
            self.waiting[state] = future
            try:
                await asyncio.wait_for(future, STATE_TIMEOUT_S)
            except asyncio.TimeoutError:
                v = self.kiosk.view
                raise VisitFailed(f"expected state {state.value!r}, still {v.state.value!r} after "
                                  f"{STATE_TIMEOUT_S:g} s (message {v.message!r}, out of service "
                                  f"{v.out_of_service_reason!r})") from None
            finally:
                self.waiting.pop(state, None)
        return self.entered.get(state, time.perf_counter())


async def do(session: KioskSession, command: str, **args) -> None:
    reply = await session.commands[command](args)
    if isinstance(reply, dict) and reply.get("ok") is False:
        raise VisitFailed(f"{command} {args}: {reply.get('error')}")


async def one_visit(session: KioskSession, watch: StateWatch, card: SimCard) -> dict[str, float]:
    """One visit, zero think time; returns its timings in milliseconds."""
    watch.reset()
    session.devices.printer.pages.clear()  # keep memory flat over long runs
    if session.kiosk.view.state is not S.IDLE:
        raise VisitFailed(f"the kiosk is not idle before the visit ({session.kiosk.view.state.value})")
    start = time.perf_counter()
    await session.devices.card_reader.place_card(card)  # what the place_card command does, minus the file parse
    await watch.wait(S.PIN)
    await do(session, "enter_pin", pin="1234")
    menu_at = await watch.wait(S.MENU)
    await do(session, "choose", certificate=CERTIFICATE)
    await watch.wait(S.OPTIONS)
    options_sent = time.perf_counter()
    await do(session, "options", copies=1)
    confirm_at = await watch.wait(S.CONFIRM)
    await do(session, "confirm")
    paying_at = await watch.wait(S.PAYING)
    if session.kiosk.view.fee != FEE:
        raise VisitFailed(f"fee is {session.kiosk.view.fee} yen, expected {FEE}")
    for _ in range(FEE // 100):
        await do(session, "insert_coin", value=100)
    return_at = await watch.wait(S.RETURN_CARD)
    paid_at = watch.entered.get(S.ISSUING)
    if paid_at is None:
        raise VisitFailed("the visit reached return_card without passing through issuing")
    await do(session, "lift_card")
    await watch.wait(S.TAKE_ITEMS)
    items = session.kiosk.view.items_to_take
    if items != ("document",):
        raise VisitFailed(f"expected to take only the document, the kiosk offers {items}")
    await do(session, "take_document")
    end = await watch.wait(S.IDLE)
    pages = session.devices.printer.pages
    if len(pages) != 1 or pages[0].partial:
        raise VisitFailed(f"expected one whole printed page, got {len(pages)} "
                          f"({'partial' if pages and pages[0].partial else 'whole'})")
    splits = {"visit": end - start, "sign-in": menu_at - start, "options": confirm_at - options_sent,
              "confirm": paying_at - confirm_at, "issue+print": return_at - paid_at}
    splits["waits"] = sum(splits[k] for k in ("sign-in", "options", "confirm", "issue+print"))
    return {name: seconds * 1000 for name, seconds in splits.items()}


class HttpCalls:
    """Wraps the kiosk's server client so each HTTP round trip (server + TLS + httpx) is timed, by path and by
    whether the visit waited for it (made by an ``op:*`` task) or not."""

    def __init__(self, session: KioskSession):
        self.calls: dict[tuple[bool, str], list[float]] = defaultdict(list)
        self.in_flight = 0
        self.counting = False
        client = session.kiosk.server
        original = client._call

        async def timed(method, path, *args, **kwargs):
            task = asyncio.current_task()
            critical = task is not None and task.get_name().startswith("op:")
            started = time.perf_counter()
            self.in_flight += 1
            try:
                return await original(method, path, *args, **kwargs)
            finally:
                self.in_flight -= 1
                if self.counting:
                    key = "/".join("{id}" if len(part) > 20 else part for part in path.split("/"))
                    self.calls[(critical, f"{method} {key}")].append((time.perf_counter() - started) * 1000)

        client._call = timed

    async def quiet(self, session: KioskSession, bound_s: float = 2.0) -> None:
        """Until no call is in flight and a protocol-2 kiosk holds its next nonce (at most ``bound_s``)."""
        nonces = session.kiosk.nonces
        deadline = time.perf_counter() + bound_s
        while time.perf_counter() < deadline:
            if self.in_flight == 0 and (nonces is None or nonces.usable()):
                return
            await asyncio.sleep(0.002)

    def per_visit(self, visits: int, critical_only: bool) -> tuple[float, float]:
        """(round trips, ms spent in them) per visit."""
        chosen = [v for (critical, _), v in self.calls.items() if critical or not critical_only]
        return sum(len(v) for v in chosen) / visits, sum(sum(v) for v in chosen) / visits


@contextlib.contextmanager
def profile_threads(profiles: list[cProfile.Profile]):
    """While active, every ``asyncio.to_thread`` call runs under its own profiler (merged afterwards)."""
    original = asyncio.to_thread

    def profiled(func):
        def run(*args, **kwargs):
            profiler = cProfile.Profile()
            profiles.append(profiler)
            return profiler.runcall(func, *args, **kwargs)
        return run

    async def to_thread(func, /, *args, **kwargs):
        return await original(profiled(func), *args, **kwargs)

    asyncio.to_thread = to_thread
    try:
        yield
    finally:
        asyncio.to_thread = original


async def profile_visit(session: KioskSession, watch: StateWatch, card: SimCard, top: int) -> str:
    loop_profiler = cProfile.Profile()
    thread_profiles: list[cProfile.Profile] = []
    with profile_threads(thread_profiles):
        loop_profiler.enable()
        try:
            timings = await one_visit(session, watch, card)
        finally:
            loop_profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(loop_profiler, stream=out)
    for profiler in thread_profiles:
        stats.add(profiler)
    out.write(f"profiled visit: {timings['visit']:.1f} ms under cProfile (event loop + {len(thread_profiles)} "
              f"worker-thread calls merged; the server process is not profiled)\n")
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


@dataclasses.dataclass
class Column:
    protocol: int
    rtt_ms: float
    visits: int
    samples: dict[str, list[float]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    http: HttpCalls | None = None

    @property
    def title(self) -> str:
        return f"v{self.protocol} " + (f"+{self.rtt_ms:g} ms" if self.rtt_ms else "0 ms")


async def run_column(column: Column, dev: Path, work: Path, url: str, warmup: int, card_loads: list[float],
                     profile: bool, top: int) -> str | None:
    config = kiosk_config_data(dev, work, url, **{"devices.printer": {"driver": "sim", "dpi": 203},
                                                  "server.protocol": column.protocol})
    async with KioskSession(config, work) as session:
        if session.devices.printer.out_dir is not None:
            raise VisitFailed("the simulated printer has an out_dir; the benchmark wants pages in memory only")
        watch = StateWatch(session)
        card_file = work / "cards" / f"{CARD}.json"
        card = SimCard.load(card_file)
        for _ in range(3):
            started = time.perf_counter()
            SimCard.load(card_file)
            card_loads.append((time.perf_counter() - started) * 1000)
        await watch.wait(S.IDLE)
        column.http = HttpCalls(session)
        for _ in range(warmup):
            await column.http.quiet(session)
            await one_visit(session, watch, card)
        for _ in range(column.visits):
            await column.http.quiet(session)
            column.http.counting = True
            for name, value in (await one_visit(session, watch, card)).items():
                column.samples[name].append(value)
            await column.http.quiet(session)  # the result, the sign-out and the next nonce belong to this visit
            column.http.counting = False
        if profile:
            await column.http.quiet(session)
            return await profile_visit(session, watch, card, top)
    return None


LABELS = {"visit": "whole visit (card placed -> idle)", "waits": "  resident waits, in all",
          "sign-in": "    sign-in (card placed -> menu)", "options": "    options -> confirm",
          "confirm": "    confirm -> paying", "issue+print": "    issue+verify+print (paid -> return)"}


def report(columns: list[Column], card_loads: list[float], warmup: int, load: str) -> None:
    print(f"machine: {platform.machine()} ({platform.processor() or 'processor unknown'}), "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()} ({platform.python_implementation()}), "
          f"{platform.system()} {platform.release()}; load average {load}")
    print(f"{' / '.join(f'{c.visits}' for c in columns)} visits after {warmup} warm-up each, one kiosk session per "
          f"column, reference server over HTTPS on 127.0.0.1, zero-latency simulators")
    print(f"  not counted (simulator work): PNG pages (sim printer has no out_dir, pages stay in memory); "
          f"parsing the card file ({statistics.median(card_loads):.0f} ms, RSA key load) - the card is loaded "
          f"once and placed as an object")
    width = 13
    print(f"  {'':<44}" + "".join(f"{c.title:>{width}}" for c in columns))
    for critical_only, label in ((True, "HTTP round trips per visit, critical path"),
                                 (False, "HTTP round trips per visit, in total")):
        print(f"  {label:<44}" + "".join(f"{c.http.per_visit(c.visits, critical_only)[0]:>{width}.1f}"
                                         for c in columns))
    print(f"  {'  ms in critical-path round trips per visit':<44}"
          + "".join(f"{c.http.per_visit(c.visits, True)[1]:>{width}.1f}" for c in columns))
    for name, label in LABELS.items():
        print(f"  {label + ', p50 ms':<44}" + "".join(f"{percentile(c.samples[name], .5):>{width}.1f}"
                                                     for c in columns))
    print(f"  {'whole visit p95 / max ms':<44}" + "".join(
        f"{percentile(c.samples['visit'], .95):>6.0f}/{max(c.samples['visit']):<6.0f}" for c in columns))
    for c in columns:
        print(f"  {c.title}: round trips (critical path first; p50 ms, per visit)")
        for (critical, key), values in sorted(c.http.calls.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
            print(f"    {'*' if critical else ' '} {key:<44} {percentile(values, .5):7.1f} p50  "
                  f"x{len(values) / c.visits:.2f}")
    for c in columns:
        if c.rtt_ms == 0:
            p50 = percentile(c.samples["visit"], .5)
            verdict = "meets" if p50 <= TARGET_P50_MS else "ABOVE"
            print(f"{c.title}: whole visit p50 {p50:.1f} ms; target <= {TARGET_P50_MS:.0f} ms p50 on a 2-core x86 "
                  f"machine without added latency: {verdict} target")


async def run(dev: Path, work: Path, server_url: str, server_port: int, args) -> int:
    protocols = (1, 2) if args.protocol == "both" else (int(args.protocol),)
    columns = [Column(p, 0.0, args.visits) for p in protocols]
    if args.rtt_ms > 0 and args.latency_visits > 0:
        columns += [Column(p, args.rtt_ms, args.latency_visits) for p in protocols]
    card_loads: list[float] = []
    profile_text = None
    for n, column in enumerate(columns):
        wanted_profile = args.profile and column.protocol == protocols[-1] and column.rtt_ms == 0
        if column.rtt_ms:
            with LatencyProxy(server_port, rtt_s=column.rtt_ms / 1000) as proxy:
                await run_column(column, dev, work / f"c{n}", proxy.url, args.warmup, card_loads, False, args.top)
        else:
            text = await run_column(column, dev, work / f"c{n}", server_url, args.warmup, card_loads,
                                    wanted_profile, args.top)
            profile_text = profile_text or text
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    report(columns, card_loads, args.warmup, load)
    if profile_text:
        print()
        print(profile_text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=30, help="visits per column without added latency")
    parser.add_argument("--latency-visits", type=int, default=10, help="visits per column with added latency")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--protocol", choices=("both", "1", "2"), default="both",
                        help="1: the old sequence; 2: fewer round trips; both: side by side")
    parser.add_argument("--rtt-ms", type=float, default=30.0,
                        help="round-trip time the latency proxy adds (0: no proxied columns)")
    parser.add_argument("--profile", action="store_true", help="profile one extra protocol-2 visit")
    parser.add_argument("--top", type=int, default=25, help="rows of profile output")
    args = parser.parse_args(argv)
    if args.visits < 1:
        parser.error("--visits must be at least 1")
    if not 0 <= args.rtt_ms <= 500:
        parser.error("--rtt-ms must be between 0 and 500")
    with tempfile.TemporaryDirectory(prefix="bench-visit-") as tmp:
        tmp = Path(tmp)
        try:
            dev = make_dev_world(tmp / "dev")
        except Exception as exc:  # noqa: BLE001
            print(f"bench_visit: FAILED to create the development world: {exc}", file=sys.stderr)
            return 2
        try:
            server = start_server(dev)
        except Exception as exc:  # noqa: BLE001
            print(f"bench_visit: FAILED to start the reference server: {exc}", file=sys.stderr)
            return 2
        try:
            return asyncio.run(run(dev, tmp / "work", server.url, server.port, args))
        except VisitFailed as exc:
            print(f"bench_visit: FAILED, the visit went wrong: {exc}", file=sys.stderr)
            print(f"server log (tail):\n{server.log_text()[-2000:]}", file=sys.stderr)
            return 1
        finally:
            server.stop()
            with contextlib.suppress(OSError):
                server.log_path.unlink()


if __name__ == "__main__":
    sys.exit(main())
