"""The long operations of a visit, as plain async functions: the controller runs each as a task and hears the
outcome as an event, so the visit never blocks on a card, the server or the printer.

Each returns a small result object or raises; none of them changes the visit's state.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from certs import wire
from hal.card import CardKind, CardReader, Pin, digest_info_sha256
from firmware.server_client import ServerClient
from firmware.signin_nonce import NONCE_REFUSALS, NonceKeeper


@dataclass(frozen=True)
class CardRead:
    kind: CardKind
    tries_left: int | None  # JPKI only
    certificate: bytes | None = None
    card_id: str | None = None


@dataclass(frozen=True)
class SignedIn:
    session: wire.Session
    offers: list[wire.Offer]
    nonce_refused: str | None = None  # the server's code for a prefetched nonce it would not take (then retried)
    household: tuple[wire.HouseholdMember, ...] = ()  # for a 住民票 of selected members (names: memory only)


@dataclass(frozen=True)
class PinRefused:
    tries_left: int  # 0: blocked


async def read_card(reader: CardReader) -> CardRead:
    kind = reader.card_kind()
    if kind is CardKind.MY_NUMBER:
        tries = await reader.pin_tries_left()
        certificate = await reader.read_auth_certificate() if tries > 0 else None
        return CardRead(kind, tries, certificate=certificate)
    if kind is CardKind.CITIZEN:
        return CardRead(kind, None, card_id=await reader.citizen_card_id())
    return CardRead(CardKind.UNKNOWN, None)


async def sign_in_my_number(reader: CardReader, server: ServerClient, kiosk_id: str, certificate: bytes,
                            pin: Pin, nonces: NonceKeeper | None = None) -> SignedIn | PinRefused:
    """Verify the PIN once on the card, then sign a challenge: the one ``nonces`` prefetched if it is still good,
    else one asked for now.  A prefetched nonce the server refuses (expired, spent, not this kiosk's) is replaced
    once by a fresh challenge, signed with the PIN already verified: the PIN is never tried twice.  The PIN is
    wiped whatever happens."""
    try:
        result = await reader.verify_pin(pin)
    finally:
        pin.wipe()
    if not result.accepted:
        return PinRefused(result.tries_left)
    challenge = await nonces.take() if nonces is not None else None
    prefetched = challenge is not None
    if challenge is None:
        challenge = await server.challenge()
    signature = await reader.sign(digest_info_sha256(wire.signin_message(challenge.nonce, kiosk_id)))
    try:
        signed = await server.signed_in_jpki(challenge.nonce, certificate, signature)
    except wire.ServerRefused as refused:
        if not prefetched or refused.code not in NONCE_REFUSALS:
            raise
        challenge = await server.challenge()
        signature = await reader.sign(digest_info_sha256(wire.signin_message(challenge.nonce, kiosk_id)))
        signed = await server.signed_in_jpki(challenge.nonce, certificate, signature)
        return SignedIn(signed.session, signed.offers, nonce_refused=refused.code, household=signed.household)
    return SignedIn(signed.session, signed.offers, household=signed.household)


async def sign_in_citizen(server: ServerClient, card_id: str, password: Pin) -> SignedIn | PinRefused:
    """The citizen card's password is checked by the server (3 wrong tries lock the card there)."""
    try:
        signed = await server.signed_in_citizen(card_id, password)
    except wire.ServerRefused as refused:
        if refused.code == "wrong_password":
            tries = refused.detail.get("tries_left")
            return PinRefused(tries if isinstance(tries, int) and tries >= 0 else 0)
        if refused.code == "card_locked":
            return PinRefused(0)
        raise
    finally:
        password.wipe()
    return SignedIn(signed.session, signed.offers, household=signed.household)


MIN_ATTEMPT_S = 1.0
"""An issue attempt with less time than this left in its budget is not started."""


async def fetch_documents(server: ServerClient, session: wire.Session, transaction_id: str, quote_id: str,
                          amount_paid: int, budget_s: float = 25.0, attempts: int = 3, pause_s: float = 0.5,
                          call=None) -> dict:
    """Ask for the documents; retry only when the server did not answer, and only within ``budget_s`` (the
    caller gives less than its state's timeout, so the last try ends before the visit gives up on it).
    Retrying is safe: issuance is idempotent by transaction id, so a retry returns the same document set, never
    a second one.  ``call``: the server's call that issues (``server.issue``; an e-application's intake,
    ``server.submit_application``, is idempotent the same way)."""
    from firmware.server_client import ServerUnavailable

    call = call or server.issue

    deadline = time.monotonic() + budget_s
    for attempt in range(1, attempts + 1):
        remaining = deadline - time.monotonic()
        try:
            return await call(session, transaction_id, quote_id, amount_paid, timeout_s=remaining)
        except ServerUnavailable:
            pause = pause_s * attempt
            if attempt == attempts or deadline - time.monotonic() - pause < MIN_ATTEMPT_S:
                raise
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")
