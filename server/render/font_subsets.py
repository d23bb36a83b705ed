"""Font subsets that are the same in every certificate, built and compressed once per process.

reportlab embeds each TrueType font as subsets of up to 256 glyphs, numbering characters in the order a document
first uses them.  Every certificate would then carry its own subsets, and building (slicing the glyph tables),
compressing and describing them (widths, ToUnicode map) cost more than half of a one-page certificate's CPU.

So each document first reserves, in a fixed order, the characters of its certificate type's furniture (title,
statement, labels, era names, the city and its mayor): they fill the first subset of each font, which is
therefore the same glyph list in every document of that type, and :class:`SubsetCachingFont` builds its font
program, compressed streams and widths once per process (memoised by the exact code tuple).  A document's own
characters (names, addresses) start the next subset, which stays small and is built per document as before.
The reserved glyphs are embedded whether a document uses them or not (a few options' words); the text and its
positions are unchanged.
"""
from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass

from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import FF_NONSYMBOLIC, FF_SYMBOLIC, SUBSETN, TTFont, makeToUnicodeCMap

from certs.catalog import CertificateType
from server.render.reportlab_tuning import Deflated

SUBSET_SIZE = 256
# Per certificate type, (mincho, gothic): the characters of its fixed text, in code point order.  Mincho: what
# the type prints with every field of its content empty (title, statement, era names, 「以下余白」, 「（省略）」),
# plus the address words (県市区町村丁目番地号), 男女 where it prints the sex, and the commonest relationships;
# the city's and mayor's names are reserved after these.  Gothic: every label, header and footer character of
# the type (resident data is never gothic).
# A character missing here only costs its document a glyph in its own subset; one listed needlessly, a glyph of
# embedded font.
FURNITURE: dict[CertificateType, tuple[str, str]] = {
    CertificateType.RESIDENCE_RECORD_COPY: (
        "　、。いくこしすとなにのはるを丁下世主之令以住余全写区印原号和員地夫女妻子市帯平年成日明昭月本村次民男町略番白目"
        "相省県票続証違長頁（）",
        "　。あがきけこすたっでとなにのはまめりるをんカコド・ー世主二住元写出分別制前区右号名国在地域定届帯年従性所日明景"
        "書月期本条柄格次氏民法生留番発確第筆等籍紋続者背行複規証認資間頁頭／"),
    CertificateType.RESIDENCE_RECORD_ITEMS: (
        "　。いおこさすてとにのりるれを丁上下之事令以住余区印号和地女市平年成日明昭書月村民男町番白目県票記証載長項",
        "　。あがきけこすたでにのはまめりをんコドー世主二住使元写別制右号名地定帯年性所日明景書月柄次氏生用番発的目確紋続"
        "背行複証認頁／"),
    CertificateType.SEAL_REGISTRATION: (
        "　、。いこさしすてとなのはるれを丁下之令以余写区印号和地女市年影日明昭書月村男町番登白目相県証違録鑑長",
        "　。あがきけこすでにのはまりをんコドー二住元写別制印右号名地年影性所日明景書月次氏生番発登確紋背行複証認録鑑頁／"),
    CertificateType.FAMILY_REGISTER_ALL: (
        "　、。【】あいくこさしたてでにのはるれを丁下之事令以余全区印号名和地市平年成戸日明昭書月村柄次母父生町番白目県籍"
        "続記証部録長面頁項（）",
        "　。あいがきけこさすてでにのはまりるれをんコドー事二元写分制右号名地戸明景書本次氏番発確籍紋者背行複記証認身録頁"
        "項／"),
    CertificateType.FAMILY_REGISTER_INDIVIDUAL: (
        "　、。【】あいこさしたつてでにのはるれを一丁下中之事人令以余個区印号名和地市平年成戸日明書月村柄母父生町番白目県"
        "籍続者記証部録長面項",
        "　。あいがきけこさすてでにのはまりるれをんコドー事二元写分制右号名地戸明景書本次氏番発確籍紋者背行複記証認身録頁"
        "項／"),
    CertificateType.FAMILY_REGISTER_ANNEX: (
        "　、。【】いこしすたとなのはめるを丁下之令以住余写別区印原号名和地女定市平年性成戸所日明昭月本村生男町番白目相県"
        "票籍証違長附",
        "　。あいがきけこさすてでにのはまりるれをんコドー二住元写制右号名地履所明景書本次歴氏番発確票籍紋者背行複記証認録"
        "附頁／"),
    CertificateType.RESIDENT_TAX: (
        "　。おすとのりる丁上下之人令以余円分区印号和地市年度得所日明昭書月村民町番白目県税記証課長（）",
        "　。あがきけこすでにのはまりをんコド・ー与二令会住保偶元入写分制割区収右号合名命和在地均基対市年度得所扶控料族日"
        "明景書月次氏民況状現生番発県確礎社税等紋給者背行複親計証認課象配金除険頁額養（）／"),
}


