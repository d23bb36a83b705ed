"""Voice prompts from pre-rendered WAV files and texts synthesised at run time, played by ALSA's ``aplay``.

::

    [devices.voice]
    driver = "player"
    sounds_dir = "/opt/kiosk/voice"   # <sounds_dir>/<language>/<message_id>.wav, e.g. voice/ja/prompt.idle.wav
    audio_device = "default"          # an ALSA device name (aplay -D); "null" plays to nowhere
    player = "aplay"                  # the program; it must take ``-D <device> <file>``
    headphone_card = "Headset"        # optional: the ALSA card id of a headset (as in /proc/asound/cards) …
    headphone_device = "plughw:CARD=Headset"  # … and the device to play on while that card is plugged in
    speech_cache = "/opt/kiosk/voice/speech"  # optional: fixed texts pre-synthesised by scripts/render_voice.py

Texts (:meth:`AplayVoice.speak`) are synthesised by :mod:`hal.voice.engines` (Open JTalk for Japanese,
espeak-ng for the others) unless ``speech_cache`` holds them already (``<language>/<key>.wav``, the key from
:func:`speech_key`: the screens' fixed texts, rendered ahead), and are piped to aplay on its standard input, so a
text (which may hold a name) is never written to a file.  Volume (:meth:`~AplayVoice.set_volume`) scales texts and
clicks; pre-rendered prompts play as they were recorded.

Headphones: while the card named by ``headphone_card`` is present (a USB headset or a USB jack module plugged into
the cabinet's headphone socket; ALSA lists it as ``/proc/asound/<card id>``), every prompt plays there and not on
the speaker, so a resident listening privately is not read aloud to the room; unplugged, the speaker has it again.
The Pi's own 3.5 mm jack has no plug detection, so a cabinet that wants "when plugged" uses a USB one.

The player is generic over message ids: whatever id the kiosk asks for is looked up as a file name (ids are
letters, digits, ``.``, ``_`` and ``-``; anything else is refused, so an id can never reach outside the
directory).  One prompt plays at a time: a new one stops the one playing, and :meth:`AplayVoice.silence` stops it.

A prompt that cannot be played — no file, a file that is not a readable PCM WAV, no ``aplay``, an audio device
that refuses it — makes :meth:`AplayVoice.say` return False at once and is logged with its message id and language
(nothing else: prompts hold no personal data, but log lines stay short and uniform).  The kiosk then sounds the
buzzer instead (firmware ``visit_attention``).  :meth:`~AplayVoice.say` never raises.

``say`` returns only once aplay reports that it has opened the device and started the file ("Playing WAVE" on its
standard error), so False really means "not heard" and True "playing".
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import subprocess
import threading
import wave
from pathlib import Path

from hal.events import EventSink, discard
from hal.factory import Options, register_driver
from hal.voice import engines
from hal.voice.contract import DEFAULT_VOLUME, VOLUME_LEVELS

log = logging.getLogger(__name__)

MESSAGE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
ALSA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:=,.-]{0,79}")  # a card id or a device such as plughw:CARD=X,DEV=0
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")
START_TIMEOUT = 2.0  # seconds aplay may take to open the device
ASOUND = Path("/proc/asound")  # one entry per sound card present, named by the card's id
GAINS = {1: 0.25, 2: 0.4, 3: 0.6, 4: 0.8, 5: 1.0}
"""Volume level → gain on the synthesised samples."""
SPEECH = "speech"  # what speaking() says while a text is being said
TICK = "tick"


def speech_key(text: str, slow: bool = False) -> str:
    """The file name (without .wav) of a pre-synthesised text in a speech cache."""
    return hashlib.sha256(f"{'slow' if slow else 'normal'}\n{text}".encode()).hexdigest()[:32]


class AplayVoice:
    """The :class:`hal.voice.contract.Voice` contract with WAV files and ``aplay``."""

    def __init__(self, sounds_dir: str | Path, name: str = "voice", *, audio_device: str = "default",
                 player: str = "aplay", headphone_card: str | None = None, headphone_device: str | None = None,
                 cards_dir: Path = ASOUND, speech_cache: str | Path | None = None):
        self.name = name
        self.speech_cache = Path(speech_cache) if speech_cache else None
        self.volume, self.slow = DEFAULT_VOLUME, False
        self.sounds_dir = Path(sounds_dir)
        self.audio_device = audio_device
        self.player = player
        self.headphone_card, self.headphone_device, self.cards_dir = headphone_card, headphone_device, cards_dir
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._message: str | None = None
        self._stopped_by_us = False
        self._sink: EventSink = discard

    def __repr__(self) -> str:
        return f"AplayVoice({self.name!r}, {str(self.sounds_dir)!r}, device={self.audio_device!r})"

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        if shutil.which(self.player) is None:
            log.warning("%s: %s is not installed: every prompt falls back to the buzzer", self.name, self.player)
        if not self.sounds_dir.is_dir():
            log.warning("%s: no sound directory %s: every prompt falls back to the buzzer", self.name,
                        self.sounds_dir)

    async def stop(self) -> None:
        self.silence()
        self._sink = discard

    async def say(self, message_id: str, language: str) -> bool:
        try:
            return await asyncio.to_thread(self._say, message_id, language)
        except Exception:  # a voice prompt never ends a visit
            log.exception("%s: prompt %s (%s) failed", self.name, _safe(message_id), _safe(language))
            return False

    async def speak(self, text: str, language: str) -> bool:
        """Sentence by sentence: the first is synthesised (or found in the cache) and starts playing; the others
        are synthesised while it plays and streamed after it, so a whole screen's text starts as soon as a short
        one would."""
        try:
            gain, slow = GAINS[self.volume], self.slow
            sentences = split_sentences(text)
            first = (await asyncio.to_thread(self._sound_of, sentences[0], language, slow)).scaled(gain)

            def chunks():
                yield first.samples
                for sentence in sentences[1:]:
                    sound = self._sound_of(sentence, language, slow)
                    if sound.rate != first.rate:  # (a cached file of another rate) synthesise it afresh
                        sound = engines.synthesise(sentence, language, slow)
                    yield sound.scaled(gain).samples

            return await asyncio.to_thread(self._play, chunks(), SPEECH, language, first.rate)
        except Exception as e:  # a spoken text never ends a visit; the text itself is not logged
            log.warning("%s: a text (%s) not spoken: %s", self.name, _safe(language), e.__class__.__name__)
            return False

    async def tick(self) -> bool:
        try:
            return await asyncio.to_thread(self._play, engines.click().scaled(GAINS[self.volume]).wav(), TICK, "-")
        except Exception as e:
            log.warning("%s: click not played: %s", self.name, e.__class__.__name__)
            return False

    def set_volume(self, level: int) -> None:
        self.volume = max(1, min(VOLUME_LEVELS, int(level)))

    def set_slow(self, slow: bool) -> None:
        self.slow = bool(slow)

    def silence(self) -> None:
        with self._lock:
            self._end_current()

    def speaking(self) -> str | None:
        with self._lock:
            if self._process is not None and self._process.poll() is not None:
                self._reap()
            return self._message

    def output_device(self) -> str:
        """The headphones while their card is plugged in, else the speaker."""
        if self.headphone_card and self.headphone_device and (self.cards_dir / self.headphone_card).exists():
            return self.headphone_device
        return self.audio_device

    # -- inside -----------------------------------------------------------------------------------------------

    def path_for(self, message_id: str, language: str) -> Path | None:
        """Where the prompt's file would be, or None for an id or language that is not a plain name."""
        if not isinstance(message_id, str) or not isinstance(language, str):
            return None
        if not MESSAGE_ID.fullmatch(message_id) or not LANGUAGE.fullmatch(language) or ".." in message_id:
            return None
        return self.sounds_dir / language / f"{message_id}.wav"

    def _say(self, message_id: str, language: str) -> bool:
        with self._lock:
            self._end_current()
            path = self.path_for(message_id, language)
            if path is None:
                return self._fail(message_id, language, "not a valid message id or language")
            problem = wav_problem(path)
            if problem:
                return self._fail(message_id, language, problem)
            try:
                process = subprocess.Popen([self.player, "-D", self.output_device(), str(path)],
                                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE, start_new_session=True,
                                           env={**os.environ, "LC_ALL": "C"})  # aplay's messages untranslated
            except OSError as e:
                return self._fail(message_id, language, f"{self.player} cannot run ({e.strerror})")
            started, detail = _wait_started(process)
            if not started:
                _end(process)
                return self._fail(message_id, language, f"{self.player} did not play it ({detail})")
            self._process, self._message, self._stopped_by_us = process, message_id, False
            return True

    def _sound_of(self, text: str, language: str, slow: bool) -> engines.Sound:
        if self.speech_cache is not None and LANGUAGE.fullmatch(language):
            cached = self.speech_cache / language / f"{speech_key(text, slow)}.wav"
            if wav_problem(cached) is None:
                with wave.open(str(cached), "rb") as w:
                    if w.getsampwidth() == 2 and w.getnchannels() == 1:
                        return engines.Sound(w.readframes(w.getnframes()), w.getframerate())
        return engines.synthesise(text, language, slow)

    def _play(self, wav, label: str, language: str, rate: int | None = None) -> bool:
        """Play WAV bytes, or chunks of 16-bit mono samples at ``rate`` (streamed as they come), given on aplay's
        standard input (nothing is written to a file)."""
        with self._lock:
            self._end_current()
            try:
                process = subprocess.Popen([self.player, "-D", self.output_device(), "-"],
                                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE, start_new_session=True,
                                           env={**os.environ, "LC_ALL": "C"})
            except OSError as e:
                return self._fail(label, language, f"{self.player} cannot run ({e.strerror})")
            data = [wav] if rate is None else _stream(rate, wav)
            started_event = threading.Event()  # the rest is synthesised only once aplay plays the first sentence:
            threading.Thread(target=_feed, args=(process, data, started_event), daemon=True,  # (Open JTalk holds
                             name="aplay-stdin").start()                                     # the GIL meanwhile)
            started, detail = _wait_started(process)
            started_event.set()
            if not started:
                _end(process)
                return self._fail(label, language, f"{self.player} did not play it ({detail})")
            self._process, self._message, self._stopped_by_us = process, label, False
            return True

    def _fail(self, message_id: str, language: str, why: str) -> bool:
        log.warning("%s: prompt %s (%s) not played: %s", self.name, _safe(message_id), _safe(language), why)
        return False

    def _end_current(self) -> None:
        if self._process is not None:
            self._stopped_by_us = self._process.poll() is None
            _end(self._process)
            self._reap()

    def _reap(self) -> None:
        process, message = self._process, self._message
        self._process = self._message = None
        if process is not None and process.returncode not in (0, None) and not self._stopped_by_us:
            log.warning("%s: prompt %s ended with %s exit status %s", self.name, message, self.player,
                        process.returncode)


