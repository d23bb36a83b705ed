"""The receipt of an e-application (電子申請 受付票): an A4 page with the shared furniture (the binding line and the
signed QR, as on certificates), the application number, what was asked for, and what happens next.

It draws whatever form it is given: each answer under its field's label (a count field as one row per item, with
the fee), so a city's own form prints with no code here.  A personal field (the phone) is never printed in full:
the receipt says it was given and shows its last two digits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs.services import FieldKind, Form, Payment
from server.render.content import DocumentIdentity, Issuer
from server.render.dates import wareki
from server.render.furniture import RenderedDocument, gap_block, heading_block, render_document, row_block


@dataclass(frozen=True)
class ReceiptContent:
    form: Form
    application_no: str
    answers: Mapping[str, Any]
    address: str  # from the registry: where the items are collected, where the water is used
    fee: int  # the items' fees (yen)
    taken_at_kiosk: int  # what the kiosk took in cash (0 with stickers or no fee)
    stickers: Mapping[int, int]  # value -> count, stickers mode only

    def __repr__(self) -> str:
        return f"<ReceiptContent {self.application_no} (personal data hidden)>"


def _answer_rows(content: ReceiptContent) -> list:
    blocks = []
    for spec in content.form.fields:
        value = content.answers.get(spec.name)
        labels = {c.value: c for c in spec.choices}
        if spec.kind is FieldKind.COUNTS:
            blocks.append(heading_block(spec.label_ja))
            for code, count in (value or {}).items():
                choice = labels.get(code)
                name = choice.label_ja if choice else code
                fee = f"{choice.fee * count:,}円" if choice and choice.fee else ""
                blocks.append(row_block([("品目", name, 0.5), ("数", str(count), 0.2), ("手数料", fee, 0.3)]))
            continue
        if value is None:
            shown = "（記入なし）"
        elif spec.personal:
            shown = f"お預かりしました（末尾 {str(value)[-2:]}）"
        elif spec.kind is FieldKind.CHOICE and value in labels:
            shown = labels[value].label_ja
        else:
            shown = str(value)
        blocks.append(row_block([(spec.label_ja, shown, 1.0)]))
    return blocks


def _payment_rows(content: ReceiptContent) -> list:
    payment = content.form.payment
    if payment is Payment.CASH and content.fee:
        return [row_block([("手数料の合計", f"{content.fee:,}円", 0.5),
                           ("お支払い", f"{content.taken_at_kiosk:,}円（この端末で受領）", 0.5)])]
    if payment is Payment.STICKERS and content.fee:
        stickers = "、".join(f"{value:,}円券 {count}枚" for value, count in content.stickers.items())
        return [row_block([("手数料の合計", f"{content.fee:,}円（処理券でお支払いください）", 1.0)]),
                row_block([("お買い求めいただく処理券", stickers, 1.0)]),
                row_block([("", "処理券は市内の取扱店でお買い求めのうえ、品目ごとに貼ってください。", 1.0)])]
    return []


def render_receipt(content: ReceiptContent, issuer: Issuer, identity: DocumentIdentity,
                   signing_key: Ed25519PrivateKey) -> RenderedDocument:
    blocks = [row_block([("受付番号", content.application_no, 0.5), ("受付日", wareki(issuer.issued_on), 0.5)]),
              row_block([("場所（住民登録の住所）", content.address, 1.0)]), gap_block(3),
              *_answer_rows(content), gap_block(3), *_payment_rows(content)]
    if content.form.notes_ja:
        blocks += [gap_block(3), heading_block("ご案内")]
        blocks += [row_block([("", note, 1.0)]) for note in content.form.notes_ja]
    statement = [f"上記のとおり「{content.form.title_ja}」を受け付けました。",
                 f"担当：{content.form.department_ja}" if content.form.department_ja else ""]
    return render_document(f"{content.form.title_ja} 受付票", blocks, statement, issuer, identity, signing_key)


def service_day_label(day: date) -> str:
    return f"{day.month}月{day.day}日（{'月火水木金土日'[day.weekday()]}）"
