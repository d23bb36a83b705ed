"""Benchmark the voice: synthesis time per phrase for each engine, and request → first audio sample.

Run: ``.venv/bin/python tests/bench/bench_voice.py [--runs 5] [--speech-cache var/speech]`` (the cache from
``scripts/render_voice.py --speech-cache var/speech``).  Not a test: it prints numbers and asserts
nothing about speed.  Target (issue #14): key press → first audio sample of the spoken response ≤ 300 ms.

- synthesis: ``hal.voice.engines.synthesise`` per phrase (Open JTalk for ja, espeak-ng for en/zh), p50 and max of
  ``--runs``, with the length of the audio and the real-time factor (synthesis time / audio time).
- first audio: ``AplayVoice.speak`` (the kiosk's voice driver) playing to ALSA's ``null`` device, from the call
  until aplay reports that it has opened the device and is writing the first samples ("Playing WAVE"): the first
  sentence is synthesised, the rest is streamed after it.  What a key press adds before that call (Kivy's key
  event, the narrator, the controller's queue) is not in this figure; the GUI tests see it as a few ms.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hal.voice import engines  # noqa: E402
from hal.voice.player import AplayVoice  # noqa: E402

PHRASES = {
    "ja": {"focus": "1. 住民票の写し、300円。",
           "coin": "入れた金額 100円。 あと 200円。",
           "tries": "暗証番号（数字4けた）を入れてください。 あと3回まで入力できます。",
           "menu (whole screen)": "ほしい証明書を選んでください。 1. 住民票の写し、300円。 2. 住民票記載事項証明書、300円。 "
                                  "3. 印鑑登録証明書、300円。 4. 戸籍全部事項証明書、450円。 5. 戸籍個人事項証明書、450円。 "
                                  "6. 戸籍の附票の写し、300円。 7. 課税・非課税証明書、300円。"},
    "en": {"focus": "1. Certificate of residence, 300 yen.",
           "coin": "Inserted 100 yen. Still due 200 yen.",
           "tries": "Enter your 4-digit PIN. 3 tries left.",
           "menu (whole screen)": "Choose a certificate. 1. Certificate of residence, 300 yen. 2. Residence record "
                                  "items, 300 yen. 3. Seal registration certificate, 300 yen. 4. Family register "
                                  "(all), 450 yen. 5. Family register (one person), 450 yen. 6. Family register "
                                  "annex, 300 yen. 7. Resident tax certificate, 300 yen."},
    "zh": {"coin": "已投入100日元。还需支付200日元。"},
}


def synthesis(runs: int) -> None:
    print(f"\nsynthesis per phrase ({runs} runs; load average {os.getloadavg()[0]:.2f})")
    print(f"{'lang':8}{'engine':12}{'phrase':22}{'p50 ms':>8}{'max ms':>8}{'audio s':>9}{'RTF':>7}")
    engines.synthesise("準備", "ja")  # Open JTalk loads its dictionary once (~0.2 s): not a phrase's cost
    for language, phrases in PHRASES.items():
        for name, text in phrases.items():
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                sound = engines.synthesise(text, language)
                times.append(time.perf_counter() - start)
            p50 = statistics.median(times)
            print(f"{language:8}{engines.engine_for(language):12}{name:22}{p50 * 1000:8.0f}{max(times) * 1000:8.0f}"
                  f"{sound.seconds:9.2f}{p50 / sound.seconds:7.3f}")


async def first_audio(runs: int, cache: Path | None) -> None:
    print(f"\nrequest → first audio sample (AplayVoice.speak to ALSA null, speech cache {cache}; "
          f"load average {os.getloadavg()[0]:.2f})")
    print(f"{'lang':8}{'phrase':22}{'p50 ms':>8}{'max ms':>8}")
    voice = AplayVoice(Path("/nonexistent"), audio_device="null", speech_cache=cache)
    await voice.start(lambda e: None)
    for language, phrases in PHRASES.items():
        for name, text in phrases.items():
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                ok = await voice.speak(text, language)
                times.append(time.perf_counter() - start)
                voice.silence()
                if not ok:
                    print(f"{language:8}{name:22}  not played (is aplay installed?)")
                    break
            else:
                print(f"{language:8}{name:22}{statistics.median(times) * 1000:8.0f}{max(times) * 1000:8.0f}")
    await voice.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--speech-cache", type=Path, help="a cache from scripts/render_voice.py --speech-cache")
    args = parser.parse_args()
    synthesis(args.runs)
    asyncio.run(first_audio(args.runs, None))
    if args.speech_cache:
        asyncio.run(first_audio(args.runs, args.speech_cache))


if __name__ == "__main__":
    main()
