"""The reportlab speed-ups change nothing in the output: the ASCII fast path encodes exactly as reportlab's
extpdfdoc codec does, and the stream cache returns exactly what zlib returns."""
from __future__ import annotations

import zlib

import pytest
from hypothesis import given, strategies as st
from reportlab.pdfbase import pdfdoc

from server.render.fonts import register_fonts

register_fonts()  # installs the speed-ups
CODEC = "extpdfdoc"


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=200))
def test_ascii_fast_path_matches_the_codec(text):
    try:
        expected = text.encode(CODEC)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            pdfdoc.pdfdocEnc(text)
        return
    assert pdfdoc.pdfdocEnc(text) == expected


def test_non_ascii_text_still_goes_through_the_codec():
    assert pdfdoc.pdfdocEnc("é€") == "é€".encode(CODEC)
    assert pdfdoc.pdfdocEnc(b"bytes stay") == b"bytes stay"


@pytest.mark.parametrize("size", [10, 5000])
def test_stream_cache_returns_what_zlib_returns(size):
    data = bytes(range(256)) * (size // 256 + 1)
    for _ in range(2):  # the second call is served from the cache
        assert pdfdoc.PDFZCompress.encode(data) == zlib.compress(data)
    assert pdfdoc.PDFZCompress.encode(data.decode("latin-1")) == zlib.compress(data.decode("latin-1").encode("utf8"))


def test_background_form_built_once_is_what_reportlab_writes(monkeypatch):
    """The copy-deterrent form's stream is encoded and compressed once per process; a certificate comes out byte
    for byte as when reportlab builds the form itself (beginForm, the operators, endForm)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from reportlab.lib.pagesizes import A4

    from certs.catalog import CertificateType
    from server.render import furniture, ground
    from server.render.content import DocumentIdentity
    from server.render.documents import render_certificate
    from tests.server.document_samples import ISSUER, SAMPLES

    def reportlab_form(canvas):
        canvas.beginForm(ground.FORM_NAME, lowerx=0, lowery=0, upperx=A4[0], uppery=A4[1])
        canvas._code.append(ground.operators())
        canvas.endForm()
        return ground.FORM_NAME

    key, kind = Ed25519PrivateKey.generate(), CertificateType.SEAL_REGISTRATION
    identity = DocumentIdentity("ab" * 16, "cd" * 16, "doc-" + "1" * 32, kind)
    once = [render_certificate(SAMPLES[kind], ISSUER, identity, key).pdf for _ in range(2)]
    monkeypatch.setattr(furniture, "define_ground", reportlab_form)
    assert once == [render_certificate(SAMPLES[kind], ISSUER, identity, key).pdf] * 2
