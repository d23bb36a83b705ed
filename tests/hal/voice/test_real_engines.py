"""The real engines speak: every fixed prompt of every language, and dynamic phrases (amounts, tries left, a
reference, a certificate's name), synthesised by Open JTalk (Japanese) and espeak-ng (the rest), are speech:
not silent, and as long as speech of that text can be — a Japanese text read by espeak-ng would say "Chinese
letter" for each kanji and run several times too long; Open JTalk reads it as Japanese."""
from __future__ import annotations

import array
import math
import shutil
import tomllib
from pathlib import Path

import pytest

from hal.voice import engines

ROOT = Path(__file__).resolve().parents[3]
STRINGS = ROOT / "screens" / "strings"
LANGUAGES = ("ja", "en", "zh", "ko", "pt", "vi", "ja-easy")

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None
                                or not (engines.DICTIONARY / "sys.dic").is_file(),
                                reason="espeak-ng and open-jtalk-mecab-naist-jdic: scripts/bootstrap.sh")


def fixed_prompts(language: str) -> dict[str, str]:
    table = tomllib.loads((STRINGS / f"{language}.toml").read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if k.startswith("prompt.") and "{" not in v}


DYNAMIC = {
    "ja": ["住民票の写し、300円", "入れた金額 100円。あと 200円", "あと2回まで入力できます", "照合番号 A 7 K 2 9 Q",
           "印鑑登録証明書、300円"],
    "en": ["Residence record copy, 300 yen", "Inserted 100 yen. Still due 200 yen", "2 tries left",
           "Your reference number is A 7 K 2 9 Q"],
    "zh": ["住民票副本，300日元", "还需支付200日元"],
    "ko": ["주민표 사본, 300엔", "남은 금액 200엔"],
    "pt": ["Cópia do registro de residente, 300 ienes", "Faltam 200 ienes"],
    "vi": ["Bản sao phiếu cư trú, 300 yên", "Còn thiếu 200 yên"],
    "ja-easy": ["じゅうみんひょうの うつし、300えん", "あと 200えん"],
}


def speech_check(text: str, language: str) -> tuple[float, float]:
    """(seconds, share of voiced 20 ms frames between the first and the last voiced one); fails the test if it is
    not speech of plausible length.  A Latin letter or a digit counts twice (エー, なな: more than one mora)."""
    sound = engines.synthesise(text, language)
    samples = array.array("h", sound.samples)
    frame = sound.rate // 50
    levels = [math.sqrt(sum(v * v for v in samples[i:i + frame]) / frame)
              for i in range(0, len(samples) - frame + 1, frame)]
    voiced = [i for i, rms in enumerate(levels) if rms > 300]
    assert voiced, f"{language} {text!r}: silence"
    span = voiced[-1] - voiced[0] + 1
    share = len(voiced) / span
    seconds, speech_seconds = sound.seconds, len(voiced) / 50
    characters = sum(2 if c.isascii() and c.isalnum() else 1 for c in text if not c.isspace())
    assert share > 0.4 and speech_seconds >= 0.06, \
        f"{language} {text!r}: mostly silence ({share:.0%} voiced, {speech_seconds:.2f} s of voice)"
    assert seconds > 0.15 + 0.02 * characters, f"{language} {text!r}: {seconds:.2f} s is too short for it"
    assert seconds < 1.5 + 0.35 * characters, f"{language} {text!r}: {seconds:.2f} s is too long (fallback noise?)"
    return seconds, share


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_fixed_prompt_is_speech_of_plausible_length(language):
    prompts = fixed_prompts(language)
    assert len(prompts) > 20
    for message_id, text in prompts.items():
        speech_check(text, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_dynamic_phrases_are_speech(language):
    for text in DYNAMIC[language]:
        speech_check(text, language)


def test_japanese_goes_to_open_jtalk_which_reads_kanji_where_espeak_says_letters():
    assert engines.engine_for("ja") == engines.engine_for("ja-easy") == "open_jtalk"
    text = "印鑑登録証明書"
    jtalk = engines.synthesise(text, "ja").seconds
    espeak = engines._espeak(text, "ja", False).seconds  # espeak-ng's Japanese: "Chinese letter" × 7
    assert jtalk < 2.5 and espeak > 2 * jtalk, (jtalk, espeak)


def test_slower_speech_is_longer():
    for language, text in (("ja", "あと200円"), ("en", "Still due 200 yen")):
        normal = engines.synthesise(text, language).seconds
        slow = engines.synthesise(text, language, slow=True).seconds
        assert slow > normal * 1.2, (language, normal, slow)
