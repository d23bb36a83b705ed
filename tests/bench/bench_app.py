"""Benchmark the touchscreen app: cold start to the idle screen, touch -> next screen, peak RSS.

Run: ``PYTHONPATH=. .venv/bin/python tests/bench/bench_app.py [--touches 20]``.  Not a test: it prints numbers and
asserts nothing about speed.  Targets (issue #5): cold start <= 2 s, touch -> next screen <= 100 ms, peak RSS
<= 200 MB.  The app renders with SDL's offscreen driver on Mesa llvmpipe (software GL, no X server), in a child
process per measurement so the start is truly cold; a development world and the real reference server (HTTPS)
run beside it.

- cold start: from just before the child process is spawned to the first time the idle screen is drawn (Python
  start, imports, Kivy window and GL, firmware assembly and start, first frame).
- touch -> next screen: a simulated touch (press + release on the button's centre) on a certificate of the menu
  until the options screen is drawn, and on Back until the menu is drawn again (no server call on either path);
  p50/p95/max over ``--touches`` of each.
- peak RSS: the child's ru_maxrss after a whole visit by touch (card, PIN, menu, options, confirm, pay, print).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

CHILD = r'''
import asyncio, json, os, resource, sys, time
from pathlib import Path
from firmware.config import parse_config
from tests.support.kiosk_session import kiosk_config_data
from screens.app import run_kiosk_app
from screens.testing import tap, wait_screen

t0 = float(sys.argv[1]); dev, work, url, touches = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], int(sys.argv[5])
config = parse_config(kiosk_config_data(dev, work, url), source=work / "kiosk.toml")

async def drive(app):
    report = {}
    await wait_screen(app, "idle")
    await tap(app, "dev.card.resident-a")
    await wait_screen(app, "pin")
    for d in "1234":
        await tap(app, f"pin.{d}", settle=0.02)
    await tap(app, "pin.ok")
    await wait_screen(app, "menu")
    forward, back = [], []
    for _ in range(touches):
        for name, target, into in (("cert.residence_record_copy", "options", forward), ("footer.back", "menu", back)):
            await asyncio.sleep(0.1)
            from screens.testing import press
            touch = press(app, name)
            await asyncio.sleep(0.05)  # a finger rests on the glass for a moment
            start = time.perf_counter()
            touch.touch_up()  # a button acts on release: the time runs from here
            while not (app.sm.current == target and app._render_event is None):
                if time.perf_counter() - start > 10:
                    raise SystemExit(f"no {target} screen 10 s after touching {name} (on {app.sm.current})")
                await asyncio.sleep(0.001)
            into.append((time.perf_counter() - start) * 1000)
    await tap(app, "cert.residence_record_copy")
    await wait_screen(app, "options")
    await tap(app, "options.next"); await tap(app, "options.next")
    await wait_screen(app, "confirm")
    await tap(app, "confirm.pay")
    await wait_screen(app, "paying")
    for _ in range(3):
        await tap(app, "dev.yen.100")
    await wait_screen(app, "return_card", timeout=30)
    report.update(forward_ms=forward, back_ms=back)
    return report

idle_mono = []
import screens.kiosk_app as ka
_render = ka.KioskApp._render
def timed_render(self):
    _render(self)
    if not idle_mono and self.sm.current == "idle":
        idle_mono.append(time.monotonic()); print("IDLE", time.time(), flush=True)
ka.KioskApp._render = timed_render
report = asyncio.run(run_kiosk_app(config, drive))
report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("REPORT", json.dumps(report), flush=True)
'''


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--touches", type=int, default=20)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    from tests.support.server_process import make_dev_world, start_server

    tmp = Path(tempfile.mkdtemp(prefix="bench-app-"))
    dev = make_dev_world(tmp / "dev")
    server = start_server(dev)
    env = dict(os.environ, PYTHONPATH=str(REPO), SDL_VIDEODRIVER="offscreen", KIVY_HOME=str(tmp / "kivy"),
               KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1")
    env.pop("DISPLAY", None)
    starts, reports = [], []
    try:
        for run in range(args.starts):
            work = tmp / f"work{run}"
            work.mkdir()
            t0 = time.time()
            child = subprocess.run([sys.executable, "-c", CHILD, str(t0), str(dev), str(work), server.url,
                                    str(args.touches if run == 0 else 1)],
                                   cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
            lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in child.stdout.splitlines()
                     if line.startswith(("IDLE ", "REPORT "))}
            if child.returncode or "REPORT" not in lines:
                print(child.stdout[-2000:], child.stderr[-4000:], file=sys.stderr)
                return 1
            starts.append(float(lines["IDLE"]) - t0)
            reports.append(json.loads(lines["REPORT"]))
    finally:
        server.stop()
    first = reports[0]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared dev machine)")
    print(f"cold start to idle screen: {', '.join(f'{s:.2f}' for s in starts)} s "
          f"(median {statistics.median(starts):.2f} s; target <= 2 s)")
    for name, key in (("touch -> options screen", "forward_ms"), ("touch Back -> menu screen", "back_ms")):
        values = first[key]
        print(f"{name}: p50 {pct(values, 50):.0f} ms, p95 {pct(values, 95):.0f} ms, max {max(values):.0f} ms "
              f"over {len(values)} (target <= 100 ms)")
    print(f"peak RSS after a whole visit: {max(r['peak_rss_mb'] for r in reports):.0f} MB (target <= 200 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
