"""Speech synthesis: Open JTalk (``pyopenjtalk``) reads Japanese, espeak-ng the other languages.

::

    sound = synthesise("住民票の写し、300円", "ja")     # Sound(samples=<int16 mono bytes>, rate=48000)
    sound = synthesise("Still due: 200 yen", "en", slow=True)

Nothing is downloaded at run time.  pyopenjtalk would fetch a dictionary from the internet when it finds none, so
it is pointed at Debian's ``open-jtalk-mecab-naist-jdic`` (:data:`DICTIONARY`, or ``$OPEN_JTALK_DICT_DIR``) before
it is imported, and refused when that folder is missing.  Its HTS voice (Mei's predecessor, nitech_jp_atr503_m001)
ships inside the Python package.

Texts are never logged or written to a file: espeak-ng gets its text on standard input and gives its audio on
standard output.
"""
from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np  # (installed with pyopenjtalk and Kivy)

DICTIONARY = Path("/var/lib/mecab/dic/open-jtalk/naist-jdic")
ESPEAK_VOICES = {"en": "en-us", "ko": "ko", "pt": "pt-br", "vi": "vi", "zh": "cmn"}
"""Catalogue language → espeak-ng voice (ja and ja-easy are read by Open JTalk)."""
JAPANESE = frozenset({"ja", "ja-easy"})
ESPEAK_WPM = 165
SLOW = 0.7
"""Slower speech: this fraction of the normal speed."""


class EngineMissing(Exception):
    """The engine for a language is not installed (the message says which package)."""


@dataclass(frozen=True)
class Sound:
    samples: bytes  # signed 16-bit little-endian mono
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / 2 / self.rate

    def scaled(self, gain: float) -> "Sound":
        if gain == 1.0:
            return self
        return Sound(_int16((np.frombuffer(self.samples, dtype="<i2").astype(np.float32) * gain)), self.rate)

    def wav(self) -> bytes:
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.rate)
            w.writeframes(self.samples)
        return out.getvalue()


def engine_for(language: str) -> str:
    return "open_jtalk" if language in JAPANESE else "espeak-ng"


def synthesise(text: str, language: str, slow: bool = False) -> Sound:
    """``text`` as speech in ``language``.  Raises :class:`EngineMissing` or ``RuntimeError``."""
    if language in JAPANESE:
        return _open_jtalk(text, slow)
    voice = ESPEAK_VOICES.get(language)
    if voice is None:
        raise EngineMissing(f"no speech engine for language {language!r}")
    return _espeak(text, voice, slow)


_jtalk = None


def _open_jtalk_module():
    global _jtalk
    if _jtalk is None:
        folder = Path(os.environ.get("OPEN_JTALK_DICT_DIR", str(DICTIONARY)))
        if not (folder / "sys.dic").is_file():
            raise EngineMissing(f"no Open JTalk dictionary in {folder} (apt: open-jtalk-mecab-naist-jdic)")
        os.environ["OPEN_JTALK_DICT_DIR"] = str(folder)  # read by pyopenjtalk at import: no download
        try:
            import pyopenjtalk
        except ImportError:
            raise EngineMissing("pyopenjtalk is not installed (pip: the kiosk's 'voice' extra)") from None
        _jtalk = pyopenjtalk
    return _jtalk


def _open_jtalk(text: str, slow: bool) -> Sound:
    jtalk = _open_jtalk_module()
    samples, rate = jtalk.tts(text, speed=SLOW if slow else 1.0)
    return Sound(_int16(samples), int(rate))


def _int16(samples) -> bytes:
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def _espeak(text: str, voice: str, slow: bool) -> Sound:
    program = shutil.which("espeak-ng")
    if program is None:
        raise EngineMissing("espeak-ng is not installed (apt: espeak-ng)")
    speed = str(round(ESPEAK_WPM * (SLOW if slow else 1.0)))
    done = subprocess.run([program, "-v", voice, "-s", speed, "--stdin", "--stdout"], input=text.encode(),
                          capture_output=True, timeout=30)
    if done.returncode != 0 or not done.stdout:
        raise RuntimeError(f"espeak-ng failed with exit status {done.returncode}")  # (its text is not logged)
    with wave.open(io.BytesIO(fix_stream_header(done.stdout)), "rb") as w:
        return Sound(w.readframes(w.getnframes()), w.getframerate())


def fix_stream_header(data: bytes) -> bytes:
    """espeak-ng writes a streamed WAV whose sizes say 0x7fffffff; make them match what came."""
    if data[:4] != b"RIFF" or data[36:40] != b"data":
        return data
    body = len(data) - 44
    return data[:4] + (36 + body).to_bytes(4, "little") + data[8:40] + body.to_bytes(4, "little") + data[44:]


def click(rate: int = 22050, seconds: float = 0.03) -> Sound:
    """The neutral key click: a short 1.2 kHz blip with a soft end."""
    n = int(rate * seconds)
    i = np.arange(n)
    return Sound(_int16(9000 * np.sin(2 * math.pi * 1200 * i / rate) * (1 - i / n)), rate)
