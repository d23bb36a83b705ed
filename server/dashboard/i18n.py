"""The dashboard's words, Japanese first and English.  One key, two languages; ``{name}`` fields are filled in."""
from __future__ import annotations

from datetime import datetime, timedelta

LANGUAGES = ("ja", "en")
JST = timedelta(hours=9)

WORDS: dict[str, tuple[str, str]] = {
    "app": ("証明書自動交付機 運用画面", "Certificate kiosks — operations"),
    "fleet": ("端末一覧", "Fleet"),
    "calls": ("呼出し", "Staff calls"),
    "refunds": ("返金", "Refunds owed"),
    "day": ("本日の交付", "Today's issuances"),
    "stats": ("統計", "Statistics"),
    "logout": ("ログアウト", "Sign out"),
    "login": ("ログイン", "Sign in"),
    "staff_id": ("職員番号", "Staff id"),
    "password": ("パスワード", "Password"),
    "login_bad": ("職員番号またはパスワードが違います。", "Wrong staff id or password."),
    "login_locked": ("ログインに続けて失敗したため、{until} まで利用できません。管理者に連絡してください。",
                     "Too many failed sign-ins: locked until {until}. Ask the administrator."),
    "role_admin": ("市管理者（全区）", "City administrator (all wards)"),
    "role_ward": ("{ward} 職員", "{ward} staff"),
    "needs_staff": ("対応が必要", "Needs staff"),
    "all_well": ("対応が必要な端末はありません。", "No kiosk needs staff."),
    "kiosk": ("端末", "Kiosk"),
    "ward": ("区", "Ward"),
    "last_seen": ("最終通信", "Last seen"),
    "never": ("未受信", "never"),
    "silent": ("通信途絶", "Silent"),
    "in_service": ("稼働中", "In service"),
    "out_of_service": ("休止中", "Out of service"),
    "service_unknown": ("状態不明", "State unknown"),
    "paper": ("用紙", "Paper"),
    "paper_ok": ("あり", "OK"),
    "paper_low": ("残りわずか", "Low"),
    "paper_out": ("用紙切れ", "Out of paper"),
    "paper_unknown": ("不明", "Unknown"),
    "coins": ("釣銭硬貨", "Change coins"),
    "notes": ("金庫の紙幣", "Notes in cash box"),
    "faults": ("障害", "Faults"),
    "none": ("なし", "none"),
    "vpn": ("VPN", "VPN"),
    "vpn_up": ("接続", "up"),
    "vpn_down": ("切断", "down"),
    "backlog": ("未送信", "Unsent"),
    "events_n": ("{n} 件", "{n} events"),
    "staff_call": ("職員呼出し", "Staff call"),
    "call_acked": ("応答済み（端末の受信待ち）", "Acknowledged (waiting for the kiosk)"),
    "need_staff_call": ("職員呼出し中", "Calling staff"),
    "need_paper_out": ("用紙切れ", "Out of paper"),
    "need_silent": ("通信途絶", "Silent"),
    "need_out_of_service": ("休止中", "Out of service"),
    "need_fault": ("障害あり", "Fault"),
    "need_low": ("要注意", "Attention"),
    "need_ok": ("正常", "OK"),
    "timeline": ("履歴", "Timeline"),
    "open_calls": ("対応待ちの呼出し", "Open staff calls"),
    "no_calls": ("対応待ちの呼出しはありません。", "No open staff calls."),
    "waiting": ("経過", "Waiting"),
    "since": ("呼出し時刻", "Called at"),
    "acknowledge": ("応答する", "Acknowledge"),
    "acked": ("{kiosk} の呼出しに応答しました。端末の呼出しランプは次の通信で消えます。",
              "Acknowledged {kiosk}'s call; its beacon goes off at its next exchange."),
    "already_acked": ("{kiosk} の呼出しには応答済みです。", "{kiosk}'s call was already acknowledged."),
    "no_open_call": ("{kiosk} に対応待ちの呼出しはありません。", "{kiosk} has no open call."),
    "refunds_open": ("未払いの返金", "Refunds owed, not yet paid"),
    "no_refunds": ("未払いの返金はありません。", "No refunds owed."),
    "date": ("日時", "Date"),
    "amount": ("金額", "Amount"),
    "reference": ("引換番号", "Reference"),
    "pay_title": ("窓口で支払う", "Pay at the counter"),
    "pay_help": ("返金引換票の引換番号を入力するか、QRコードを読み取ってください。",
                 "Type the refund slip's reference, or scan its QR code."),
    "pay": ("支払済みにする", "Mark paid"),
    "paid_ok": ("{ref}（{amount}円、{kiosk}）を支払済みにしました。", "Paid {ref} ({amount} yen, {kiosk})."),
    "paid_twice": ("{ref} は {when} に {by} が支払済みです。二重に支払わないでください。",
                   "{ref} was already paid at {when} by {by}. Do not pay it twice."),
    "pay_unknown": ("{ref} の返金は記録にありません。番号を確認してください。",
                    "No refund owed is recorded for {ref}. Check the reference."),
    "pay_invalid": ("引換番号の形式が違います（例: K7QM-4TXA-9PRC）。", "Not a reference (e.g. K7QM-4TXA-9PRC)."),
    "pay_refused": ("支払えません: {why}", "Not paid: {why}"),
    "not_your_kiosk": ("この端末はあなたの区の端末ではありません。", "This kiosk is not in your ward."),
    "yen": ("{n}円", "{n} yen"),
    "day_title": ("{day} の交付と手数料", "Issuances and fees on {day}"),
    "transactions": ("取引", "Transactions"),
    "fees": ("手数料", "Fees"),
    "refunded": ("返金", "Refunded"),
    "net": ("差引", "Net"),
    "total": ("合計", "Total"),
    "no_ledger": ("この日の記録はありません。", "Nothing recorded on this day."),
    "show": ("表示", "Show"),
    "stats_title": ("{fy} 証明書の交付件数", "Certificates issued, {fy}"),
    "by_type": ("証明書の種類別", "By certificate type"),
    "by_terminal": ("端末別", "Per terminal"),
    "certificate": ("証明書の種類", "Certificate"),
    "count": ("件数", "Count"),
    "share": ("割合 %", "Share %"),
    "fiscal_year": ("年度", "Fiscal year"),
    "no_stats": ("この年度の交付はありません。", "No issuances in this fiscal year."),
    "commands": ("遠隔操作", "Remote commands"),
    "cmd_out_of_service": ("休止にする", "Take out of service"),
    "cmd_back_in_service": ("稼働に戻す", "Put back in service"),
    "cmd_ack_staff_call": ("呼出しに応答", "Acknowledge call"),
    "cmd_sent": ("{kiosk} に「{what}」を送りました。次の通信で実行されます。",
                 "Sent “{what}” to {kiosk}; it runs at the kiosk's next exchange."),
    "cmd_already": ("{kiosk} への「{what}」は送信済みで、端末の受信待ちです。",
                    "“{what}” for {kiosk} was already sent and waits for the kiosk."),
    "cmd_state_waiting": ("受信待ち", "waiting"),
    "cmd_state_picked": ("受信済み", "picked up"),
    "cmd_state_done": ("完了", "done"),
    "by": ("担当", "By"),
    "event": ("事象", "Event"),
    "details": ("内容", "Details"),
    "seq": ("番号", "Seq"),
    "no_events": ("受信した事象はありません。", "No events received."),
    "refresh_note": ("自動更新（5秒ごと）", "Updates every 5 s"),
    "forbidden": ("権限がありません", "Not allowed"),
    "csrf_refused": ("フォームの有効期限が切れました。画面を読み込み直してください。",
                     "This form expired. Reload the page and try again."),
    "not_found": ("見つかりません", "Not found"),
    "ago_s": ("{n}秒前", "{n} s ago"),
    "ago_m": ("{n}分前", "{n} min ago"),
    "ago_h": ("{n}時間前", "{n} h ago"),
    "ago_d": ("{n}日前", "{n} days ago"),
    "lang_other": ("English", "日本語"),
}

