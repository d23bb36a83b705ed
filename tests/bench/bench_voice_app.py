"""Benchmark the voice in the real app: key press → the first audio sample of the spoken response.

Run: ``PYTHONPATH=. .venv/bin/python tests/bench/bench_voice_app.py [--presses 20] [--speech-cache var/speech]``.
Not a test: it prints numbers.  Target (issue #14): ≤ 300 ms.

The touchscreen app runs (SDL offscreen, Mesa llvmpipe) with the real voice driver (``player``: Open JTalk for
Japanese, espeak-ng for English, aplay to ALSA's ``null`` device) against the real reference server.  On the menu
the keypad's + key is pressed (a Kivy key event, as a USB keypad sends it); the time runs until aplay reports
that it has opened the device and writes the first samples of what the focus move says ("1. 住民票の写し、300円").
Then the repeat key (the whole menu said again).  In Japanese and in English.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

CHILD = r'''
import asyncio, json, sys, time
from pathlib import Path
from firmware.config import parse_config
from firmware.headless import all_commands
from tests.support.kiosk_session import kiosk_config_data
from screens.app import run_kiosk_app
from screens.testing import wait_screen

dev, work, url, presses, language = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
cache = sys.argv[6] if len(sys.argv) > 6 else ""
voice = {"driver": "player", "sounds_dir": str(work / "none"), "audio_device": "null"}
if cache:
    voice["speech_cache"] = cache
config = parse_config(kiosk_config_data(dev, work, url, **{"devices.voice": voice}), source=work / "kiosk.toml")

async def drive(app):
    from kivy.core.window import Window
    from firmware.visit import ChooseLanguage
    commands = all_commands(app.parts.kiosk)
    voice = app.parts.devices.voice
    await wait_screen(app, "idle")
    app.bridge.send(ChooseLanguage(language))
    await asyncio.sleep(0.3)
    await commands["place_card"]({"card": "resident-a"})
    await wait_screen(app, "pin")
    for d in "1234":
        Window.dispatch("on_key_down", 48 + int(d), 0, None, [])
        await asyncio.sleep(0.05)
    Window.dispatch("on_key_down", 13, 0, None, [])
    await wait_screen(app, "menu")
    await asyncio.sleep(1.0)
    report = {}
    for name, code in (("focus", 43), ("repeat", 61)):
        times = []
        for _ in range(presses):
            before = voice._process
            start = time.perf_counter()
            Window.dispatch("on_key_down", code, 0, None, [])
            while voice._process is before or voice._process is None:  # (aplay to null ends at once)
                if time.perf_counter() - start > 10:
                    raise SystemExit("nothing was said 10 s after the key")
                await asyncio.sleep(0.002)
            times.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.3)
        report[name] = times
    voice.silence()
    return report

print("REPORT", json.dumps(asyncio.run(run_kiosk_app(config, drive))), flush=True)
'''


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--speech-cache", default="")
    args = parser.parse_args()
    from tests.support.server_process import make_dev_world, start_server

    tmp = Path(tempfile.mkdtemp(prefix="bench-voice-app-"))
    dev = make_dev_world(tmp / "dev")
    server = start_server(dev)
    env = dict(os.environ, PYTHONPATH=str(REPO), SDL_VIDEODRIVER="offscreen", KIVY_HOME=str(tmp / "kivy"),
               KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1")
    env.pop("DISPLAY", None)
    try:
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared dev machine); "
              f"speech cache: {args.speech_cache or 'none'}")
        for language in ("ja", "en"):
            work = tmp / f"work-{language}"
            work.mkdir()
            child = subprocess.run([sys.executable, "-c", CHILD, str(dev), str(work), server.url, str(args.presses),
                                    language] + ([args.speech_cache] if args.speech_cache else []),
                                   cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
            line = next((x for x in child.stdout.splitlines() if x.startswith("REPORT ")), None)
            if child.returncode or line is None:
                print(child.stdout[-2000:], child.stderr[-4000:], file=sys.stderr)
                return 1
            for name, values in json.loads(line.split(" ", 1)[1]).items():
                values = sorted(values)
                print(f"{language} key → first audio sample, {name}: p50 {statistics.median(values):.0f} ms, "
                      f"p95 {values[int(0.95 * (len(values) - 1))]:.0f} ms, max {values[-1]:.0f} ms "
                      f"over {len(values)} (target <= 300 ms)")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
