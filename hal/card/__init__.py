"""Card reader: the My Number card's JPKI application and the municipal citizen card.

``contract.py`` (the contract), ``sim.py`` (the simulator), ``pcsc.py`` (the real driver, pyscard over pcscd, with
``apdu.py`` and ``jpki.py``), ``vcard/`` (a virtual card served to pcscd through vpcd: the driver's test peer and a
desktop demo).
"""
from hal.card.contract import (  # noqa: F401
    CardError, CardKind, CardPlaced, CardReader, CardRemoved, CardRemovedError, Pin, PinBlockedError,
    PinResult, ReaderState, ReaderStateChanged, DIGEST_INFO_SHA256_PREFIX, digest_info_sha256,
)
