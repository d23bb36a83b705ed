"""The statistics report (``kiosk-server report``): the seed's tables by certificate type and fiscal year with
shares in %, per terminal, and fees, from synthetic log and ledger rows on both sides of a fiscal-year end."""
from __future__ import annotations

import contextlib
import csv
import io
from datetime import date, datetime

import pytest

from server import issuance_log, ledger
from server.cli import main as cli
from server.db import open_database
from server.statistics import era_label, fiscal_year, share
from tests.support.server_process import write_config_variant

# The seed's 〈行政サービス端末で発行された証明書の内訳〉, 平成19-22年度: counts and the shares it printed.
SEED = {
    2007: ([1388, 450, 11379, 353, 171, 12755, 96], ["5.2", "1.7", "42.8", "1.3", "0.6", "48.0", "0.4"]),
    2008: ([3146, 981, 27976, 912, 301, 30008, 241], ["5.0", "1.5", "44.0", "1.4", "0.5", "47.2", "0.4"]),
    2009: ([3883, 1238, 35869, 1126, 339, 38753, 328], ["4.8", "1.5", "44.0", "1.4", "0.4", "47.5", "0.4"]),
    2010: ([4378, 1575, 40395, 1278, 262, 43031, 331], ["4.8", "1.7", "44.3", "1.4", "0.3", "47.2", "0.3"]),
}


def test_shares_reproduce_the_seed_table():
    """26 of the seed's 28 shares come out exactly (one decimal, half up).  The two others are the seed's own:
    平成20年度 戸籍全部 4.949 % printed 5.0 (rounded twice, via 4.95), and 平成22年度 登録原票 0.363 % printed 0.3
    (moved down so that the column adds up to 100.0).  We print what the counts say."""
    differ = set()
    for year, (counts, shares) in SEED.items():
        for n, (count, printed) in enumerate(zip(counts, shares)):
            ours = share(count, sum(counts))
            assert abs(float(ours) - float(printed)) <= 0.1 + 1e-9
            if ours != printed:
                differ.add((year, n, ours))
    assert differ == {(2008, 0, "4.9"), (2010, 6, "0.4")}
    assert era_label(2010) == "平成22年度" and era_label(2019) == "令和元年度" and era_label(2024) == "令和6年度"


def test_fiscal_year_runs_april_to_march():
    assert [fiscal_year(date(2025, 3, 31)), fiscal_year(date(2025, 4, 1)), fiscal_year(date(2025, 12, 31))] == \
        [2024, 2025, 2025]
    assert share(1, 16) == "6.3" and share(0, 0) == "0.0"  # half up, as the seed rounds


def _document(n: int, certificate: str) -> issuance_log.LogDocument:
    return issuance_log.LogDocument(f"doc-{n:04d}", certificate, 1, f"{n:064x}")


@pytest.fixture(scope="module")
def synthetic(dev_dir, tmp_path_factory):
    """Log and ledger rows around the end of FY2023: 2024-03-31 23:59:59 JST is FY2023, one second later FY2024."""
    database = tmp_path_factory.mktemp("stats") / "stats.db"
    sessions = open_database(f"sqlite:///{database}")
    last_of_fy2023, first_of_fy2024 = datetime(2024, 3, 31, 14, 59, 59), datetime(2024, 3, 31, 15, 0, 0)  # UTC
    rows = [(last_of_fy2023, "kiosk-a", "residence_record_copy", "printed"),
            (last_of_fy2023, "kiosk-a", "residence_record_copy", "printed"),
            (last_of_fy2023, "kiosk-a", "residence_record_copy", "printed"),
            (last_of_fy2023, "kiosk-b", "seal_registration", "printed"),
            (last_of_fy2023, "kiosk-b", "seal_registration", "failed"),  # not an issuance
            (first_of_fy2024, "kiosk-a", "residence_record_copy", "printed"),
            (first_of_fy2024, "kiosk-b", "family_register_all", "printed"),
            (first_of_fy2024, "kiosk-b", "family_register_all", "refunded")]
    with sessions() as db:
        for n, (moment, kiosk, certificate, outcome) in enumerate(rows):
            txn = f"{n:032x}"
            issuance_log.append(db, recorded_at=moment, kiosk_id=kiosk, transaction_id=txn, subject_ref="0" * 16,
                                outcome=outcome, documents=[_document(n, certificate)])
            earned = 300 if outcome == "printed" else 0
            ledger.record(db, transaction_id=txn, kiosk_id=kiosk, outcome=outcome, certificate=certificate,
                          documents=1, total_fee=300, fee_earned=earned, refunded=300 - earned, recorded_at=moment)
        db.commit()
    sessions.kw["bind"].dispose()
    return write_config_variant(dev_dir, "stats", database=str(database))


def run_report(config, *args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli(["report", "--config", str(config), *args]) == 0
    return out.getvalue()


def test_csv_report_counts_by_type_terminal_and_fiscal_year(synthetic):
    rows = [r for r in csv.DictReader(io.StringIO(run_report(synthetic, "--format", "csv")))]
    table = {(r["section"], r["fiscal_year"], r["key"]): r for r in rows}

    def counted(section, year, key):
        return table[(section, year, key)]["count"], table[(section, year, key)]["share_percent"]

    assert counted("by_certificate", "2023", "residence_record_copy") == ("3", "75.0")
    assert counted("by_certificate", "2023", "seal_registration") == ("1", "25.0")
    assert counted("by_certificate", "2023", "total") == ("4", "100.0")
    assert counted("by_certificate", "2024", "residence_record_copy") == ("1", "50.0")
    assert counted("by_certificate", "2024", "family_register_all") == ("1", "50.0")
    assert counted("by_certificate", "2024", "seal_registration") == ("0", "0.0")
    assert counted("by_terminal", "2023", "kiosk-a") == ("3", "75.0")
    assert counted("by_terminal", "2024", "kiosk-b") == ("1", "50.0")
    fees = {(r["fiscal_year"], r["key"]): (r["transactions"], r["fees_earned"], r["refunded"], r["net"])
            for r in rows if r["section"] == "fees"}
    assert fees == {("2023", "kiosk-a"): ("3", "900", "0", "900"), ("2023", "kiosk-b"): ("2", "300", "300", "0"),
                    ("2024", "kiosk-a"): ("1", "300", "0", "300"), ("2024", "kiosk-b"): ("2", "300", "300", "0")}
    assert table[("by_certificate", "2023", "residence_record_copy")]["label"] == "住民票の写し"


def test_markdown_report_and_one_fiscal_year(synthetic):
    text = run_report(synthetic)
    assert "| 証明書の種類 | FY2023 令和5年度 件数 | 割合 % | FY2024 令和6年度 件数 | 割合 % |" in text
    assert "| 住民票の写し | 3 | 75.0 | 1 | 50.0 |" in text
    assert "| 合計 total | 4 | 100.0 | 2 | 100.0 |" in text
    assert "| FY2024 | **total** | 3 | 600 | 300 | 300 |" in text
    only = run_report(synthetic, "--fiscal-year", "2024", "--format", "csv")
    assert {r["fiscal_year"] for r in csv.DictReader(io.StringIO(only))} == {"2024"}
