"""What the voice says: every screen says what it shows, in the visit's language.

A new screen is said whole: its heading, then each text, notice and button on it, in reading order (a menu's
certificates with their fees and the unavailable ones with their reason, a payment's fee, inserted amount and what
is still due, the take-items list with a refund's reference spelled out).  When the same screen changes (a coin
went in, a wrong PIN, an option chosen), only the lines that are new are said.  Moving the keypad's focus says
the focused button; the repeat key says the screen again.  A page may say something else than its widgets by
overriding :meth:`screens.pages.base.Page.spoken_lines` (the PIN pad never reads its digit keys).

The texts go to the firmware as :class:`~firmware.visit.Speak` intents; the firmware hands them to the voice
device (Open JTalk, espeak-ng, or the simulator a test listens to).  Nothing here logs a text.
"""
from __future__ import annotations

import re

from firmware.visit import VOLUME_LEVELS, Speak, VoiceControl, next_volume

_YEN = re.compile(r"¥\s?([\d,]+)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def speakable(text: str, t, reference: str | None = None) -> str:
    """A screen text as the voice should read it: amounts as words the engine reads ("300 yen", not "¥300"), no
    thousands commas (Portuguese reads them as decimals), arrows and line breaks as pauses, a reference spelled."""
    text = _YEN.sub(lambda m: t("yen.spoken", amount=m.group(1)), text)
    text = _THOUSANDS.sub("", text)
    if reference and reference in text:
        text = text.replace(reference, " ".join(c for c in reference if c != "-"))
    text = text.replace("▶", "").replace("\n", t("speech.pause")).strip()
    return " ".join(text.split())


def button_speech(button, t, spoken: str | None = None) -> str:
    words = button.text if spoken is None else spoken
    if getattr(button, "kind", "") == "chosen" and not getattr(button, "only_looks_chosen", False):
        words = f"{words}{t('speech.pause')}{t('speech.chosen')}"
    return words


class Narrator:
    """Says what the app shows; the app calls :meth:`shown` after drawing a screen and :meth:`focused` when the
    keypad moves the focus."""

    def __init__(self, bridge):
        self.bridge = bridge
        self.enabled = True
        self._key = None
        self._lines: list[str] = []
        self._t = None
        self._reference: str | None = None

    def shown(self, name: str, page, view, t) -> bool:
        """Say what ``page`` shows; True if it is a new screen (or a new step of one), said whole."""
        if not self.enabled:
            return False
        lines = [speakable(line, t, view.refund_reference) for line in page.spoken_lines(view, t)]
        lines = [line for line in lines if line]
        key = (name, page.ids.heading.text, view.language, view.visit)
        if key != self._key:
            said = lines
        else:
            before = set(self._lines)
            said = [line for line in lines if line not in before]
        new = key != self._key
        self._key, self._lines, self._t, self._reference = key, lines, t, view.refund_reference
        if said:
            self._say(said)
        return new

    def focused(self, button, t) -> None:
        if not self.enabled or button is None:
            return
        own = getattr(button, "spoken_language", None)  # a language button speaks its own language, a name Japanese
        if own and own != t.language:
            from screens.catalogue import Strings
            self.bridge.send(Speak(speakable(button_speech(button, Strings(own)), Strings(own)), by_key=True,
                                   language=own))
            return
        self._say([speakable(button_speech(button, t, getattr(button, "spoken_text", None)), t, self._reference)],
                  by_key=True)

    def repeat(self, focused=None) -> None:
        """The repeat key: the whole screen again (and the focused button, if any)."""
        if not self.enabled or self._t is None:
            return
        lines = list(self._lines)
        if focused is not None:
            lines.append(speakable(button_speech(focused, self._t, getattr(focused, "spoken_text", None)), self._t,
                                   self._reference))
        self._say(lines, by_key=True)

    def voice_key(self, action: str, view, t) -> None:
        """Louder, softer, slower: the firmware changes the voice; the resident hears the new setting."""
        self.bridge.send(VoiceControl(action))
        if action in ("louder", "softer"):
            level = next_volume(view.voice_volume, 1 if action == "louder" else -1)
            self._say([t("speech.volume", level=level, levels=VOLUME_LEVELS)], by_key=True)
        elif action == "slower":
            self._say([t("speech.slow_off" if view.voice_slow else "speech.slow_on")], by_key=True)

    def tick(self) -> None:
        self.bridge.send(VoiceControl("tick"))

    def _say(self, lines: list[str], by_key: bool = False) -> None:
        stop = self._t("speech.sentence") if self._t is not None else "."
        text = " ".join(line if line[-1] in ".。!?！？:：" else line + stop for line in lines if line)
        if text:
            self.bridge.send(Speak(text, by_key=by_key))
