"""print_verified and rasterise: verified pages reach the (simulated) paper exactly, and faults stop the job."""
import asyncio

import numpy as np
import pytest
from PIL import Image

from certs.envelope import DocumentRejected, RejectReason
from firmware.printing import PrintReport, print_verified, verify_documents
from firmware.rasterise import rasterise
from hal.printer.contract import PrinterState
from hal.printer.sim import SimPrinter
from tests.support.documents import make_envelope


def verified_set(test_envelope):
    return verify_documents(test_envelope.envelope, test_envelope.trusted_keys, test_envelope.transaction_id,
                            test_envelope.subject_ref)


def raster_bits(raster) -> np.ndarray:
    packed = np.frombuffer(raster.rows, dtype=np.uint8).reshape(raster.height, raster.row_bytes)
    return np.unpackbits(packed, axis=1)[:, :raster.width].astype(bool)


def print_with(printer: SimPrinter, verified, before=None):
    journal = []

    async def scenario():
        await printer.start(lambda event: asyncio.sleep(0))
        if before is not None:
            await before(printer)
        return await print_verified(verified, printer, on_page_printed=lambda doc, page: journal.append((doc, page)))

    return asyncio.run(scenario()), journal


def test_rasterise_fits_an_a4_page_into_the_printable_width_at_the_printer_resolution():
    good = make_envelope((2,))
    (document_id, pdf), = good.pdfs.items()
    raster = rasterise(pdf, 1, 203, 1680, document_id=document_id)
    assert raster.label == f"{document_id} p2/2"
    assert raster.dpi == 203 and 1670 <= raster.width <= 1680
    assert abs(raster.height - 297 / 25.4 * 203) < 3  # A4 height at 203 dpi, not stretched
    ink = raster_bits(raster).mean()
    assert 0.002 < ink < 0.2  # text, not a blank or black page
    narrow = rasterise(pdf, 0, 203, 832)
    assert narrow.width <= 832 and abs(narrow.height / narrow.width - 297 / 210) < 0.01


def test_a_good_envelope_prints_every_page_as_the_exact_raster(tmp_path):
    good = make_envelope((2, 1))
    verified = verified_set(good)
    printer = SimPrinter(out_dir=tmp_path)
    report, journal = print_with(printer, verified)

    assert report == PrintReport(pages_total=3, pages_printed=3, fault=None) and report.complete
    doc1, doc2 = (d.document_id for d in good.manifest.documents)
    assert journal == [(doc1, 1), (doc1, 2), (doc2, 1)]
    assert [p.label for p in printer.pages] == [f"{doc1} p1/2", f"{doc1} p2/2", f"{doc2} p1/1"]
    assert printer.cuts == 3  # one per sheet
    for page, (document, index) in zip(printer.pages, [(0, 0), (0, 1), (1, 0)]):
        expected = rasterise(verified.documents[document].pdf, index, 203, 1680)
        with Image.open(page.path) as png:
            assert png.size == (expected.width, expected.height)
            assert np.array_equal(~np.array(png, dtype=bool), raster_bits(expected))
    assert asyncio.run(printer.status()).document_waiting


def test_a_page_bound_to_another_resident_never_reaches_the_printer(tmp_path):
    """The controller's order: verify the whole set, then print.  Page 2 is someone else's, so page 1 (which
    is fine) does not print either."""
    broken = make_envelope((2,), other_subject_on=(0, 2))
    printer = SimPrinter(out_dir=tmp_path)

    async def visit():
        await printer.start(lambda event: asyncio.sleep(0))
        verified = await asyncio.to_thread(verified_set, broken)
        return await print_verified(verified, printer)

    with pytest.raises(DocumentRejected) as caught:
        asyncio.run(visit())
    assert caught.value.reason is RejectReason.PAGE_BINDING_MISMATCH
    assert broken.subject_ref not in str(caught.value)
    assert printer.pages == [] and list(tmp_path.iterdir()) == [] and b"\x1dv0" not in printer.raw


