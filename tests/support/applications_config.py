"""Server configurations for the e-application tests: the development world's server.toml with the 粗大ごみ
payment mode, the day's capacity, or a form of the city's own changed (text edits only: nothing of ``server``)."""
from __future__ import annotations

from pathlib import Path

from tests.support.server_process import write_config_variant

THIRD_FORM = '''
[[applications.forms]]              # a form of the city's own: no code knows it
service = "dog_registration_change"
title_ja = "犬の登録事項変更届"
department_ja = "保健所 動物愛護係"
payment = "none"
notes_ja = ["鑑札の再交付は保健所の窓口で行います。"]
fields = [
  {name = "change", kind = "choice", label_ja = "変更の内容", choices = [
     {value = "died", label_ja = "死亡"}, {value = "moved_in_city", label_ja = "市内転居"}]},
  {name = "tag_number", kind = "digits", label_ja = "鑑札番号", min_length = 4, max_length = 8},
  {name = "phone", kind = "phone", label_ja = "連絡先電話番号", personal = true},
]
'''


def write_applications_variant(dev_dir: str | Path, name: str, *, payment: str = "cash", capacity: int = 30,
                               third_form: bool = False) -> Path:
    path = write_config_variant(dev_dir, name)
    text = path.read_text(encoding="utf-8")
    text = text.replace('payment = "cash"                  #', f'payment = "{payment}"                  #')
    text = text.replace("capacity_per_day = 30", f"capacity_per_day = {capacity}")
    if third_form:
        text = text.replace('enabled = ["bulky_waste", "water_notice"]',
                            'enabled = ["bulky_waste", "water_notice", "dog_registration_change"]')
        text = text.replace("[applications.bulky_waste]\n", THIRD_FORM + "\n[applications.bulky_waste]\n", 1)
    path.write_text(text, encoding="utf-8")
    return path
