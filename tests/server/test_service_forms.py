"""The service catalogue as data (certs/services.py): forms round-trip through their description, answers are
checked the same way on both sides, and 処理券 are counted per item."""
from __future__ import annotations

import pytest

from certs.services import BUILT_IN_FORMS, AnswerInvalid, Choice, Form, check_answers, fee_of, stickers_for

ITEMS = (Choice("chair", "いす", 300), Choice("mattress", "マットレス", 800))


def bulky() -> Form:
    form = Form.from_dict(BUILT_IN_FORMS["bulky_waste"])
    return form.with_choices({"items": ITEMS, "collection_date": (Choice("2026-12-10", "12月10日"),)})


def test_a_form_is_its_description():
    for data in BUILT_IN_FORMS.values():
        form = Form.from_dict(data)
        assert Form.from_dict(form.to_dict()) == form


@pytest.mark.parametrize("answers, field, problem", [
    ({"items": {"chair": 1}, "collection_date": "2026-12-10", "phone": "090-12AB-5678"}, "phone", "format"),
    ({"items": {"chair": 1}, "collection_date": "2026-12-10", "phone": "090-1234"}, "phone", "format"),
    ({"items": {"chair": 1}, "collection_date": "2026-12-10", "phone": "０９０１２３４５６７８"}, "phone", "format"),
    ({"items": {}, "collection_date": "2026-12-10", "phone": "0901234567"}, "items", "too_few"),
    ({"items": {"chair": 0}, "collection_date": "2026-12-10", "phone": "0901234567"}, "items", "too_few"),
    ({"items": {"chair": 6}, "collection_date": "2026-12-10", "phone": "0901234567"}, "items", "too_many"),
    ({"items": {"chair": 5, "mattress": 5, "sofa": 1}, "collection_date": "2026-12-10", "phone": "0901234567"},
     "items", "not_a_choice"),
    ({"items": {"chair": 1}, "collection_date": "2026-12-11", "phone": "0901234567"}, "collection_date",
     "not_a_choice"),
    ({"items": {"chair": 1}, "phone": "0901234567"}, "collection_date", "required"),
    ({"items": {"chair": 1}, "collection_date": "2026-12-10", "phone": "0901234567", "name": "x"}, "name",
     "unknown_field"),
])
def test_bad_answers_name_the_field_and_the_problem_never_the_value(answers, field, problem):
    with pytest.raises(AnswerInvalid) as caught:
        check_answers(bulky(), answers)
    assert (caught.value.field, caught.value.problem) == (field, problem)
    assert "12AB" not in str(caught.value) and "1234" not in str(caught.value)


def test_good_answers_are_normalised_and_priced():
    checked = check_answers(bulky(), {"items": {"mattress": 1, "chair": 2, }, "collection_date": "2026-12-10",
                                      "phone": "090-1234-5678"})
    assert checked == {"items": {"chair": 2, "mattress": 1}, "collection_date": "2026-12-10", "phone": "09012345678"}
    assert fee_of(bulky(), checked) == 1400


def test_stickers_are_counted_item_by_item():
    assert stickers_for([300, 300, 800], (500, 300, 200)) == {500: 1, 300: 3}
    with pytest.raises(ValueError):
        stickers_for([250], (500, 300, 200))