def test_paper_out_in_the_middle_of_page_two_reports_one_page_printed():
    verified = verified_set(make_envelope((3,)))
    printer = SimPrinter()

    async def paper_runs_out_in_page_two(p):
        # page 1 is the full A4 height; the paper ends 500 rows into page 2
        await p.paper_out(after_rows=rasterise(verified.documents[0].pdf, 0, 203, 1680).height + 500)

    report, journal = print_with(printer, verified, before=paper_runs_out_in_page_two)
    assert report.pages_total == 3 and report.pages_printed == 1
    assert report.fault.state is PrinterState.PAPER_OUT and not report.complete
    assert journal == [(verified.documents[0].document_id, 1)]
    assert [p.partial for p in printer.pages] == [False, True]
    assert printer.pages[1].image.size[1] == 500
    assert printer.cuts == 1  # page 1 was cut and presented; nothing after the fault


@pytest.mark.parametrize("fault, state", [
    ("open_cover", PrinterState.COVER_OPEN),
    ("paper_out", PrinterState.PAPER_OUT),
    ("go_offline", PrinterState.OFFLINE),
    ("jam", PrinterState.JAMMED),
])
def test_a_printer_that_cannot_print_gets_no_page(fault, state):
    verified = verified_set(make_envelope((2,)))
    printer = SimPrinter()

    async def break_it(p):
        await getattr(p, fault)()

    report, journal = print_with(printer, verified, before=break_it)
    assert report == PrintReport(2, 0, report.fault) and report.fault.state is state
    assert printer.pages == [] and journal == [] and b"\x1dv0" not in printer.raw


def test_a_cover_opened_after_a_sheet_stops_the_job_before_the_next_page():
    verified = verified_set(make_envelope((1, 1)))
    printer = SimPrinter()
    journal = []

    async def scenario():
        await printer.start(lambda event: asyncio.sleep(0))

        async def page_printed(document_id, page_no):  # an async callback is awaited
            journal.append((document_id, page_no))
            await printer.open_cover()  # staff open the cover right after the first sheet

        return await print_verified(verified, printer, on_page_printed=page_printed)

    report = asyncio.run(scenario())
    assert report.pages_printed == 1 and report.fault.state is PrinterState.COVER_OPEN
    assert len(printer.pages) == 1 and len(journal) == 1 and printer.cuts == 1


@pytest.mark.parametrize("pages", [1, 3])
def test_a_last_page_whose_cut_fails_is_not_printed(pages):
    """The sheet hangs uncut in the printer: the resident has not got it, so it is neither counted nor charged."""
    verified = verified_set(make_envelope((pages,)))
    printer = SimPrinter()
    journal = []

    async def scenario():
        await printer.start(lambda event: asyncio.sleep(0))

        async def page_printed(document_id, page_no):
            journal.append(page_no)
            if page_no == pages - 1:  # the cutter fails at the next (the last) sheet
                await printer.fail_cut()

        if pages == 1:
            await printer.fail_cut()
        return await print_verified(verified, printer, on_page_printed=page_printed)

    report = asyncio.run(scenario())
    assert report == PrintReport(pages, pages - 1, report.fault) and not report.complete
    assert report.fault.state is PrinterState.JAMMED
    assert journal == list(range(1, pages)) and printer.cuts == pages - 1 and len(printer.pages) == pages


def test_a_journal_that_fails_stops_printing():
    verified = verified_set(make_envelope((2,)))
    printer = SimPrinter()

    def journal_full(document_id, page_no):
        raise OSError("disk full")

    async def scenario():
        await printer.start(lambda event: asyncio.sleep(0))
        await print_verified(verified, printer, on_page_printed=journal_full)

    with pytest.raises(OSError):
        asyncio.run(scenario())
    assert len(printer.pages) == 1


def test_only_a_verified_set_is_printed():
    good = make_envelope((1,))
    printer = SimPrinter()
    with pytest.raises(TypeError):
        asyncio.run(print_verified(good.envelope, printer))
    assert printer.pages == []


def test_rasterisation_runs_in_a_worker_thread_not_on_the_event_loop(monkeypatch):
    import threading

    import firmware.printing

    verified = verified_set(make_envelope((1,)))
    threads = []

    def recording_rasterise(*args, **kwargs):
        threads.append(threading.current_thread())
        return rasterise(*args, **kwargs)

    monkeypatch.setattr(firmware.printing, "rasterise", recording_rasterise)
    report, _ = print_with(SimPrinter(), verified)
    assert report.complete and threads and threading.main_thread() not in threads
