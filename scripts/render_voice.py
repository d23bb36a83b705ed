#!/usr/bin/env python3
"""Render the voice prompts from the string catalogue: <out>/<language>/<message_id>.wav.

Run: ``.venv/bin/python scripts/render_voice.py [--out var/voice] [--lang ja --lang en …]``, then point
``[devices.voice] sounds_dir`` at the output directory.

Every ``prompt.*`` message of ``screens/strings/<language>.toml`` becomes one file (the message id is the file
name, so the player needs no list of ids).  The text spoken is the reading in ``voice/readings/<language>.toml``
when there is one, else the screen text.  Japanese is read by Open JTalk (``--engine auto``, the default: it reads
kanji) and the other languages by espeak-ng (:mod:`hal.voice.engines`).  With ``--engine espeak`` Japanese goes to
espeak-ng too, which cannot read kanji (it says "Chinese letter" for each), so a Japanese prompt whose text still
holds kanji is then refused, naming the ids that need a kana reading; the exit status is then 1 and nothing is left
half-written.  Prompts with placeholders (``{amount}``) are left out: the screens say those at run time with the
number in them (screens/narration.py, ``AplayVoice.speak``).

With ``--speech-cache DIR`` it also renders every fixed text of the catalogue (no placeholder), sentence by
sentence as the screens say them, into ``DIR/<language>/<key>.wav`` (``hal.voice.player.speech_key``): point
``[devices.voice] speech_cache`` there and a screen's heading and fixed lines play from the cache, so only the
changing parts (amounts, tries, names) are synthesised while the resident waits.

These are synthetic voices for development and a fallback; a municipality replaces the files with recordings.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from hal.voice import engines  # noqa: E402
VOICES = {"ja": "ja", "ja-easy": "ja", "en": "en-us", "ko": "ko", "pt": "pt-br", "vi": "vi", "zh": "cmn"}
"""Catalogue language → espeak-ng voice."""
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class RenderError(Exception):
    pass


def prompts(strings_dir: Path, readings_dir: Path, language: str, espeak_only: bool = True) -> dict[str, str]:
    """message id → the text to speak, for one language."""
    catalogue = strings_dir / f"{language}.toml"
    if not catalogue.is_file():
        raise RenderError(f"no string catalogue {catalogue}")
    texts = {k: v for k, v in tomllib.loads(catalogue.read_text(encoding="utf-8")).items()
             if k.startswith("prompt.") and isinstance(v, str) and "{" not in v}
    readings_file = readings_dir / f"{language}.toml"
    if readings_file.is_file():
        readings = tomllib.loads(readings_file.read_text(encoding="utf-8"))
        unknown = sorted(set(readings) - set(texts))
        if unknown:
            raise RenderError(f"{readings_file}: readings for ids the catalogue has no prompt for: {unknown}")
        texts.update(readings)
    if VOICES.get(language) == "ja" and espeak_only:
        unreadable = sorted(k for k, v in texts.items() if KANJI.search(v))
        if unreadable:
            raise RenderError(f"{language}: espeak-ng cannot read kanji; add kana readings for {unreadable} "
                              f"to {readings_file}")
    return texts


def render(language: str, texts: dict[str, str], out: Path, espeak: str, espeak_only: bool = True) -> int:
    voice = VOICES.get(language)
    if voice is None:
        raise RenderError(f"no espeak-ng voice known for {language!r} (known: {', '.join(sorted(VOICES))})")
    staging = Path(tempfile.mkdtemp(prefix=f".{language}-", dir=out))
    try:
        for message_id, text in sorted(texts.items()):
            if not espeak_only:
                try:
                    sound = engines.synthesise(text, language)
                except (engines.EngineMissing, RuntimeError) as e:
                    raise RenderError(f"{language} {message_id}: {e}") from None
                (staging / f"{message_id}.wav").write_bytes(sound.wav())
                continue
            done = subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(staging / f"{message_id}.wav"),
                                   text], capture_output=True, text=True)
            if done.returncode != 0:
                raise RenderError(f"{language} {message_id}: espeak-ng failed: {done.stderr.strip()[:200]}")
        target = out / language
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # the language's files appear together or not at all
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return len(texts)


def render_speech_cache(strings_dir: Path, language: str, out: Path) -> int:
    """Every fixed catalogue text, cut into sentences the way the voice driver cuts what it is asked to say."""
    from hal.voice.player import speech_key, split_sentences

    table = tomllib.loads((strings_dir / f"{language}.toml").read_text(encoding="utf-8"))
    stop = table.get("speech.sentence", ".")
    sentences = set()
    for key, text in table.items():
        if "{" in text or key.startswith(("speech.pause", "speech.sentence", "lang.")):
            continue
        text = " ".join(text.replace("▶", "").split())
        if text and text[-1] not in ".。!?！？:：":
            text += stop
        sentences.update(split_sentences(text))
    target = out / language
    target.mkdir(parents=True, exist_ok=True)
    for sentence in sorted(sentences):
        path = target / f"{speech_key(sentence)}.wav"
        if not path.exists():
            path.write_bytes(engines.synthesise(sentence, language).wav())
    return len(sentences)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=Path, default=ROOT / "screens" / "strings")
    parser.add_argument("--readings", type=Path, default=ROOT / "voice" / "readings")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "voice")
    parser.add_argument("--lang", action="append", help="a catalogue language (default: every catalogue)")
    parser.add_argument("--espeak", default="espeak-ng")
    parser.add_argument("--speech-cache", type=Path, help="also render the catalogue's fixed texts here")
    parser.add_argument("--engine", choices=("auto", "espeak"), default="auto",
                        help="auto: Open JTalk for Japanese, espeak-ng for the rest; espeak: espeak-ng for all")
    args = parser.parse_args(argv)
    if shutil.which(args.espeak) is None:
        print(f"render_voice: {args.espeak} is not installed (apt: espeak-ng)", file=sys.stderr)
        return 1
    languages = args.lang or sorted(p.stem for p in args.strings.glob("*.toml"))
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        espeak_only = args.engine == "espeak"
        planned = {language: prompts(args.strings, args.readings, language, espeak_only) for language in languages}
        for language, texts in planned.items():
            count = render(language, texts, args.out, args.espeak, espeak_only)
            print(f"{language}: {count} prompts → {args.out / language}")
            if args.speech_cache:
                count = render_speech_cache(args.strings, language, args.speech_cache)
                print(f"{language}: {count} fixed sentences → {args.speech_cache / language}")
    except RenderError as e:
        print(f"render_voice: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
