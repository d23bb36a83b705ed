"""System fonts for every language, found by path (Debian packages installed by scripts/bootstrap.sh).

- Japanese and やさしい日本語: IPAex Gothic (fonts-ipaexfont-gothic) — kana, JIS kanji, Latin.
- Chinese and Korean: Noto Sans CJK (fonts-noto-cjk) — IPAex has no Hangul and lacks many simplified hanzi.
- English, Portuguese, Vietnamese: DejaVu Sans (fonts-dejavu-core) — every Vietnamese stacked diacritic.

A missing font stops the app at start with the package to install, instead of showing boxes (tofu).
"""
from __future__ import annotations

from pathlib import Path

FONT_FILES = {
    "ipaex": ("fonts-ipaexfont-gothic", ["/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
                                         "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"]),
    "noto_cjk": ("fonts-noto-cjk", ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"]),
    "dejavu": ("fonts-dejavu-core", ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]),
}
FONT_FILES_BOLD = {
    "ipaex": FONT_FILES["ipaex"],  # IPAex has no bold face
    "noto_cjk": ("fonts-noto-cjk", ["/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"]),
    "dejavu": ("fonts-dejavu-core", ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"]),
}
FONT_OF_LANGUAGE = {"ja": "ipaex", "ja-easy": "ipaex", "zh": "noto_cjk", "ko": "noto_cjk",
                    "en": "dejavu", "pt": "dejavu", "vi": "dejavu"}


class FontMissing(RuntimeError):
    pass


def font_path(key: str, bold: bool = False) -> Path:
    package, candidates = (FONT_FILES_BOLD if bold else FONT_FILES)[key]
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(f"font {key} not found (looked for {', '.join(candidates)}); "
                      f"install the Debian package {package} (scripts/bootstrap.sh does)")


def language_font(language: str, bold: bool = False) -> Path:
    return font_path(FONT_OF_LANGUAGE.get(language, "ipaex"), bold)


def check_fonts() -> dict[str, Path]:
    """Every language's font, or FontMissing naming the package."""
    return {language: language_font(language) for language in FONT_OF_LANGUAGE}