# Codes kiosks send (events, out-of-service reasons, faults), as staff read them; an unknown code shows as is.
CODES: dict[str, tuple[str, str]] = {
    "paper_low": ("用紙残りわずか", "paper low"), "paper_out": ("用紙切れ", "out of paper"),
    "cover_open": ("カバー開", "cover open"), "door_opened": ("扉開", "door opened"),
    "cash_box_removed": ("金庫取外し", "cash box removed"), "cash_box_full": ("金庫満杯", "cash box full"),
    "hopper_low": ("釣銭少", "hopper low"), "hopper_empty": ("釣銭切れ", "hopper empty"),
    "stacker_near_full": ("紙幣収納ほぼ満杯", "stacker nearly full"), "device_fault": ("機器障害", "device fault"),
    "device_recovered": ("機器復旧", "device recovered"), "staff_call": ("職員呼出し", "staff call"),
    "staff_call_acknowledged": ("呼出し応答", "staff call acknowledged"),
    "out_of_service": ("休止", "out of service"), "back_in_service": ("稼働再開", "back in service"),
    "refund_owed": ("返金未払い", "refund owed"), "vpn_down": ("VPN切断", "VPN down"), "vpn_up": ("VPN接続", "VPN up"),
    "vpn": ("VPN切断", "VPN down"), "under_voltage": ("電圧低下", "under-voltage"),
    "overheated": ("高温", "overheated"), "disk_full": ("ディスク容量不足", "disk nearly full"),
    "clock_not_synchronised": ("時刻未同期", "clock not synchronised"), "printer_offline": ("プリンタ停止",
                                                                                     "printer offline"),
    "card_reader": ("カードリーダー障害", "card reader fault"), "cash_device": ("入金機障害", "cash device fault"),
    "card_left_on_reader": ("カード置忘れ", "card left on reader"), "staff": ("職員が休止", "taken out by staff"),
    "recovery": ("起動時の復旧", "start-up recovery"), "kiosk_started": ("起動", "kiosk started"),
    "command_done": ("遠隔操作を実行", "remote command done"), "printer_paper_out": ("用紙切れ", "out of paper"),
    "printer_cover_open": ("カバー開", "cover open"), "cert_expiry_ahead": ("証明書期限間近", "certificate expiring"), "certificate_expiring": ("証明書期限間近",
                                                                              "certificate expiring"),
}


def code_label(lang: str, code: str | None) -> str:
    """A code in words; a fault ``device:state`` (``printer:paper_out``) by its state when that is known."""
    if not code:
        return ""
    pair = CODES.get(code) or CODES.get(code.rsplit(":", 1)[-1])
    return code if pair is None else pair[1 if lang == "en" else 0]


def translate(lang: str, key: str, **fields) -> str:
    pair = WORDS.get(key)
    text = key if pair is None else pair[1 if lang == "en" else 0]
    return text.format(**fields) if fields else text


def jst(moment: datetime | None, with_date: bool = True) -> str:
    """A naive UTC time as the time in Japan."""
    if moment is None:
        return "-"
    local = moment + JST
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def ago(lang: str, moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return translate(lang, "never")
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return translate(lang, f"ago_{unit}", n=seconds // size)
    return translate(lang, "ago_s", n=seconds)
