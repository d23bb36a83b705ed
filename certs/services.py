"""The service catalogue beside the certificates: e-applications (電子申請) as short forms described as data.

The seed's terminals took two e-applications besides issuing certificates: ①粗大ごみの収集申込 and
②水道の使用開始・休止届.  Each is a :class:`Form`: a list of :class:`FormField` (what kind of answer, its choices,
whether it is required, its limits).  The forms are data, not code: :data:`BUILT_IN_FORMS` holds the two as plain
dicts, a city's server configuration may add more in the same shape (``[[applications.forms]]``), and the kiosk
renders whatever form the server sends (:func:`Form.from_dict`) without knowing which application it is.

A field's choices may come from the city rather than the form: ``choices_from`` names where the server finds
them (``city.items``: the city's list of items with their fees; ``city.collection_dates``: the dates offered for the
resident's district; ``calendar.days``: the next days).  The server resolves them before it sends the form.

:func:`check_answers` is the one validation both sides run: the kiosk to say at once what is wrong, the server
because it trusts nothing.  A problem is an :class:`AnswerInvalid` naming the field and a problem code, never the
value (a phone number is personal data).  Fields marked ``personal`` (the phone) never leave the visit's memory on
the kiosk: not in the journal, not in a log, not in the view the screens get.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, Mapping


class DocumentKind(enum.Enum):
    """What a receipt of an application is, in a manifest and a page code (beside the certificate types)."""
    APPLICATION_RECEIPT = "application_receipt"


class FieldKind(enum.Enum):
    CHOICE = "choice"  # one of the choices
    COUNTS = "counts"  # how many of each choice (items with a fee each)
    PHONE = "phone"  # a contact phone number: digits, optionally with hyphens
    DIGITS = "digits"  # a number the resident may know (a customer number): digits only


class Payment(enum.Enum):
    NONE = "none"  # no fee (a notice)
    CASH = "cash"  # the fee is taken at the kiosk like a certificate's
    STICKERS = "stickers"  # the resident buys 処理券 (stickers) at a shop: no money at the kiosk


PHONE = re.compile(r"^0\d{1,4}-?\d{1,4}-?\d{3,4}$", re.ASCII)  # ASCII digits only (not ０９０)
PHONE_DIGITS = (10, 11)
PROBLEMS = ("required", "not_a_choice", "format", "too_few", "too_many", "unknown_field")
"""The problem codes of :class:`AnswerInvalid` (the kiosk's message ids are ``form.<problem>``)."""


class AnswerInvalid(ValueError):
    def __init__(self, field_name: str, problem: str):
        super().__init__(f"answer {field_name!r}: {problem}")
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True)
class Choice:
    value: str
    label_ja: str
    fee: int = 0  # yen for one of it (counts fields)

    def to_dict(self) -> dict:
        return {"value": self.value, "label_ja": self.label_ja, "fee": self.fee}


