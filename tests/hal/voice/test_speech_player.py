"""The aplay voice speaks texts: synthesised, piped to aplay's standard input (never a file), at the set volume."""
from __future__ import annotations

import asyncio
import io
import logging
import shutil
import time
import wave

import pytest

from hal.voice import engines
from hal.voice.player import AplayVoice, speech_key

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng: scripts/bootstrap.sh")


@pytest.fixture
def fake_aplay(tmp_path):
    """A stand-in for aplay that keeps what it was given on its standard input, one file per call, and marks the
    call done once its standard input has closed (the player has sent every sentence)."""
    heard, done = tmp_path / "heard", tmp_path / "done"
    heard.mkdir()
    done.mkdir()
    fake = tmp_path / "fake-aplay"
    fake.write_text(f"#!/bin/sh\nn=$(ls {heard} | wc -l)\necho 'Playing WAVE stdin' >&2\n"
                    f"cat > {heard}/$n.wav\ntouch {done}/$n\n")
    fake.chmod(0o755)
    return fake, heard


def played(heard, count: int) -> list[wave.Wave_read]:
    """What the first ``count`` calls were given, once each has had all of it. The player streams a long text's
    later sentences after ``speak`` returns (they are synthesised while the first plays), so the test waits for
    the stream's end, not for a time."""
    done = heard.parent / "done"
    deadline = time.monotonic() + 10
    while len(list(done.iterdir())) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return [wave.open(io.BytesIO(engines.fix_stream_header(p.read_bytes()))) for p in sorted(heard.iterdir())]


def peak(w: wave.Wave_read) -> int:
    import array
    return max(abs(v) for v in array.array("h", w.readframes(w.getnframes())))


def test_a_text_is_synthesised_and_piped_to_aplay_louder_after_volume_up(fake_aplay, tmp_path):
    fake, heard = fake_aplay
    voice = AplayVoice(tmp_path / "no-prompts", player=str(fake))

    async def main():
        await voice.start(lambda e: None)
        assert await voice.speak("Still due: 200 yen", "en") is True
        await asyncio.sleep(0.5)
        voice.set_volume(5)
        assert await voice.speak("Still due: 200 yen", "en") is True
        await asyncio.sleep(0.5)
        assert await voice.tick() is True
    asyncio.run(main())
    first, second, click = played(heard, 3)
    assert first.getframerate() == 22050 and first.getnframes() / 22050 > 0.8
    assert peak(second) > peak(first) * 1.4  # level 3 → 5
    assert click.getnframes() / click.getframerate() < 0.1


def test_a_cached_text_is_played_from_the_speech_cache(fake_aplay, tmp_path):
    fake, heard = fake_aplay
    cache = tmp_path / "cache"
    (cache / "en").mkdir(parents=True)
    tone = engines.Sound(b"\x10\x00" * 8000, 8000)  # not what espeak-ng would say: 1 s at 8 kHz
    (cache / "en" / f"{speech_key('Take your card')}.wav").write_bytes(tone.wav())
    voice = AplayVoice(tmp_path, player=str(fake), speech_cache=cache)
    assert asyncio.run(voice.speak("Take your card", "en")) is True
    (w,) = played(heard, 1)
    assert w.getframerate() == 8000 and w.getnframes() == 8000


def test_a_text_that_cannot_be_spoken_is_false_and_the_text_is_not_logged(tmp_path, caplog):
    voice = AplayVoice(tmp_path, player=str(tmp_path / "no-aplay"))
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(voice.speak("山田 花子", "ja")) is False
        assert asyncio.run(voice.speak("Yamada Hanako", "xx")) is False
    assert len(caplog.records) == 2
    assert all("山田" not in r.getMessage() and "Yamada" not in r.getMessage() for r in caplog.records)


def test_a_long_text_starts_with_its_first_sentence_and_the_rest_follows_in_the_same_stream(fake_aplay, tmp_path):
    fake, heard = fake_aplay
    voice = AplayVoice(tmp_path, player=str(fake))
    text = "Choose a certificate. 1. Certificate of residence, 300 yen. 2. Seal registration certificate, 300 yen."
    assert asyncio.run(voice.speak(text, "en")) is True
    (w,) = played(heard, 1)
    whole = engines.synthesise(text, "en").seconds
    assert w.getnframes() / w.getframerate() > 0.8 * whole  # every sentence was said, one after the other


def test_spoken_texts_and_clicks_go_to_the_headphones_while_they_are_plugged_in(tmp_path):
    calls = tmp_path / "devices.txt"
    fake = tmp_path / "fake-aplay"
    fake.write_text(f"#!/bin/sh\necho \"$2\" >> {calls}\necho 'Playing WAVE stdin' >&2\ncat > /dev/null\n")
    fake.chmod(0o755)
    cards = tmp_path / "asound"
    cards.mkdir()
    voice = AplayVoice(tmp_path, audio_device="speaker", player=str(fake), headphone_card="Headset",
                       headphone_device="plughw:CARD=Headset", cards_dir=cards)

    async def main():
        assert await voice.speak("Take your card", "en")
        (cards / "Headset").mkdir()  # plugged in
        assert await voice.speak("Take your card", "en")
        assert await voice.tick()
    asyncio.run(main())
    time.sleep(0.2)
    assert calls.read_text().split() == ["speaker", "plughw:CARD=Headset", "plughw:CARD=Headset"]
