"""A simulated voice: it plays nothing, and remembers what it was asked to say.

::

    voice = SimVoice(missing={"pay_notes"})
    await voice.start(sink)
    await voice.say("welcome", "ja")      # True; voice.said == [("welcome", "ja")], voice.speaking() == "welcome"
    await voice.say("pay_notes", "en")    # False: the prompt is missing; the kiosk falls back to the buzzer
    voice.silence()                       # speaking() is None

Texts are heard too: ``await voice.speak("Still due: 200 yen", "en")`` adds an :class:`Utterance` (text, language,
time, volume, slow) to :attr:`SimVoice.heard`, as do prompts (kind ``"prompt"``, the text is the message id) and
clicks (kind ``"tick"``): a test listens to the kiosk through ``heard`` (:meth:`SimVoice.spoken` gives the texts).
A text is kept in memory only, like everything a visit holds.

A missing prompt is named by its message id (missing in every language) or by a ``(message_id, language)``
pair.  :meth:`SimVoice.lose_audio` makes every prompt fail, like an unplugged speaker or a dead sound card.
Playback ends when another prompt starts, on :meth:`~SimVoice.silence`, or on :meth:`~SimVoice.finish`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from hal.events import EventSink, discard
from hal.voice.contract import DEFAULT_VOLUME, VOLUME_LEVELS


@dataclass(frozen=True)
class Utterance:
    kind: str  # "speech", "prompt" (text is the message id) or "tick"
    text: str
    language: str
    at: float  # time.monotonic() when it started
    volume: int
    slow: bool


class SimVoice:
    def __init__(self, name: str = "voice", missing: Iterable[str | tuple[str, str]] = ()):
        self.name = name
        self.missing: set[str | tuple[str, str]] = {m if isinstance(m, str) else tuple(m) for m in missing}
        self.said: list[tuple[str, str]] = []  # prompts played, in order
        self.failed: list[tuple[str, str]] = []  # prompts that could not be played
        self.heard: list[Utterance] = []  # everything that started playing, in order
        self.listeners: list[Callable[[Utterance], None]] = []  # told of each utterance as it starts
        self.audio_available = True
        self.volume, self.slow = DEFAULT_VOLUME, False
        self._speaking: str | None = None
        self._sink: EventSink = discard

    def __repr__(self) -> str:
        return f"SimVoice({self.name!r}, speaking={self._speaking!r})"

    async def start(self, sink: EventSink) -> None:
        self._sink = sink

    async def stop(self) -> None:
        self._speaking = None
        self._sink = discard

    async def say(self, message_id: str, language: str) -> bool:
        if not self.audio_available or message_id in self.missing or (message_id, language) in self.missing:
            self.failed.append((message_id, language))
            return False
        self._speaking = message_id
        self.said.append((message_id, language))
        self._hear("prompt", message_id, language)
        return True

    async def speak(self, text: str, language: str) -> bool:
        if not self.audio_available or not text:
            self.failed.append(("speech", language))
            return False
        self._speaking = "speech"
        self._hear("speech", text, language)
        return True

    async def tick(self) -> bool:
        if not self.audio_available:
            return False
        self._hear("tick", "", "-")
        return True

    def set_volume(self, level: int) -> None:
        self.volume = max(1, min(VOLUME_LEVELS, int(level)))

    def set_slow(self, slow: bool) -> None:
        self.slow = bool(slow)

    def spoken(self) -> list[str]:
        """The texts said so far (prompts and clicks left out)."""
        return [u.text for u in self.heard if u.kind == "speech"]

    def _hear(self, kind: str, text: str, language: str) -> None:
        utterance = Utterance(kind, text, language, time.monotonic(), self.volume, self.slow)
        self.heard.append(utterance)
        for listener in list(self.listeners):
            listener(utterance)

    def silence(self) -> None:
        self._speaking = None

    def speaking(self) -> str | None:
        return self._speaking

    # -- the world ---------------------------------------------------------------------------------------------

    def finish(self) -> None:
        """The prompt played to its end."""
        self._speaking = None

    def make_missing(self, message_id: str, language: str | None = None) -> None:
        """The prompt's sound file is gone (in ``language``, or in every language)."""
        self.missing.add(message_id if language is None else (message_id, language))

    def lose_audio(self) -> None:
        """No audio device: every prompt fails until :meth:`restore_audio`."""
        self.audio_available = False
        self._speaking = None

    def restore_audio(self) -> None:
        self.audio_available = True
