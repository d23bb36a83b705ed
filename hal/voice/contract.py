"""The voice contract: speak a prompt by message id and language.

A prompt that cannot be played (missing or broken file, no audio device) makes :meth:`Voice.say` return False;
the kiosk then falls back to a buzzer pattern.  Saying a prompt never raises.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from hal.events import EventSink


@runtime_checkable
class Voice(Protocol):
    name: str

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    async def say(self, message_id: str, language: str) -> bool:
        """Start playing the prompt (interrupting any other); False if it cannot be played."""

    def silence(self) -> None:
        """Stop what is playing now (the resident's 音声停止)."""

    def speaking(self) -> str | None:
        """The message id being played, or None."""
