"""The font subsets built once per process: the first subset of each font is the same glyph list in every
certificate of a type (the furniture), a resident's own characters go to a later subset, and the cached parts
write exactly what reportlab's own subset writer would."""
from __future__ import annotations

import dataclasses
import re
import zlib

import pypdfium2 as pdfium
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.pdfbase.ttfonts import TTFont

from certs.catalog import CertificateType
from server.render.content import DocumentIdentity
from server.render.documents import render_certificate
from server.render.font_subsets import FURNITURE, SubsetCachingFont
from tests.server.document_samples import HEAD, ISSUER, RESIDENCE, SAMPLES

KEY = Ed25519PrivateKey.generate()
KIND = CertificateType.RESIDENCE_RECORD_COPY


def _record(name: str):
    return dataclasses.replace(RESIDENCE, persons=(dataclasses.replace(HEAD, name=name),), household_scope=False)


def _render(content, kind=KIND) -> bytes:
    return render_certificate(content, ISSUER, DocumentIdentity("5a" * 16, "c3" * 16, "doc-" + "1" * 32, kind),
                              KEY).pdf


def _font_programs(pdf: bytes) -> dict[str, bytes]:
    """Subset name (e.g. AAAAAA+IPAexMincho) -> its decompressed embedded font program."""
    objects = {int(m.group(1)): m.group(2) for m in re.finditer(rb"\n(\d+) 0 obj\n(.*?)\nendobj", pdf, re.S)}
    programs = {}
    for body in objects.values():
        if b"/Type /FontDescriptor" in body:
            name = re.search(rb"/FontName /(\S+)", body).group(1).decode()
            data = objects[int(re.search(rb"/FontFile2 (\d+) 0 R", body).group(1))]
            programs[name] = zlib.decompress(data.split(b"stream\n", 1)[1].rsplit(b"endstream", 1)[0])
    return programs


def test_first_subsets_are_the_same_glyphs_in_every_certificate_and_the_names_are_in_a_later_one():
    first, second = _render(_record("岡崎 麟太郎")), _render(_record("薮内 鷲子"))
    a, b = _font_programs(first), _font_programs(second)
    assert {"AAAAAA+IPAexMincho", "AAAAAA+IPAexGothic"} <= a.keys()
    assert a["AAAAAA+IPAexMincho"] == b["AAAAAA+IPAexMincho"]
    assert a["AAAAAA+IPAexGothic"] == b["AAAAAA+IPAexGothic"]
    assert a["AAAAAB+IPAexMincho"] != b["AAAAAB+IPAexMincho"]  # each name's own glyphs
    for pdf, name in ((first, "岡崎 麟太郎"), (second, "薮内 鷲子")):
        assert name in pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range()


def test_cached_subsets_write_exactly_what_reportlab_writes(monkeypatch):
    contents = [(kind, content) for kind, content in SAMPLES.items()] + [(KIND, _record("岡崎 麟太郎"))]
    cached = [_render(content, kind) for kind, content in contents]
    cached_again = [_render(content, kind) for kind, content in contents]  # served from the cache
    monkeypatch.setattr(SubsetCachingFont, "addObjects", TTFont.addObjects)
    plain = [_render(content, kind) for kind, content in contents]
    assert cached == plain
    assert cached_again == plain


def test_every_type_has_its_furniture_and_every_list_fits_one_subset():
    assert FURNITURE.keys() == set(CertificateType)
    for mincho, gothic in FURNITURE.values():
        reserved = mincho + ISSUER.city + ISSUER.mayor + ISSUER.city + "長之印"
        assert len(set(reserved)) <= 159 and len(set(gothic)) <= 159  # beside ASCII in subset 0
        assert all(ord(c) > 127 for c in mincho + gothic)
