"""The voice files rendered from the string catalogue with espeak-ng play through the voice driver."""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

from hal.voice.player import AplayVoice, wav_problem

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import render_voice  # noqa: E402

if os.environ.get("CI") != "true":
    pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("aplay") is None,
                                    reason="espeak-ng and aplay are installed by scripts/bootstrap.sh")


def test_every_japanese_and_english_prompt_renders_and_plays(tmp_path):
    assert render_voice.main(["--out", str(tmp_path), "--lang", "ja", "--lang", "en"]) == 0
    for language in ("ja", "en"):
        catalogue = tomllib.loads((ROOT / "screens" / "strings" / f"{language}.toml").read_text(encoding="utf-8"))
        ids = {k for k, v in catalogue.items() if k.startswith("prompt.") and "{" not in v}
        files = {p.stem for p in (tmp_path / language).glob("*.wav")}
        assert ids and files == ids
        assert all(wav_problem(tmp_path / language / f"{i}.wav") is None for i in ids)

    async def play() -> bool:
        voice = AplayVoice(tmp_path, audio_device="null")
        await voice.start(lambda e: None)
        return await voice.say("prompt.idle", "ja")
    assert asyncio.run(play()) is True


def test_a_japanese_prompt_with_kanji_and_no_reading_is_refused_and_nothing_is_written(tmp_path, capsys):
    strings, readings, out = tmp_path / "strings", tmp_path / "readings", tmp_path / "out"
    strings.mkdir()
    readings.mkdir()
    (strings / "ja.toml").write_text('"prompt.idle" = "カードを置いてください"\n"prompt.menu" = "えらんでください"\n',
                                     encoding="utf-8")
    assert render_voice.main(["--strings", str(strings), "--readings", str(readings), "--out", str(out)]) == 1
    assert "add kana readings for ['prompt.idle']" in capsys.readouterr().err
    assert not (out / "ja").exists()
    (readings / "ja.toml").write_text('"prompt.idle" = "カードを おいて ください"\n', encoding="utf-8")
    assert render_voice.main(["--strings", str(strings), "--readings", str(readings), "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "ja").iterdir()) == ["prompt.idle.wav", "prompt.menu.wav"]
