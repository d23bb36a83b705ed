"""``kiosk-server verify`` checks every page's resident against the issuance record, as the kiosk does (issue #17).

The server with the dev fault ``wrong_subject_page`` signs a set whose first document's last page shows another
resident and names them in its binding line and its page code (both consistent and validly signed); the manifest
names the signed-in resident.  The kiosk refuses to print it; the offline checker must refuse it too.
"""
from __future__ import annotations

import base64
import contextlib
import io
import secrets

import pypdfium2 as pdfium
import pytest

from server.cli import main as cli
from tests.support.server_process import sign_in


@pytest.fixture(scope="module")
def fault_set(fault_server, dev_dir, tmp_path_factory):
    """(the wrong-subject PDF, a good PDF of the same set, the fault server's configuration)."""
    with fault_server.client() as http:
        headers = {"Authorization": f"Bearer {sign_in(http, dev_dir, 'resident-a')['session_token']}"}
        quote = http.post("/v1/quotes", headers=headers,
                          json={"certificate": "residence_record_copy", "options": {}, "copies": 2}).json()
        reply = http.post("/v1/issuances", headers=headers, json={
            "transaction_id": secrets.token_hex(16), "quote_id": quote["quote_id"], "amount_paid": 600})
    assert reply.status_code == 201, reply.text
    base = tmp_path_factory.mktemp("verify-subject")
    paths = []
    for n, document in enumerate(reply.json()["documents"]):
        path = base / f"copy-{n + 1}.pdf"
        path.write_bytes(base64.b64decode(document["pdf"]))
        paths.append(path)
    return paths[0], paths[1], dev_dir / "fault.toml"


def verify(*args) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli(["verify", *map(str, args)])
    return code, out.getvalue()


def test_verify_fails_a_page_bound_to_another_resident(fault_set):
    wrong, _, config = fault_set
    code, report = verify(wrong, "--config", config)
    assert code == 1 and report.startswith("INVALID"), report
    assert "another resident" in report


def test_verify_still_passes_the_good_copy_of_the_same_set(fault_set):
    _, good, config = fault_set
    code, report = verify(good, "--config", config)
    assert code == 0 and report.startswith("VALID"), report
    assert "every page names the resident of the issuance record" in report


def test_a_scan_of_the_wrong_page_fails_against_the_record(fault_set, tmp_path):
    wrong, _, config = fault_set
    document = pdfium.PdfDocument(wrong.read_bytes())
    try:
        image = document[len(document) - 1].render(scale=200 / 72, grayscale=True).to_pil()
    finally:
        document.close()
    scan = tmp_path / "scan.png"
    image.save(scan)
    code, report = verify(scan, "--config", config)
    assert code == 1 and "another resident" in report, report