def wav_problem(path: Path) -> str | None:
    """Why ``path`` is not a playable PCM WAV (missing, unreadable, empty, truncated), or None if it is one."""
    if not path.is_file():
        return "no sound file"
    try:
        with wave.open(str(path), "rb") as w:
            frames, width, channels, rate = w.getnframes(), w.getsampwidth(), w.getnchannels(), w.getframerate()
            if frames <= 0 or rate <= 0:
                return "the sound file holds no sound"
            data = w.readframes(frames)
    except Exception as e:  # wave raises wave.Error, EOFError, RuntimeError… on a damaged file
        return f"the sound file is not a PCM WAV ({e.__class__.__name__})"
    if len(data) < frames * width * channels:
        return "the sound file is truncated"
    return None


def _wait_started(process: subprocess.Popen) -> tuple[bool, str]:
    """Wait for aplay's "Playing WAVE" line (it has opened the device), then keep draining its stderr."""
    result: list[bytes] = []
    got = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if not got.is_set():
                result.append(line)
                if line.startswith(b"Playing"):
                    got.set()
        got.set()

    threading.Thread(target=read, daemon=True, name="aplay-stderr").start()
    got.wait(START_TIMEOUT)
    if result and result[-1].startswith(b"Playing"):
        return True, ""
    if process.poll() is None and not result:
        return False, f"no start within {START_TIMEOUT:g} s"
    last = result[-1].decode(errors="replace").strip() if result else f"exit status {process.poll()}"
    return False, last[:120]


