"""Note validator (bill acceptor): escrow, stack or return, credit at VEND VALID."""
from hal.notes.contract import (  # noqa: F401
    NoteCredited, NoteEscrowed, NoteRejected, NoteReturned, NoteValidator, NoteValidatorState,
    NoteValidatorStateChanged, NoteNeedsReconciliation, YEN_NOTES,
)
