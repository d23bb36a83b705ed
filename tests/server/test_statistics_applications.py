"""The statistics report's 電子申請 table: applications per application and channel and fiscal year; a receipt in
the issuance log is not counted as a certificate."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from server import issuance_log
from server.db import open_database
from server.models_applications import Application
from tests.server.test_statistics import run_report
from tests.support.server_process import write_config_variant


@pytest.fixture(scope="module")
def config(dev_dir, tmp_path_factory):
    database = tmp_path_factory.mktemp("stats-apps") / "apps.db"
    sessions = open_database(f"sqlite:///{database}")
    last_of_fy2023, first_of_fy2024 = datetime(2024, 3, 31, 14, 59, 59), datetime(2024, 3, 31, 15, 0, 0)  # UTC
    rows = [(last_of_fy2023, "bulky_waste", "kiosk"), (first_of_fy2024, "bulky_waste", "kiosk"),
            (first_of_fy2024, "bulky_waste", "pc"), (first_of_fy2024, "water_notice", "kiosk")]
    with sessions() as db:
        for n, (moment, service, channel) in enumerate(rows):
            db.add(Application(application_no=f"E-{n}", transaction_id=f"{n:032x}", service=service, channel=channel,
                               kiosk_id="kiosk-a", resident_id="R0001", district="south",
                               service_date=date(2024, 4, 10), answers_json="{}", total_fee=0, payment="none",
                               received_at=moment))
            issuance_log.append(db, recorded_at=moment, kiosk_id="kiosk-a", transaction_id=f"{n:032x}",
                                subject_ref="0" * 16, outcome="printed",
                                documents=[issuance_log.LogDocument(f"doc-{n}", "application_receipt", 1, f"{n:064x}")])
        db.commit()
    sessions.kw["bind"].dispose()
    return write_config_variant(dev_dir, "stats-apps", database=str(database))


def test_applications_by_channel_and_fiscal_year(config):
    text = run_report(config)
    assert "## 電子申請の利用件数 — e-applications by channel" in text
    assert "| bulky_waste | 端末 | 1 | 1 |" in text and "| bulky_waste | パソコン | 0 | 1 |" in text
    assert "| 合計 total | | 1 | 3 |" in text
    rows = list(csv.DictReader(io.StringIO(run_report(config, "--format", "csv"))))
    assert not [r for r in rows if r["section"] == "by_certificate" and r["key"] == "application_receipt"]
    apps = {(r["fiscal_year"], r["key"]): r["count"] for r in rows if r["section"] == "applications"}
    assert apps == {("2023", "bulky_waste:kiosk"): "1", ("2024", "bulky_waste:kiosk"): "1",
                    ("2024", "bulky_waste:pc"): "1", ("2024", "water_notice:kiosk"): "1"}