def split_sentences(text: str) -> list[str]:
    """A text cut after each sentence's full stop (。！？ . ! ?), never into nothing."""
    parts = [p.strip() for p in SENTENCE_END.split(text)]
    return [p for p in parts if p] or [text]


SENTENCE_END = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+")


def _stream(rate: int, chunks):
    """A WAV header that says "as long as it lasts" (as espeak-ng --stdout writes), then the chunks."""
    size = 0x7FFFFFF0
    yield (b"RIFF" + (size + 36).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
           + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + rate.to_bytes(4, "little")
           + (rate * 2).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
           + b"data" + size.to_bytes(4, "little"))
    yield from chunks


def _feed(process: subprocess.Popen, chunks, started: threading.Event | None = None) -> None:
    try:
        assert process.stdin is not None
        for n, chunk in enumerate(chunks):
            process.stdin.write(chunk)
            process.stdin.flush()
            if n == 1 and started is not None:  # the header and the first sentence are in: let aplay start
                started.wait(START_TIMEOUT)
        process.stdin.close()
    except Exception:  # stopped before it had all of it (BrokenPipeError), or a sentence failed to synthesise
        try:
            process.stdin.close()
        except Exception:
            pass


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _safe(text: object) -> str:
    return repr(text)[:60] if not isinstance(text, str) or not MESSAGE_ID.fullmatch(text) else text


@register_driver("voice", "player")
def build_player(o: Options) -> AplayVoice:
    sounds_dir = o.path("sounds_dir")
    if sounds_dir is None:
        raise o.fail("sounds_dir is needed: the directory holding <language>/<message_id>.wav")
    device = o.raw("audio_device", "default")
    player = o.raw("player", "aplay")
    for key, value in (("audio_device", device), ("player", player)):
        if not isinstance(value, str) or not value:
            raise o.fail(f"{key} must be a non-empty string, got {value!r}")
    card, headphones = o.raw("headphone_card", None), o.raw("headphone_device", None)
    if (card is None) != (headphones is None):
        raise o.fail("headphone_card and headphone_device go together: the card's id (see /proc/asound/cards) "
                     "and the ALSA device to play on while it is plugged in")
    for key, value in (("headphone_card", card), ("headphone_device", headphones)):
        if value is not None and (not isinstance(value, str) or not ALSA_NAME.fullmatch(value)):
            raise o.fail(f"{key} must be an ALSA name such as 'Headset' or 'plughw:CARD=Headset', got {value!r}")
    return AplayVoice(sounds_dir, audio_device=device, player=player, headphone_card=card,
                      headphone_device=headphones, speech_cache=o.path("speech_cache"))
