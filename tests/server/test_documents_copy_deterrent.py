"""The copy-deterrent background: on the printed original 「複写」 is nearly invisible (the same mean tone as
its surround); through a crude photocopier model (blur, then threshold) it stands out."""
from __future__ import annotations

import numpy as np
import pypdfium2 as pdfium
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import ImageFilter
from reportlab.lib.pagesizes import A4

from certs.catalog import CertificateType
from server.render.content import DocumentIdentity
from server.render.documents import render_certificate
from server.render.ground import BASELINES, WORD_SIZE, word_mask
from tests.server.document_samples import ISSUER, SAMPLES

DPI = 200
SCALE = DPI / 72
BLUR_PT = 0.8  # the copier's optics and scanner: detail finer than about 1 pt is lost
THRESHOLD = 0.10  # and a copier prints black wherever the blurred darkness passes its threshold


def _grow(mask: np.ndarray, steps: int) -> np.ndarray:
    grown = mask.copy()
    for _ in range(steps):
        grown = grown | np.roll(grown, 1, 0) | np.roll(grown, -1, 0) | np.roll(grown, 1, 1) | np.roll(grown, -1, 1)
    return grown


def test_latent_word_is_faint_on_the_original_and_shows_on_a_copy():
    kind = CertificateType.SEAL_REGISTRATION  # its lower half is background only, around the third word
    pdf = render_certificate(SAMPLES[kind], ISSUER, DocumentIdentity("1a" * 16, "2b" * 16, "doc-" + "3c" * 16, kind),
                             Ed25519PrivateKey.generate()).pdf
    page = pdfium.PdfDocument(pdf)[0].render(scale=SCALE, grayscale=True).to_pil().convert("L")
    original = 1 - np.asarray(page, dtype=float) / 255
    copy = (1 - np.asarray(page.filter(ImageFilter.GaussianBlur(BLUR_PT * SCALE)), dtype=float) / 255) > THRESHOLD

    glyphs = word_mask(SCALE)[:original.shape[0], :original.shape[1]]
    x, y = BASELINES[2]  # a copy of the word in the certificate's empty lower half
    region = np.zeros_like(glyphs)
    top, bottom = int((A4[1] - y - WORD_SIZE) * SCALE), int((A4[1] - y + 0.2 * WORD_SIZE) * SCALE)
    region[top:bottom, int((x - 10) * SCALE):int((x + 2.1 * WORD_SIZE) * SCALE)] = True
    inside = region & ~_grow(~glyphs, 3)  # well inside the letters
    outside = region & ~_grow(glyphs, 6)  # clear of them
    assert inside.sum() > 20_000 and outside.sum() > 100_000

    tone_in, tone_out = original[inside].mean(), original[outside].mean()
    assert 0.03 < tone_out < 0.12  # a light tint, under the text
    assert abs(tone_in - tone_out) < 0.15 * tone_out  # on the original: the same tone within 15 %

    dark_in, dark_out = copy[inside].mean(), copy[outside].mean()
    assert dark_out < 0.01  # on the copy the background drops out…
    assert dark_in > 0.10 and dark_in > 20 * max(dark_out, 0.001)  # …and the word's lines print: 「複写」 shows
