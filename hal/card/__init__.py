"""Card reader: the My Number card's JPKI application and the municipal citizen card."""
from hal.card.contract import (  # noqa: F401
    CardError, CardKind, CardPlaced, CardReader, CardRemoved, CardRemovedError, Pin, PinBlockedError,
    PinResult, ReaderState, ReaderStateChanged, DIGEST_INFO_SHA256_PREFIX, digest_info_sha256,
)
