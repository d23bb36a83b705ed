"""Helpers for refund slip tests: the printed raster as paper, and a slip code with its payload changed.

    image = paper(render_slip(slip, 640, 203))   # black dots on white, as a reader or camera sees it
    forged = tampered(slip.code, a=3000)          # the same signature over a changed amount
"""
from __future__ import annotations

import base64
import json

import numpy as np
from PIL import Image

from certs.refund_slip import PREFIX
from hal.printer.contract import PageRaster


def paper(raster: PageRaster) -> Image.Image:
    """The raster as it comes out of the printer (black dots on white)."""
    bits = np.unpackbits(np.frombuffer(raster.rows, dtype=np.uint8).reshape(raster.height, raster.row_bytes),
                         axis=1)[:, :raster.width]
    return Image.fromarray(np.where(bits == 1, 0, 255).astype(np.uint8), "L")


def tampered(text: str, **changes) -> str:
    """The slip code with payload fields changed (``a`` amount, ``k`` kiosk, ``i`` time…), signature kept."""
    payload, signature = text[len(PREFIX):].split(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fields.update(changes)
    raw = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + signature
