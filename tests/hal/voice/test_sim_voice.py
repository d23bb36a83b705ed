"""The simulated voice lets a test listen: what was said, in which language, when, how loud and how fast."""
from __future__ import annotations

import asyncio

from hal.voice.contract import Voice
from hal.voice.sim import SimVoice


def run(coro):
    return asyncio.run(coro)


def test_texts_prompts_and_clicks_are_heard_in_order_with_language_and_time():
    voice = SimVoice()
    assert isinstance(voice, Voice)
    run(voice.start(lambda e: None))
    assert run(voice.speak("あと200円", "ja")) is True
    assert voice.speaking() == "speech"
    assert run(voice.tick()) is True
    assert run(voice.say("prompt.idle", "en")) is True
    kinds = [(u.kind, u.text, u.language) for u in voice.heard]
    assert kinds == [("speech", "あと200円", "ja"), ("tick", "", "-"), ("prompt", "prompt.idle", "en")]
    assert voice.heard[0].at <= voice.heard[1].at <= voice.heard[2].at
    assert voice.spoken() == ["あと200円"]


def test_volume_and_slow_speech_are_recorded_with_each_text_and_volume_stays_in_range():
    voice = SimVoice()
    voice.set_volume(9)
    voice.set_slow(True)
    run(voice.speak("Still due: 200 yen", "en"))
    voice.set_volume(0)
    run(voice.speak("Take your card", "en"))
    assert [(u.volume, u.slow) for u in voice.heard] == [(5, True), (1, True)]


def test_without_audio_nothing_is_heard_and_speak_says_so():
    voice = SimVoice()
    voice.lose_audio()
    assert run(voice.speak("Take your card", "en")) is False
    assert run(voice.tick()) is False
    assert voice.heard == []
    voice.restore_audio()
    assert run(voice.speak("Take your card", "en")) is True


def test_a_listener_is_told_of_each_utterance_as_it_starts():
    voice = SimVoice()
    got = []
    voice.listeners.append(got.append)
    run(voice.speak("¥300", "en"))
    assert [u.text for u in got] == ["¥300"]
