"""The aplay voice driver, heard through an ALSA "file" device that writes into a FIFO.

The harness's speaker is a thread that reads that FIFO at the real-time rate of the sound (so aplay plays as
long as the prompt lasts, as on a sound card) and recognises each prompt by the WAV header the ALSA file plugin
writes first: every prompt file the harness renders has its own sample rate.  What "was heard" therefore comes
from the audio device's side, not from the driver.
"""
from __future__ import annotations

import fcntl
import math
import os
import select
import shutil
import struct
import tempfile
import threading
import time
import wave
from pathlib import Path

from hal.voice.player import AplayVoice

from .harness import RecordingSink

PROMPTS = {("welcome", "ja"): 8000, ("welcome", "en"): 11025, ("place_card", "ja"): 12000,
           ("place_card", "en"): 16000, ("take_change", "ja"): 22050, ("take_change", "en"): 24000}
SECONDS = 10.0
SPEED = 8  # the speaker plays 8× faster than real time: long enough to interrupt, short enough for a test
F_SETPIPE_SZ = 1031


def write_tone(path: Path, rate: int, seconds: float, hertz: float = 400.0, amplitude: int = 60) -> None:
    """A quiet tone.  Its samples stay within ±63, so no run of sample bytes can look like a "RIFF" header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    period = max(2, round(rate / hertz))
    cycle = b"".join(struct.pack("<h", round(amplitude * math.sin(2 * math.pi * i / period))) for i in range(period))
    frames = cycle * int(rate * seconds / period)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


class FifoSpeaker:
    """Reads what aplay plays into ``fifo`` at :data:`SPEED` × real time; ``heard`` holds the sample rate of every
    sound that started, found by the WAV header the ALSA file plugin writes before each sound's samples (two
    sounds can follow each other in the pipe without an end of file between them)."""

    def __init__(self, fifo: Path):
        self.fifo = fifo
        os.mkfifo(fifo)
        self.heard: list[int] = []
        self._rate = 8000
        # The speaker holds both ends, so the pipe lives as long as the harness and its buffer can be made small
        # (like a sound card's) before aplay ever writes to it.
        self._read = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self._keep = os.open(fifo, os.O_WRONLY)
        try:
            fcntl.fcntl(self._read, F_SETPIPE_SZ, 4096)
        except OSError:
            pass
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fifo-speaker")
        self._thread.start()

    def _run(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._read], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._read, max(64, int(self._rate * 2 * SPEED * 0.01)))
            except BlockingIOError:
                continue
            pending = self._scan(pending + data)
            time.sleep(0.01)

    def _scan(self, stream: bytes) -> bytes:
        at = stream.find(b"RIFF")
        while at >= 0 and len(stream) - at >= 28:
            if stream[at + 8:at + 12] == b"WAVE":
                self._rate = struct.unpack("<I", stream[at + 24:at + 28])[0]
                self.heard.append(self._rate)
            at = stream.find(b"RIFF", at + 4)
        return stream[-27:] if at < 0 else stream[at:]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self._keep)
        os.close(self._read)


class AplayVoiceHarness:
    @classmethod
    def unavailable(cls) -> str | None:
        if shutil.which("aplay") is None and os.environ.get("CI") != "true":
            return "aplay is not installed (apt: alsa-utils)"
        return None

    def __init__(self):
        self.sink = RecordingSink()
        self.dir = Path(tempfile.mkdtemp(prefix="voice-"))
        for (message_id, language), rate in PROMPTS.items():
            write_tone(self.dir / "sounds" / language / f"{message_id}.wav", rate, SECONDS)
        self.speaker = FifoSpeaker(self.dir / "speaker")
        self.voice = AplayVoice(self.dir / "sounds", audio_device=f"file:FILE={self.dir / 'speaker'},FORMAT=wav")

    async def start(self) -> None:
        await self.voice.start(self.sink)

    async def stop(self) -> None:
        try:
            await self.voice.stop()
        finally:
            self.speaker.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    async def settle(self) -> None:
        time.sleep(0.05)

    def make_missing(self, message_id: str, language: str) -> None:
        (self.dir / "sounds" / language / f"{message_id}.wav").unlink()

    def played(self) -> list[tuple[str, str]]:
        time.sleep(0.15)  # the speaker drains what the last prompt left in the pipe, then reads the next header
        by_rate = {rate: prompt for prompt, rate in PROMPTS.items()}
        return [by_rate.get(rate, ("?", str(rate))) for rate in self.speaker.heard]
