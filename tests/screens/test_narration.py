"""How a screen's text becomes what the voice says (screens/narration.py), and that a spoken text stays out of
reprs (it may hold a household member's name)."""
from __future__ import annotations

from firmware.visit import Speak
from screens.catalogue import Strings
from screens.narration import speakable


def test_amounts_are_said_as_words_the_engine_reads_without_thousands_commas():
    assert speakable("Still due ¥1,000", Strings("en")) == "Still due 1000 yen"
    assert speakable("Faltam ¥1,000", Strings("pt")) == "Faltam 1000 ienes"  # (pt would read 1,000 as 1.0)
    assert speakable("あと 1,000円", Strings("ja")) == "あと 1000円"


def test_a_reference_is_spelled_and_marks_and_line_breaks_become_pauses():
    t = Strings("en")
    assert speakable("Reference K7QM-4TXA", t, "K7QM-4TXA") == "Reference K 7 Q M 4 T X A"
    assert speakable("▶ Your certificate\n(tray below)", t) == "Your certificate, (tray below)"
    assert speakable("1.  住民票の写し\n300円", Strings("ja")) == "1. 住民票の写し、300円"


def test_a_spoken_text_never_shows_in_a_repr():
    intent = Speak("試験 花子（妻）")
    assert "花子" not in repr(intent) and "花子" not in str(intent)


def test_the_servers_option_default_and_label_are_used_where_the_kiosk_has_none():
    from certs.wire import OptionDetail, parse_option_details
    from screens.pages.options import option_label, server_default

    details = parse_option_details([{"name": "household_head", "label_ja": "世帯主・続柄", "default": True,
                                     "choices": None, "free_text": False},
                                    {"name": "new_thing", "label_ja": "新しい項目", "default": False, "choices": None},
                                    "not a detail"])
    assert [d.name for d in details] == ["household_head", "new_thing"]
    assert server_default(details[0], (False, True)) is True  # the server's default, not the first choice
    assert server_default(OptionDetail("scope", "", "nobody", ("self",)), ("self", "household")) == "self"
    assert option_label(Strings("en"), "new_thing", details[1]) == "新しい項目"  # no catalogue text: the server's
    assert option_label(Strings("en"), "household_head", details[0]) == Strings("en")("opt.household_head")


def test_an_item_known_only_by_the_citys_japanese_is_said_by_its_number_in_another_voice():
    from screens.pages.form import said_item

    assert said_item(Strings("en"), "古いたんす", True, 3) == "Item 3"  # espeak-ng cannot read kanji
    assert said_item(Strings("ja"), "古いたんす", True, 3) == "古いたんす"
    assert said_item(Strings("ja-easy"), "古いたんす", True, 3) == "古いたんす"
    assert said_item(Strings("en"), "Chair", False, 1) == "Chair"  # the catalogue's own words
