"""The embedded Japanese fonts (IPAex, Debian packages fonts-ipaexfont-gothic / -mincho), registered once."""
from __future__ import annotations

import functools
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

GOTHIC_PATH = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")
MINCHO_PATH = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")
GOTHIC = "IPAexGothic"
MINCHO = "IPAexMincho"


class FontMissing(RuntimeError):
    pass


@functools.cache
def register_fonts() -> tuple[str, str]:
    """Register the fonts (reportlab embeds a subset of each in every PDF).  Returns (gothic, mincho) names."""
    if not GOTHIC_PATH.exists():
        raise FontMissing(f"IPAex Gothic not found at {GOTHIC_PATH} (install fonts-ipaexfont-gothic)")
    pdfmetrics.registerFont(TTFont(GOTHIC, str(GOTHIC_PATH)))
    if MINCHO_PATH.exists():
        pdfmetrics.registerFont(TTFont(MINCHO, str(MINCHO_PATH)))
        return GOTHIC, MINCHO
    return GOTHIC, GOTHIC
