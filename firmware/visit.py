"""One visit, as data: the states, the resident's intents, and the view the screens render.

The controller (:mod:`firmware.controller`) owns the transitions; this module only names things.  The flow:

    idle ─card─> reading ─> pin ─> menu ─> options ─> confirm ─> paying ─> issuing ─> printing
      ─> return_card ─> take_items ─> idle
    any state ─cancel / timeout / fault─> (refund if money was taken) ─> return_card ─> idle
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from certs import wire
from hal.card import Pin
from hal.voice.contract import VOLUME_LEVELS
from firmware.operations import CardRead


class VisitState(enum.Enum):
    IDLE = "idle"
    OUT_OF_SERVICE = "out_of_service"
    READING = "reading"
    PIN = "pin"
    MENU = "menu"
    OPTIONS = "options"
    CONFIRM = "confirm"
    PAYING = "paying"
    ISSUING = "issuing"
    PRINTING = "printing"
    RETURN_CARD = "return_card"
    TAKE_ITEMS = "take_items"


# States in which the resident's inactivity aborts the visit (no money is at stake before PAYING; in PAYING the
# abort refunds).  ISSUING and PRINTING time out on the server or the printer, not on the resident.
RESIDENT_STATES = frozenset({VisitState.READING, VisitState.PIN, VisitState.MENU, VisitState.OPTIONS,
                             VisitState.CONFIRM, VisitState.PAYING})
CANCELLABLE = frozenset({VisitState.READING, VisitState.PIN, VisitState.MENU, VisitState.OPTIONS,
                         VisitState.CONFIRM, VisitState.PAYING})


@dataclass
class Visit:
    """What the kiosk knows about the visit in progress.  Memory only; dropped when the visit ends."""

    number: int
    card: CardRead | None = None
    session: wire.Session | None = None
    offers: list[wire.Offer] = field(default_factory=list)
    household: tuple[wire.HouseholdMember, ...] = ()  # names: shown and spoken, never journalled or logged
    certificate: str | None = None
    options: dict = field(default_factory=dict)
    copies: int = 1
    quote: wire.Quote | None = None
    expected_fee: int = 0  # version 2: the fee shown at confirm (the menu's), until the quote answers it
    txn: str | None = None
    pages_total: int = 0
    pages_printed: int = 0
    change_paid: int = 0
    refund_owed: int = 0
    refund_reference: str | None = None  # the refund slip's reference (shown large, read aloud if no slip)
    slip_amount: int = 0  # what the refund slip says is owed (for certain)
    slip_printed: bool | None = None  # None while the slip prints
    items: set[str] = field(default_factory=set)
    tries_left: int | None = None
    message: str | None = None
    busy: bool = False
    outcome: str = "abandoned"
    # an e-application (firmware.visit_application): the forms the server offers, the one chosen, the answers
    # (the phone among them: memory only, never in the journal, a log or the view)
    forms: list = field(default_factory=list)  # certs.services.Form
    service: str | None = None
    answers: dict = field(default_factory=dict)
    problem_field: str | None = None  # the field the last message is about


# --- the resident's intents (what a screen, a keypad or a scenario sends) ---------------------------------

@dataclass(frozen=True)
class Intent:
    pass


@dataclass(frozen=True)
class ChooseLanguage(Intent):
    language: str


@dataclass(frozen=True, eq=False)
class EnterPin(Intent):
    """The digits typed on the PIN pad, as a :class:`hal.card.Pin` (a bytearray that can be wiped, never a ``str``),
    or None when what was typed is not a PIN (the visit then says ``pin_format``).  The controller wipes the
    intent's Pin once it has handled the intent; the sign-in it starts works on its own copy and wipes that."""

    pin: Pin | None

    @classmethod
    def of(cls, digits: str | bytes | bytearray) -> "EnterPin":
        """From typed digits (a bytearray from the pad, or a ``str`` from a test or the dev control socket)."""
        try:
            return cls(Pin(digits))
        except ValueError:
            return cls(None)

    def __repr__(self) -> str:
        return "EnterPin(****)"

    __str__ = __repr__


@dataclass(frozen=True)
class ChooseCertificate(Intent):
    certificate: str


@dataclass(frozen=True)
class ChooseService(Intent):
    """An e-application from the menu (its form is shown in the options step)."""
    service: str


@dataclass(frozen=True, eq=False)
class SubmitForm(Intent):
    """The form's answers.  They may hold personal data (a phone number): never in a repr."""
    answers: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SubmitForm(<{len(self.answers)} answers>)"

    __str__ = __repr__


