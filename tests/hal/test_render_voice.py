"""The voice files rendered from a string catalogue with espeak-ng play through the voice driver.

(The real catalogue, screens/strings, with voice/readings: `python scripts/render_voice.py` renders all of it.)"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from hal.voice.player import AplayVoice, wav_problem

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import render_voice  # noqa: E402

if os.environ.get("CI") != "true":
    pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("aplay") is None,
                                    reason="espeak-ng and aplay are installed by scripts/bootstrap.sh")


def catalogue(tmp_path: Path) -> tuple[Path, Path]:
    """A small string catalogue shaped like screens/strings (prompt ids, a placeholder, kanji) with readings."""
    strings, readings = tmp_path / "strings", tmp_path / "readings"
    strings.mkdir()
    readings.mkdir()
    (strings / "ja.toml").write_text('"prompt.idle" = "カードを置いてください"\n"prompt.paying" = "お金を入れてください"\n'
                                     '"paying.due" = "あと{amount}円"\n"prompt.reading" = "よみとっています"\n',
                                     encoding="utf-8")
    (strings / "en.toml").write_text('"prompt.idle" = "Place your card on the reader"\n'
                                     '"prompt.paying" = "Insert the fee"\n', encoding="utf-8")
    (readings / "ja.toml").write_text('"prompt.idle" = "カードを おいて ください"\n'
                                      '"prompt.paying" = "おかねを いれて ください"\n', encoding="utf-8")
    return strings, readings


def test_every_prompt_renders_from_its_reading_and_plays(tmp_path):
    strings, readings = catalogue(tmp_path)
    out = tmp_path / "voice"
    assert render_voice.main(["--strings", str(strings), "--readings", str(readings), "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "ja").iterdir()) == ["prompt.idle.wav", "prompt.paying.wav",
                                                              "prompt.reading.wav"]  # no placeholder prompt
    assert sorted(p.name for p in (out / "en").iterdir()) == ["prompt.idle.wav", "prompt.paying.wav"]
    assert all(wav_problem(p) is None for p in out.glob("*/*.wav"))

    async def play() -> bool:
        voice = AplayVoice(out, audio_device="null")
        await voice.start(lambda e: None)
        return await voice.say("prompt.idle", "ja")
    assert asyncio.run(play()) is True


def test_with_espeak_alone_a_japanese_prompt_with_kanji_and_no_reading_is_refused_and_nothing_is_written(
        tmp_path, capsys):
    strings, readings, out = tmp_path / "strings", tmp_path / "readings", tmp_path / "out"
    strings.mkdir()
    readings.mkdir()
    (strings / "ja.toml").write_text('"prompt.idle" = "カードを置いてください"\n"prompt.menu" = "えらんでください"\n',
                                     encoding="utf-8")
    espeak = ["--engine", "espeak"]
    assert render_voice.main(["--strings", str(strings), "--readings", str(readings), "--out", str(out)] + espeak) == 1
    assert "add kana readings for ['prompt.idle']" in capsys.readouterr().err
    assert not (out / "ja").exists()
    (readings / "ja.toml").write_text('"prompt.idle" = "カードを おいて ください"\n', encoding="utf-8")
    assert render_voice.main(["--strings", str(strings), "--readings", str(readings), "--out", str(out)] + espeak) == 0
    assert sorted(p.name for p in (out / "ja").iterdir()) == ["prompt.idle.wav", "prompt.menu.wav"]


def test_open_jtalk_reads_a_kanji_prompt_with_no_reading(tmp_path):
    strings, readings, out = tmp_path / "strings", tmp_path / "readings", tmp_path / "out"
    strings.mkdir()
    readings.mkdir()
    (strings / "ja.toml").write_text('"prompt.idle" = "カードを置いてください"\n', encoding="utf-8")
    assert render_voice.main(["--strings", str(strings), "--readings", str(readings), "--out", str(out)]) == 0
    assert wav_problem(out / "ja" / "prompt.idle.wav") is None


def test_the_speech_cache_holds_each_fixed_sentence_and_the_player_uses_it(tmp_path):
    from hal.voice.player import speech_key

    strings, readings = catalogue(tmp_path)
    out, cache = tmp_path / "voice", tmp_path / "cache"
    assert render_voice.main(["--strings", str(strings), "--readings", str(readings), "--out", str(out),
                              "--speech-cache", str(cache), "--lang", "en"]) == 0
    assert (cache / "en" / f"{speech_key('Place your card on the reader.')}.wav").is_file()
    assert len(list((cache / "en").iterdir())) == 2  # the two fixed texts; no placeholder text
