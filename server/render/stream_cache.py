"""Compress each distinct PDF stream once per process.

Every certificate carries streams that are the same in every PDF: the background form (30 kB of operators) and
the seal.  reportlab deflates each stream of each document afresh; this wraps its Flate filter with a small
content-addressed cache, so identical bytes are compressed once.
The output is byte for byte what zlib would produce, so documents are unchanged.
"""
from __future__ import annotations

import functools
import hashlib
import zlib
from collections import OrderedDict

from reportlab.pdfbase import pdfdoc

_MIN_SIZE = 2048  # smaller streams are cheaper to compress than to look up
_ENTRIES = 32


@functools.cache
def install() -> None:
    cache: OrderedDict[bytes, bytes] = OrderedDict()

    def encode(self, text):
        if isinstance(text, str):
            text = text.encode("utf8")
        if len(text) < _MIN_SIZE:
            return zlib.compress(text)
        key = hashlib.blake2b(text, digest_size=20).digest()
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = zlib.compress(text)
            if len(cache) > _ENTRIES:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return hit

    pdfdoc.PDFStreamFilterZCompress.encode = encode
