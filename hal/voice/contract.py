"""The voice contract: speak a fixed prompt by message id, or any text, in a language.

A prompt or a text that cannot be played (missing or broken file, no speech engine, no audio device) makes
:meth:`Voice.say` / :meth:`Voice.speak` return False; the kiosk then falls back to a buzzer pattern.  Neither
ever raises.  A text may hold a household member's name (the 住民票 "selected members" scope): a driver keeps it
in memory only while it is spoken and never logs it or writes it to a file.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from hal.events import EventSink

VOLUME_LEVELS = 5
"""Volume is a level 1…VOLUME_LEVELS; DEFAULT_VOLUME is where every visit starts."""
DEFAULT_VOLUME = 3


@runtime_checkable
class Voice(Protocol):
    name: str

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    async def say(self, message_id: str, language: str) -> bool:
        """Start playing the prompt (interrupting any other); False if it cannot be played."""

    async def speak(self, text: str, language: str) -> bool:
        """Start saying ``text`` (interrupting anything else); False if it cannot be said."""

    async def tick(self) -> bool:
        """A short neutral click: a key was taken (a PIN digit: never the digit itself)."""

    def set_volume(self, level: int) -> None:
        """Volume level 1…VOLUME_LEVELS for what is said from now on."""

    def set_slow(self, slow: bool) -> None:
        """Slower speech for what is said from now on."""

    def silence(self) -> None:
        """Stop what is playing now (the resident's 音声停止)."""

    def speaking(self) -> str | None:
        """The message id being played (``"speech"`` for a text), or None."""
