"""Conformance: a voice plays prompts, says False for one it cannot play, and never raises."""
from __future__ import annotations

from hal.voice.contract import Voice

from .harness import VoiceHarness, exercise


def test_the_voice_fulfils_the_protocol_and_starts_quiet(voice_harness):
    async def body(h: VoiceHarness):
        assert isinstance(h.voice, Voice)
        assert h.voice.speaking() is None
    exercise(voice_harness, body)


def test_a_prompt_is_played(voice_harness):
    async def body(h: VoiceHarness):
        assert await h.voice.say("welcome", "ja") is True
        assert h.voice.speaking() == "welcome"
        assert h.played() == [("welcome", "ja")]
    exercise(voice_harness, body)


def test_a_new_prompt_interrupts_the_one_playing(voice_harness):
    async def body(h: VoiceHarness):
        await h.voice.say("welcome", "ja")
        await h.voice.say("place_card", "en")
        assert h.voice.speaking() == "place_card"
        assert h.played() == [("welcome", "ja"), ("place_card", "en")]
    exercise(voice_harness, body)


def test_a_missing_prompt_returns_false_and_plays_nothing(voice_harness):
    async def body(h: VoiceHarness):
        h.make_missing("take_change", "en")
        assert await h.voice.say("take_change", "en") is False
        assert h.played() == [] and h.voice.speaking() is None
        assert await h.voice.say("take_change", "ja") is True  # only that language is missing
    exercise(voice_harness, body)


def test_silence_stops_the_prompt(voice_harness):
    async def body(h: VoiceHarness):
        await h.voice.say("welcome", "ja")
        h.voice.silence()
        assert h.voice.speaking() is None
        h.voice.silence()  # silence when quiet is harmless
        assert h.voice.speaking() is None
    exercise(voice_harness, body)