@dataclass(frozen=True)
class SetOptions(Intent):
    options: dict = field(default_factory=dict)
    copies: int = 1


@dataclass(frozen=True)
class Confirm(Intent):
    pass


@dataclass(frozen=True)
class Back(Intent):
    pass


@dataclass(frozen=True)
class Cancel(Intent):
    pass


@dataclass(frozen=True)
class MoreTime(Intent):
    """"Need more time?" — yes."""


@dataclass(frozen=True)
class SilenceVoice(Intent):
    pass


@dataclass(frozen=True, eq=False)
class Speak(Intent):
    """Say ``text`` now, in the visit's language: what a screen shows, the item the keypad's focus moved to.
    ``by_key``: a key press asked for it (repeat, a focus move), which counts as the resident's activity.  The text
    may hold a household member's name, so it stays out of every repr (logs, exceptions).  ``language``: another
    language than the visit's (a language button says its own name in its own language)."""

    text: str
    by_key: bool = False
    language: str | None = None

    def __repr__(self) -> str:
        return f"Speak(<{len(self.text)} characters>)"

    __str__ = __repr__


VOICE_CONTROLS = ("tick", "louder", "softer", "slower")


@dataclass(frozen=True)
class VoiceControl(Intent):
    """The keypad's voice keys: ``tick`` (a neutral click: a PIN digit was taken), ``louder``, ``softer``,
    ``slower`` (slower speech on/off).  Volume and speed last until the visit ends."""

    action: str


@dataclass(frozen=True)
class CallStaff(Intent):
    pass


@dataclass(frozen=True)
class TakeChange(Intent):
    """The resident confirms the change was taken (the tray has no sensor)."""


# --- what the screens render ------------------------------------------------------------------------------

@dataclass(frozen=True)
class OfferView:
    certificate: str
    available: bool
    reason: str | None
    fee: int
    max_copies: int
    options: tuple[str, ...]
    window_fee: int | None = None
    option_details: tuple = ()  # certs.wire.OptionDetail: the server's label, default and choices per option


@dataclass(frozen=True)
class MemberView:
    """A household member the resident may choose for a 住民票 (the name stays out of reprs)."""

    member_ref: str
    name: str = field(repr=False)
    relationship: str = field(repr=False)


@dataclass(frozen=True)
class VisitView:
    """A snapshot of the visit for the screens.  It carries no address or PIN; the only names are the household's
    (``household``, for a 住民票 of selected members), which stay out of its repr."""

    state: VisitState
    visit: int = 0
    language: str = "ja"
    message: str | None = None  # a message id: why we are here (error, reason, instruction)
    busy: bool = False  # an operation is under way (reading the card, asking the server, printing)
    tries_left: int | None = None
    offers: tuple[OfferView, ...] = ()
    certificate: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    copies: int = 1
    fee: int = 0
    paid: int = 0
    change_due: int = 0
    refund_owed: int = 0
    refund_reference: str | None = None
    pages_total: int = 0
    pages_printed: int = 0
    timeout_warning: bool = False
    items_to_take: tuple[str, ...] = ()  # "document", "slip" (the refund slip), "change"
    out_of_service_reason: str | None = None
    reminder_level: int = 0  # forgotten card/certificate/change: 0 voice, 1 buzzer too, 2 staff beacon too
    services: tuple[tuple[str, str], ...] = ()  # e-applications offered: (service, title_ja)
    service: str | None = None  # the e-application chosen (then ``form`` is its description)
    form: dict | None = None  # certs.services.Form.to_dict(), the choices filled in by the server
    answers: dict[str, Any] = field(default_factory=dict)  # as given; a personal field only as "…" + 2 digits
    problem_field: str | None = None  # the field ``message`` is about
    payment: str | None = None  # the application's: none | cash | stickers
    application_fee: int = 0  # the items' fees (with stickers: what the stickers cost)
    stickers: tuple[tuple[int, int], ...] = ()  # (value, count) to buy, stickers mode
    voice_volume: int = 3  # the voice's level (1…5) and slower speech, as the keypad's voice keys left them
    voice_slow: bool = False
    household: tuple[MemberView, ...] = field(default=(), repr=False)
    opens_at: str | None = None  # out of hours: when the kiosk opens ("06:30")


def next_volume(level: int, step: int) -> int:
    """The voice's level after a louder (+1) or softer (-1) key: 1…VOLUME_LEVELS (the firmware applies it; the
    screen says it, so both use this one rule)."""
    return max(1, min(VOLUME_LEVELS, level + step))
