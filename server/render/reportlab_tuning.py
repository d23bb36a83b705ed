"""Process-wide speed-ups for reportlab's PDF writer.

- Compress each distinct stream once.  Every certificate carries streams that are the same in every PDF: the
  background form (tens of kB of operators) and the seal.  reportlab deflates each stream of each document
  afresh; its Flate filter gets a small content-addressed cache, so identical bytes are compressed once.
- Encode ASCII text as ASCII.  reportlab passes every string of the file (content streams included, about
  190 000 characters a certificate) through its ``extpdfdoc`` charmap codec, which is slow.  For ASCII text
  without the control characters 0x18–0x1F (which that codec refuses) the result is identical to ASCII, so
  such strings take the fast path; anything else goes through the codec as before.
- Binary streams.  reportlab wraps every compressed page and form stream in ASCII85 as well (``useA85``), which
  costs an encoding pass and makes the streams a quarter bigger; PDF streams may be binary (the embedded fonts
  already are), so they are Flate only.  (The two speed-ups above change no byte; this one changes the
  encoding of the page streams, not what they draw.)
"""
from __future__ import annotations

import functools
import hashlib
import re
import zlib
from collections import OrderedDict

from reportlab import rl_config
from reportlab.pdfbase import pdfdoc

_MIN_SIZE = 2048  # smaller streams are cheaper to compress than to look up
_ENTRIES = 32
_NOT_PDFDOC = re.compile("[\x18-\x1f]")


class Deflated:
    """A stream "filter" for bytes compressed once per process (a font subset, the 地紋 form): FlateDecode,
    handing back those bytes whatever content the stream carries (the content they decode to)."""
    pdfname = "FlateDecode"

    def __init__(self, compressed: bytes):
        self.compressed = compressed

    def encode(self, content) -> bytes:
        return self.compressed


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

    codec_encode = pdfdoc.pdfdocEnc

    def pdfdoc_encode(value):
        if isinstance(value, str) and value.isascii() and not _NOT_PDFDOC.search(value):
            return value.encode("ascii")
        return codec_encode(value)

    pdfdoc.PDFStreamFilterZCompress.encode = encode
    pdfdoc.pdfdocEnc = pdfdoc_encode
    rl_config.useA85 = 0
