"""The statistics report: the seed policy's tables, from the issuance log and the ledger.

The seed (Kawasaki's 2012 policy, 〈行政サービス端末で発行された証明書の内訳〉) counts certificates issued at
its kiosks by type and fiscal year with each type's share in %; the city also needs the same per terminal, and
the fees.  Here:

- **by certificate type**: documents whose result was ``printed``, per Japanese fiscal year (April to March, on
  the calendar in Japan), with the share of the year's total in % (one decimal, rounded half up, as the seed);
- **per terminal**: the same count per kiosk id, with its share;
- **fees**: per fiscal year and kiosk, the ledger's transactions, fees earned, refunds owed and the net;
- **電子申請** (the seed's 〈電子申請の利用件数〉): e-applications taken, per application and channel (``kiosk``;
  ``pc`` where a city's web applications are loaded into the same table), per fiscal year.  An application's
  receipt is a document of the issuance log but not a certificate: it is left out of the certificate tables.

``kiosk-server report --format md|csv [--fiscal-year Y]`` prints it.  Only ids and counts: no personal data.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from certs.catalog import CATALOG, CertificateType
from server.ledger import business_day
from server.models_admin import IssuanceLogEntry, LedgerEntry
from server.models_applications import Application

ISSUED = "printed"
RECEIPT = "application_receipt"  # certs.services.DocumentKind.APPLICATION_RECEIPT: not a certificate
CHANNELS = {"kiosk": "端末", "pc": "パソコン"}


def fiscal_year(day: date) -> int:
    """The Japanese fiscal year (年度) a day in Japan belongs to: FY2024 runs 2024-04-01 to 2025-03-31."""
    return day.year if day.month >= 4 else day.year - 1


def era_label(year: int) -> str:
    """FY2024 → 令和6年度; FY2010 → 平成22年度 (the seed's way of naming years)."""
    era, number = ("令和", year - 2018) if year >= 2019 else ("平成", year - 1988)
    return f"{era}{'元' if number == 1 else number}年度"


def share(count: int, total: int) -> str:
    if total == 0:
        return "0.0"
    return str((Decimal(count) * 100 / Decimal(total)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def certificate_label(code: str) -> str:
    try:
        return CATALOG[CertificateType(code)].name_ja
    except ValueError:
        return code


@dataclass
class Statistics:
    years: list[int] = field(default_factory=list)
    by_type: Counter = field(default_factory=Counter)  # (fy, certificate) -> documents
    by_kiosk: Counter = field(default_factory=Counter)  # (fy, kiosk) -> documents
    fees: dict = field(default_factory=dict)  # (fy, kiosk) -> [transactions, earned, refunded]
    applications: Counter = field(default_factory=Counter)  # (fy, service, channel) -> applications

    def year_total(self, year: int) -> int:
        return sum(n for (fy, _), n in self.by_type.items() if fy == year)

    def certificates(self) -> list[str]:
        """The catalogue's order first, then any other code the log holds."""
        seen = {c for _, c in self.by_type}
        known = [t.value for t in CertificateType if t.value in seen]
        return known + sorted(seen - set(known))

    def kiosks(self) -> list[str]:
        return sorted({k for _, k in self.by_kiosk} | {k for _, k in self.fees})


def collect(db: Session, only_year: int | None = None) -> Statistics:
    stats = Statistics()
    rows = db.execute(select(IssuanceLogEntry.recorded_at, IssuanceLogEntry.certificate, IssuanceLogEntry.kiosk_id)
                      .where(IssuanceLogEntry.outcome == ISSUED).execution_options(yield_per=1000))
    for recorded_at, certificate, kiosk in rows:
        moment = datetime.fromisoformat(recorded_at).replace(tzinfo=None)  # stored as UTC
        year = fiscal_year(business_day(moment))
        if certificate != RECEIPT and (only_year is None or year == only_year):
            stats.by_type[(year, certificate)] += 1
            stats.by_kiosk[(year, kiosk)] += 1
    ledger_rows = db.execute(select(LedgerEntry.business_day, LedgerEntry.kiosk_id, LedgerEntry.fee_earned,
                                    LedgerEntry.refunded).execution_options(yield_per=1000))
    for day, kiosk, earned, refunded in ledger_rows:
        year = fiscal_year(day)
        if only_year is None or year == only_year:
            totals = stats.fees.setdefault((year, kiosk), [0, 0, 0])
            totals[0] += 1
            totals[1] += earned
            totals[2] += refunded
    for received_at, service, channel in db.execute(select(Application.received_at, Application.service,
                                                           Application.channel)):
        year = fiscal_year(business_day(received_at))
        if only_year is None or year == only_year:
            stats.applications[(year, service, channel)] += 1
    stats.years = sorted({fy for fy, _ in stats.by_type} | {fy for fy, _ in stats.fees}
                         | {fy for fy, _, _ in stats.applications}
                         | ({only_year} if only_year is not None else set()))
    return stats


def _rows_by(stats: Statistics, counter: Counter, keys: list[str], label) -> list[list]:
    """[label, count, share, count, share, …] per key, then the total row."""
    rows = []
    for key in keys:
        row = [label(key)]
        for year in stats.years:
            row += [counter[(year, key)], share(counter[(year, key)], stats.year_total(year))]
        rows.append(row)
    total = ["合計 total"]
    for year in stats.years:
        total += [stats.year_total(year), "100.0" if stats.year_total(year) else "0.0"]
    return rows + [total]


def render_markdown(stats: Statistics) -> str:
    header = "".join(f" FY{y} {era_label(y)} 件数 | 割合 % |" for y in stats.years)
    rule = "|---|" + "---:|---:|" * len(stats.years)
    out = ["# Kiosk issuance statistics", "",
           "Certificates printed at the kiosks (result `printed`), by Japanese fiscal year (April–March, JST).", "",
           "## 証明書の種類別 — by certificate type", "", f"| 証明書の種類 |{header}", rule]
    out += ["| " + " | ".join(str(v) for v in row) + " |"
            for row in _rows_by(stats, stats.by_type, stats.certificates(), certificate_label)]
    out += ["", "## 端末別 — per terminal", "", f"| 端末 |{header}", rule]
    out += ["| " + " | ".join(str(v) for v in row) + " |"
            for row in _rows_by(stats, stats.by_kiosk, sorted({k for _, k in stats.by_kiosk}), str)]
    out += ["", "## 手数料 — fees from the ledger (yen)", "",
            "| fiscal year | terminal | transactions | fees earned | refunded | net |", "|---|---|---:|---:|---:|---:|"]
    for year in stats.years:
        for kiosk in stats.kiosks():
            if (year, kiosk) in stats.fees:
                n, earned, refunded = stats.fees[(year, kiosk)]
                out.append(f"| FY{year} | {kiosk} | {n} | {earned} | {refunded} | {earned - refunded} |")
        n, earned, refunded = (sum(v[i] for (fy, _), v in stats.fees.items() if fy == year) for i in range(3))
        out.append(f"| FY{year} | **total** | {n} | {earned} | {refunded} | {earned - refunded} |")
    out += ["", "## 電子申請の利用件数 — e-applications by channel", "",
            "| 申請 | 経路 |" + "".join(f" FY{y} {era_label(y)} |" for y in stats.years),
            "|---|---|" + "---:|" * len(stats.years)]
    for service, channel in sorted({(s, c) for _, s, c in stats.applications}):
        counts = "".join(f" {stats.applications[(y, service, channel)]} |" for y in stats.years)
        out.append(f"| {service} | {CHANNELS.get(channel, channel)} |{counts}")
    totals = "".join(f" {sum(n for (fy, _, _), n in stats.applications.items() if fy == y)} |" for y in stats.years)
    out.append(f"| 合計 total | |{totals}")
    return "\n".join(out) + "\n"


def render_csv(stats: Statistics) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "fiscal_year", "key", "label", "count", "share_percent", "transactions",
                     "fees_earned", "refunded", "net"])
    for year in stats.years:
        total = stats.year_total(year)
        for code in stats.certificates():
            n = stats.by_type[(year, code)]
            writer.writerow(["by_certificate", year, code, certificate_label(code), n, share(n, total), "", "", "", ""])
        writer.writerow(["by_certificate", year, "total", "合計", total, "100.0" if total else "0.0", "", "", "", ""])
        for kiosk in sorted({k for _, k in stats.by_kiosk}):
            n = stats.by_kiosk[(year, kiosk)]
            writer.writerow(["by_terminal", year, kiosk, kiosk, n, share(n, total), "", "", "", ""])
        for kiosk in stats.kiosks():
            if (year, kiosk) in stats.fees:
                n, earned, refunded = stats.fees[(year, kiosk)]
                writer.writerow(["fees", year, kiosk, kiosk, "", "", n, earned, refunded, earned - refunded])
        for (fy, service, channel), n in sorted(stats.applications.items()):
            if fy == year:
                writer.writerow(["applications", year, f"{service}:{channel}", CHANNELS.get(channel, channel), n,
                                 "", "", "", "", ""])
    return out.getvalue()


def report(db: Session, fmt: str, only_year: int | None = None) -> str:
    stats = collect(db, only_year)
    return render_csv(stats) if fmt == "csv" else render_markdown(stats)