def reserve(doc, font_name: str, text: str) -> None:
    """Give ``text``'s characters the first codes of ``font_name`` in this document (before anything is drawn),
    then start a new subset for whatever the document adds.  Characters past the first subset's room are left
    to the document (so the first subset stays the same glyph list whatever the city's name)."""
    font = pdfmetrics.getFont(font_name)
    if not isinstance(font, TTFont):
        return
    state = font._assignState(doc)
    if state.frozen or state.nextCode >= SUBSET_SIZE:
        return
    room = _room(state)
    fresh = [c for c in dict.fromkeys(text) if ord(c) not in state.assignments and ord(c) in font.face.charToGlyph]
    if fresh[:room]:
        font.splitString("".join(fresh[:room]), doc)
    state.nextCode = max(state.nextCode, SUBSET_SIZE)  # the document's own characters: the next subset


def _room(state) -> int:
    """Codes left in subset 0 (reportlab fills 1-31, skips ASCII, then 128-255; 32 always stays a space)."""
    code = state.nextCode
    return (32 - code + 128) if code < 32 else max(0, SUBSET_SIZE - code)


class _Preformatted(pdfdoc.PDFObject):
    """A PDF value whose bytes were formatted once (they depend on nothing in the document)."""

    def __init__(self, data: bytes):
        self.data = data

    def format(self, document) -> bytes:
        return self.data


@dataclass(frozen=True)
class _SubsetParts:
    base_name: str
    widths: _Preformatted
    cmap: bytes
    cmap_deflated: Deflated
    program: bytes
    program_deflated: Deflated


class SubsetCachingFont(TTFont):
    """A TrueType font whose subsets' PDF parts are built once per distinct (subset number, codes) and reused by
    every later document; output is byte for byte what reportlab's own ``addObjects`` writes."""

    _ENTRIES = 16  # first subsets only (a document's own characters are in the later ones, built each time)

    def __init__(self, name, filename, **kwargs):
        super().__init__(name, filename, **kwargs)
        self._parts: OrderedDict[tuple, _SubsetParts] = OrderedDict()
        self._lock = threading.Lock()  # the face reads its font file through one shared position

    def _subset_parts(self, number: int, subset: list[int], doc) -> _SubsetParts:
        key = (number, tuple(subset))
        with self._lock:
            parts = self._parts.get(key)
            if parts is not None:
                self._parts.move_to_end(key)
                return parts
            keep = number == 0
            base_name = b"".join((SUBSETN(number), b"+", self.face.name, self.face.subfontNameX)).decode("pdfdoc")
            widths = pdfdoc.PDFArray(list(map(self.face.getCharWidth, subset))).format(doc)
            cmap = makeToUnicodeCMap(base_name, subset).encode("utf8")
            program = self.face.makeSubset(subset)
        parts = _SubsetParts(base_name, _Preformatted(widths), cmap, Deflated(zlib.compress(cmap)), program,
                             Deflated(zlib.compress(program)))
        if not keep:
            return parts
        with self._lock:
            self._parts[key] = parts
            while len(self._parts) > self._ENTRIES:
                self._parts.popitem(last=False)
        return parts

    def addObjects(self, doc) -> None:  # noqa: N802 - reportlab's name
        if not doc.compression:
            return super().addObjects(doc)
        state = self._assignState(doc)
        state.frozen = 1
        face = self.face
        for number, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(number, doc)[1:]
            parts = self._subset_parts(number, subset, doc)
            font = pdfdoc.PDFTrueTypeFont()
            font.__Comment__ = "Font %s subset %d" % (self.fontName, number)
            font.Name = internal_name
            font.BaseFont = parts.base_name
            font.FirstChar = 0
            font.LastChar = len(subset) - 1
            font.Widths = parts.widths
            cmap = pdfdoc.PDFStream(content=parts.cmap, filters=[parts.cmap_deflated])
            font.ToUnicode = doc.Reference(cmap, "toUnicodeCMap:" + parts.base_name)
            program = pdfdoc.PDFStream(content=parts.program, filters=[parts.program_deflated])
            program.dictionary["Length1"] = len(parts.program)
            program_ref = doc.Reference(program, "fontFile:%s(%s)" % (face.filename, parts.base_name))
            flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC
            descriptor = pdfdoc.PDFDictionary({
                "Type": "/FontDescriptor", "Ascent": face.ascent, "CapHeight": face.capHeight,
                "Descent": face.descent, "Flags": flags, "FontBBox": pdfdoc.PDFArray(face.bbox),
                "FontName": pdfdoc.PDFName(parts.base_name), "ItalicAngle": face.italicAngle, "StemV": face.stemV,
                "FontFile2": program_ref, "MissingWidth": face.defaultWidth})
            font.FontDescriptor = doc.Reference(descriptor, "fontDescriptor:" + parts.base_name)
            doc.Reference(font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = font
        del self.state[doc]

