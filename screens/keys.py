"""The keypad: a whole visit with a numeric keypad (raised 5) and the voice alone.

| key                                   | does                                                           |
|---------------------------------------|----------------------------------------------------------------|
| 0–9 (top row or keypad)               | PIN digits; on lists, choose item N (languages, certificates, copies) |
| Enter / keypad Enter                  | press the focused button, else the screen's main button (OK, Next, Pay) |
| + / keypad + / → / ↓ / Tab            | move the focus to the next button                               |
| - / keypad - / ← / ↑                  | move the focus to the previous button                           |
| Backspace                             | delete the last PIN digit; elsewhere Back                       |
| Esc / * / keypad *                    | Cancel (everything back)                                        |
| / / keypad /                          | stop the voice (音声停止)                                       |
| . / keypad . (Del)                    | call staff                                                      |
| F2                                    | large text on/off;  F3: high contrast on/off                    |
| = / keypad = / F5                     | say the screen again (repeat)                                   |
| F6 / F7                               | voice softer / louder (5 levels; back to the middle after the visit) |
| F8                                    | slower speech on/off (until the visit ends)                     |

Moving the focus says the focused button; a PIN digit sounds a neutral click, never the digit.
"""
from __future__ import annotations

DIGITS = {**{48 + n: str(n) for n in range(10)}, **{256 + n: str(n) for n in range(10)}}
ENTER = {13, 271}
NEXT = {43, 270, 275, 274, 9}
PREVIOUS = {45, 269, 276, 273}
BACKSPACE = {8}
CANCEL = {27, 42, 268}
SILENCE = {47, 267}
STAFF = {46, 266}
LARGE_TEXT = {283}  # F2
CONTRAST = {284}  # F3
REPEAT = {61, 272, 286}  # =, keypad =, F5
SOFTER = {287}  # F6
LOUDER = {288}  # F7
SLOWER = {289}  # F8


def action_of(key: int) -> tuple[str, str | None]:
    """(action, digit) for a Kivy key code; action '' for a key the kiosk ignores."""
    if key in DIGITS:
        return "digit", DIGITS[key]
    for name, keys in (("enter", ENTER), ("next", NEXT), ("previous", PREVIOUS), ("backspace", BACKSPACE),
                       ("cancel", CANCEL), ("silence", SILENCE), ("staff", STAFF), ("large_text", LARGE_TEXT),
                       ("contrast", CONTRAST), ("repeat", REPEAT), ("softer", SOFTER), ("louder", LOUDER),
                       ("slower", SLOWER)):
        if key in keys:
            return name, None
    return "", None