@dataclass(frozen=True)
class FormField:
    name: str
    kind: FieldKind
    label_ja: str
    required: bool = True
    choices: tuple[Choice, ...] = ()
    choices_from: str | None = None  # resolved by the server (see the module's docstring)
    min_total: int = 0  # counts: at least this many items in all
    max_total: int = 0  # counts: at most this many items in all (0: no limit)
    max_each: int = 0  # counts: at most this many of one item (0: no limit)
    min_length: int = 0  # digits
    max_length: int = 0  # digits (0: no limit)
    personal: bool = False  # personal data: held by the server only

    def to_dict(self) -> dict:
        out = {"name": self.name, "kind": self.kind.value, "label_ja": self.label_ja, "required": self.required,
               "choices": [c.to_dict() for c in self.choices], "personal": self.personal}
        for key in ("choices_from", "min_total", "max_total", "max_each", "min_length", "max_length"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FormField":
        try:
            kind = FieldKind(data["kind"])
            choices = tuple(Choice(str(c["value"]), str(c["label_ja"]), _int(c.get("fee", 0)))
                            for c in data.get("choices", ()))
            return cls(str(data["name"]), kind, str(data["label_ja"]), bool(data.get("required", True)), choices,
                       data.get("choices_from"), *(_int(data.get(k, 0)) for k in
                                                   ("min_total", "max_total", "max_each", "min_length",
                                                    "max_length")), bool(data.get("personal", False)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"form field is not well described: {exc}") from None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("limits and fees are whole numbers >= 0")
    return value


@dataclass(frozen=True)
class Form:
    service: str
    title_ja: str
    department_ja: str  # the department that handles it (the applications list is per department)
    fields: tuple[FormField, ...]
    payment: Payment = Payment.NONE
    notes_ja: tuple[str, ...] = ()  # printed on the receipt (where to put the items, what happens next)

    def field(self, name: str) -> FormField:
        return next(f for f in self.fields if f.name == name)

    def to_dict(self) -> dict:
        return {"service": self.service, "title_ja": self.title_ja, "department_ja": self.department_ja,
                "payment": self.payment.value, "notes_ja": list(self.notes_ja),
                "fields": [f.to_dict() for f in self.fields]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Form":
        try:
            service = str(data["service"])
            if not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", service):
                raise ValueError("a service code is lower-case letters, digits and _")
            fields = tuple(FormField.from_dict(f) for f in data["fields"])
            if not fields or len({f.name for f in fields}) != len(fields):
                raise ValueError("a form has fields, each with its own name")
            return cls(service, str(data["title_ja"]), str(data.get("department_ja", "")), fields,
                       Payment(data.get("payment", "none")), tuple(str(n) for n in data.get("notes_ja", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"form is not well described: {exc}") from None

    def with_choices(self, resolved: Mapping[str, tuple[Choice, ...]], payment: Payment | None = None,
                     notes_ja: tuple[str, ...] | None = None) -> "Form":
        """This form with the city's choices filled in (by field name), its payment and notes as the city sets."""
        fields = tuple(FormField(**{**f.__dict__, "choices": resolved.get(f.name, f.choices)}) for f in self.fields)
        return Form(self.service, self.title_ja, self.department_ja, fields, payment or self.payment,
                    self.notes_ja if notes_ja is None else notes_ja)


def check_answers(form: Form, answers: Mapping[str, Any]) -> dict:
    """The answers, normalised (counts without zeros, phone without hyphens), or :class:`AnswerInvalid`."""
    unknown = sorted(set(answers) - {f.name for f in form.fields})
    if unknown:
        raise AnswerInvalid(unknown[0], "unknown_field")
    out: dict[str, Any] = {}
    for spec in form.fields:
        value = answers.get(spec.name)
        if value in (None, "", {}):
            if spec.required or (spec.kind is FieldKind.COUNTS and spec.min_total):
                raise AnswerInvalid(spec.name, "required" if spec.kind is not FieldKind.COUNTS else "too_few")
            continue
        out[spec.name] = _check_one(spec, value)
    return out


def _check_one(spec: FormField, value: Any) -> Any:
    values = {c.value for c in spec.choices}
    if spec.kind is FieldKind.CHOICE:
        if not isinstance(value, str) or value not in values:
            raise AnswerInvalid(spec.name, "not_a_choice")
        return value
    if spec.kind is FieldKind.COUNTS:
        if not isinstance(value, Mapping):
            raise AnswerInvalid(spec.name, "format")
        counts = {}
        for key, n in value.items():
            if key not in values:
                raise AnswerInvalid(spec.name, "not_a_choice")
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise AnswerInvalid(spec.name, "format")
            if spec.max_each and n > spec.max_each:
                raise AnswerInvalid(spec.name, "too_many")
            if n:
                counts[key] = n
        total = sum(counts.values())
        if total < max(spec.min_total, 1 if spec.required else 0):
            raise AnswerInvalid(spec.name, "too_few")
        if spec.max_total and total > spec.max_total:
            raise AnswerInvalid(spec.name, "too_many")
        return dict(sorted(counts.items()))
    if not isinstance(value, str):
        raise AnswerInvalid(spec.name, "format")
    if spec.kind is FieldKind.PHONE:
        digits = value.replace("-", "")
        if not PHONE.fullmatch(value) or not digits.isdigit() or len(digits) not in PHONE_DIGITS:
            raise AnswerInvalid(spec.name, "format")
        return digits
    if not value.isascii() or not value.isdigit():  # DIGITS
        raise AnswerInvalid(spec.name, "format")
    if len(value) < spec.min_length:
        raise AnswerInvalid(spec.name, "too_few")
    if spec.max_length and len(value) > spec.max_length:
        raise AnswerInvalid(spec.name, "too_many")
    return value


def fee_of(form: Form, answers: Mapping[str, Any]) -> int:
    """The sum of the fees of every counted item (checked answers)."""
    total = 0
    for spec in form.fields:
        if spec.kind is FieldKind.COUNTS:
            fees = {c.value: c.fee for c in spec.choices}
            total += sum(fees[k] * n for k, n in answers.get(spec.name, {}).items())
    return total


def stickers_for(fees: list[int], values: tuple[int, ...]) -> dict[int, int]:
    """How many 処理券 of each value pay these fees, each item by its own stickers (largest first).  ValueError if
    a fee cannot be made of the city's sticker values."""
    out: dict[int, int] = {}
    for fee in fees:
        rest = fee
        for value in sorted(values, reverse=True):
            count, rest = divmod(rest, value)
            if count:
                out[value] = out.get(value, 0) + count
        if rest:
            raise ValueError(f"a fee of {fee} yen cannot be paid with stickers of {sorted(values)} yen")
    return dict(sorted(out.items(), reverse=True))


BUILT_IN_FORMS: dict[str, dict] = {
    "bulky_waste": {
        "service": "bulky_waste", "title_ja": "粗大ごみ収集申込", "department_ja": "環境局 収集計画課",
        "payment": "cash",
        "fields": [
            {"name": "items", "kind": "counts", "label_ja": "出す品目と数", "choices_from": "city.items",
             "min_total": 1, "max_total": 10, "max_each": 5},
            {"name": "collection_date", "kind": "choice", "label_ja": "収集日", "choices_from": "city.collection_dates"},
            {"name": "phone", "kind": "phone", "label_ja": "連絡先電話番号", "personal": True},
        ],
    },
    "water_notice": {
        "service": "water_notice", "title_ja": "水道の使用開始・休止届", "department_ja": "上下水道局 お客さまセンター",
        "payment": "none",
        "fields": [
            {"name": "notice", "kind": "choice", "label_ja": "届出の種類",
             "choices": [{"value": "start", "label_ja": "使用開始"}, {"value": "stop", "label_ja": "使用休止"}]},
            {"name": "date", "kind": "choice", "label_ja": "開始・休止する日", "choices_from": "calendar.days"},
            {"name": "customer_number", "kind": "digits", "label_ja": "お客さま番号（わかる場合）", "required": False,
             "min_length": 8, "max_length": 10},
            {"name": "phone", "kind": "phone", "label_ja": "連絡先電話番号", "personal": True},
        ],
        "notes_ja": ["開始・休止の日の前後に、上下水道局から確認の連絡をすることがあります。"],
    },
}
"""The two applications of the seed policy, as data (a city may add forms of the same shape in its config)."""
