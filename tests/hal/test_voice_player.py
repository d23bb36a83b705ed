"""The aplay voice: a real WAV played to ALSA's null device; missing, broken and unplayable prompts fail softly."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time

import pytest

from hal.factory import DeviceConfigError, build_device
from hal.voice.player import AplayVoice, wav_problem
from tests.contracts.voice_harness import write_tone

pytestmark = pytest.mark.skipif(shutil.which("aplay") is None and os.environ.get("CI") != "true",
                                reason="aplay is not installed (apt: alsa-utils)")


@pytest.fixture
def sounds(tmp_path):
    write_tone(tmp_path / "ja" / "prompt.idle.wav", 8000, 0.2)
    return tmp_path


def say(voice: AplayVoice, message_id: str, language: str = "ja") -> bool:
    async def main():
        await voice.start(lambda e: None)
        return await voice.say(message_id, language)
    return asyncio.run(main())


def test_a_real_short_wav_plays_to_the_null_device_and_ends(sounds, caplog):
    voice = AplayVoice(sounds, audio_device="null")
    with caplog.at_level(logging.WARNING):
        assert say(voice, "prompt.idle") is True
        deadline = time.monotonic() + 2
        while voice.speaking() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert voice.speaking() is None  # aplay finished on its own
    assert caplog.records == []


def test_a_missing_file_is_false_and_logged_by_id_and_language_only(sounds, caplog):
    voice = AplayVoice(sounds, audio_device="null")
    with caplog.at_level(logging.WARNING):
        assert say(voice, "prompt.take_items", "en") is False
    (record,) = caplog.records
    assert "prompt.take_items (en)" in record.getMessage() and "no sound file" in record.getMessage()
    assert voice.speaking() is None


def test_a_broken_wav_is_false_and_nothing_is_started(sounds, caplog):
    (sounds / "ja" / "prompt.pay.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk-not-a-format-chunk")
    good = sounds / "ja" / "prompt.idle.wav"
    (sounds / "ja" / "prompt.cut.wav").write_bytes(good.read_bytes()[:200])  # header promises more frames
    voice = AplayVoice(sounds, audio_device="null")
    with caplog.at_level(logging.WARNING):
        assert say(voice, "prompt.pay") is False
        assert say(voice, "prompt.cut") is False
    messages = [r.getMessage() for r in caplog.records]
    assert "not a PCM WAV" in messages[0] and "truncated" in messages[1]
    assert voice.speaking() is None


def test_no_aplay_is_false_not_a_crash(sounds, caplog):
    voice = AplayVoice(sounds, player=str(sounds / "no-such-aplay"))
    with caplog.at_level(logging.WARNING):
        assert say(voice, "prompt.idle") is False
    assert any("cannot run" in r.getMessage() for r in caplog.records)


def test_an_audio_device_that_refuses_is_false(sounds, caplog):
    voice = AplayVoice(sounds, audio_device="no_such_alsa_device")
    with caplog.at_level(logging.WARNING):
        assert say(voice, "prompt.idle") is False
    assert any("did not play it" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("message_id, language", [("../../etc/passwd", "ja"), ("prompt.idle", "../ja"),
                                                  ("", "ja"), (None, "ja"), ("a/b", "ja")])
def test_an_id_that_is_not_a_plain_name_never_reaches_outside_the_directory(sounds, message_id, language):
    voice = AplayVoice(sounds, audio_device="null")
    assert voice.path_for(message_id, language) is None
    assert say(voice, message_id, language) is False


def test_wav_problem_accepts_only_complete_pcm_files(sounds):
    assert wav_problem(sounds / "ja" / "prompt.idle.wav") is None
    assert wav_problem(sounds / "nothing.wav") == "no sound file"


def test_the_factory_builds_the_player_and_needs_a_directory(sounds):
    voice = build_device("voice", {"driver": "player", "sounds_dir": str(sounds), "audio_device": "null"})
    assert isinstance(voice, AplayVoice) and voice.audio_device == "null"
    with pytest.raises(DeviceConfigError, match="sounds_dir is needed"):
        build_device("voice", {"driver": "player"})


def test_prompts_go_to_the_headphones_while_their_card_is_plugged_in_and_back_to_the_speaker(sounds, tmp_path):
    """A stand-in for aplay records the device each prompt was played on; a folder stands in for /proc/asound."""
    calls = tmp_path / "devices.txt"
    fake = tmp_path / "fake-aplay"
    fake.write_text(f"#!/bin/sh\necho \"$2\" >> {calls}\necho 'Playing WAVE' >&2\n")
    fake.chmod(0o755)
    cards = tmp_path / "asound"
    cards.mkdir()
    voice = AplayVoice(sounds, audio_device="speaker", player=str(fake), headphone_card="Headset",
                       headphone_device="plughw:CARD=Headset", cards_dir=cards)
    assert say(voice, "prompt.idle") is True
    (cards / "Headset").mkdir()  # the headset is plugged in
    assert say(voice, "prompt.idle") is True
    (cards / "Headset").rmdir()  # and taken out again
    assert say(voice, "prompt.idle") is True
    assert calls.read_text().split() == ["speaker", "plughw:CARD=Headset", "speaker"]


def test_headphone_settings_come_in_pairs_and_must_be_alsa_names(sounds):
    base = {"driver": "player", "sounds_dir": str(sounds)}
    with pytest.raises(DeviceConfigError, match="go together"):
        build_device("voice", {**base, "headphone_card": "Headset"})
    with pytest.raises(DeviceConfigError, match="ALSA name"):
        build_device("voice", {**base, "headphone_card": "Head set; rm", "headphone_device": "plughw:CARD=X"})
    voice = build_device("voice", {**base, "headphone_card": "Headset", "headphone_device": "plughw:CARD=Headset"})
    assert voice.headphone_device == "plughw:CARD=Headset"
