"""The embedded Japanese fonts (IPAex, Debian packages fonts-ipaexfont-gothic / -mincho), registered once.

reportlab embeds a subset of each font in every PDF, and building a subset re-reads the font's tables each
time: slicing a 5 MB ``glyf`` table per document costs several milliseconds.  The tables never change, so the
registered faces keep them after the first read, and the subsets every certificate shares are built once
(``server.render.font_subsets``).
"""
from __future__ import annotations

import functools
from pathlib import Path

from reportlab.pdfbase import pdfmetrics

from server.render import reportlab_tuning
from server.render.font_subsets import SubsetCachingFont

GOTHIC_PATH = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")
MINCHO_PATH = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")
GOTHIC = "IPAexGothic"
MINCHO = "IPAexMincho"


class FontMissing(RuntimeError):
    pass


def _register(name: str, path: Path) -> None:
    font = SubsetCachingFont(name, str(path))
    font.face.get_table = functools.lru_cache(maxsize=None)(font.face.get_table)  # immutable font data
    pdfmetrics.registerFont(font)


@functools.cache
def register_fonts() -> tuple[str, str]:
    """Register the fonts (reportlab embeds a subset of each in every PDF).  Returns (gothic, mincho) names."""
    reportlab_tuning.install()
    if not GOTHIC_PATH.exists():
        raise FontMissing(f"IPAex Gothic not found at {GOTHIC_PATH} (install fonts-ipaexfont-gothic)")
    _register(GOTHIC, GOTHIC_PATH)
    if MINCHO_PATH.exists():
        _register(MINCHO, MINCHO_PATH)
        return GOTHIC, MINCHO
    return GOTHIC, GOTHIC
