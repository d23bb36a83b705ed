"""Every error code the server answers, with its HTTP status(es) and meaning: the one catalogue behind the table in
docs/kiosk-server-protocol.md ("Error codes") and the error responses of the OpenAPI document.

tests/server/test_error_catalogue.py checks that every code the server's source can answer is here, with its
status, and is in the document and in docs/openapi.json.
"""
from __future__ import annotations

from typing import Any

ERROR_CODES: dict[str, tuple[tuple[int, ...], str]] = {
    "bad_request": ((400, 422), "400: the body is not one UTF-8 JSON document (not UTF-8, not JSON, a U+0000 in "
                                "text, a Content-Type other than application/json, a Content-Length that is not "
                                "a number); 422: it is JSON but does not fit the endpoint (missing, unknown or "
                                "mistyped fields, a value outside its format, base64 that does not decode)"),
    "payload_too_large": ((413,), "the body is over 65536 bytes"),
    "unauthenticated": ((401,), "no verified kiosk certificate, or no, an unknown, an ended or an expired session "
                                "token, or a session opened at another kiosk"),
    "kiosk_revoked": ((403,), "this kiosk's device certificate was revoked by staff"),
    "not_found": ((404,), "no such path"),
    "method_not_allowed": ((405,), "the path exists, the method does not (the Allow header lists them)"),
    "nonce_unknown": ((401,), "the sign-in nonce was never issued, or was issued to another kiosk"),
    "nonce_expired": ((401,), "the sign-in nonce is older than its expires_at"),
    "nonce_reused": ((401,), "the sign-in nonce was already spent by an earlier attempt, good or bad"),
    "bad_signature": ((401,), "the card's signature does not verify with the certificate's key"),
    "certificate_invalid": ((401,), "the card certificate is not DER, has no RSA key, is not from the JPKI CA, or "
                                    "is a CA certificate"),
    "certificate_revoked": ((401,), "the card certificate is on the CRL"),
    "certificate_expired": ((401,), "the card certificate is outside its validity period"),
    "unknown_card": ((401,), "no resident is registered for this card"),
    "wrong_password": ((401,), "citizen card password wrong; detail.tries_left (1-3) is what the card has left"),
    "card_locked": ((403,), "the citizen card is locked (3 wrong passwords): staff unlock it; detail.tries_left = 0"),
    "busy": ((503,), "the server could not finish in time (the issuance log stayed contended, or other tries with "
                     "the same citizen card were still being checked, or an application's place on a collection "
                     "day was taken at the same moment): send the same request again"),
    "revocation_unknown": ((503,), "the server's CRL is past its next update: no sign-in until it is renewed"),
    "not_eligible": ((403,), "detail.reason is an IneligibleReason code"),
    "unknown_certificate": ((400,), "the quote names no certificate of the catalogue"),
    "bad_option": ((400,), "an option the certificate does not take, or a value it does not allow"),
    "bad_copies": ((400,), "copies outside 1..max_copies"),
    "unknown_service": ((400,), "the application names no form this city takes at kiosks"),
    "bad_answer": ((400,), "an answer does not fit its form (detail.field, detail.problem: required, "
                           "not_a_choice, format, too_few, too_many, unknown_field); never the answer itself"),
    "date_not_offered": ((409,), "the date chosen is no longer offered (taken since the form was shown): choose "
                                 "another; detail.field names it"),
    "quote_unknown": ((404,), "no such quote in this session (a quote of another session or kiosk included)"),
    "quote_expired": ((410,), "the quote is older than its expires_at"),
    "envelope_pruned": ((410,), "a replay of a transaction whose result was reported days ago: the server keeps "
                                "only its signed manifest, no documents"),
    "payment_insufficient": ((402,), "amount_paid is below the quote's total_fee; detail has both"),
    "transaction_conflict": ((409,), "the transaction id, or the quote, was used by another request"),
    "transaction_unknown": ((404,), "a result for a transaction never issued to this kiosk"),
    "result_conflict": ((409,), "a different result was already reported for this transaction"),
    "result_inconsistent": ((422,), "a result reports more fee than the quote or more refund than was paid"),
    "not_configured": ((503,), "the server process has no configuration (never in a configured deployment)"),
    "server_error": ((500,), "a fault of the server (a bug): the kiosk treats it like a server that is down"),
    "enrolment_token_invalid": ((401,), "no such enrolment token"),
    "enrolment_token_used": ((409,), "the token was already used, or withdrawn by revoke-kiosk"),
    "enrolment_token_expired": ((410,), "the token expired: staff make a new one"),
    "csr_invalid": ((400,), "not a PEM CSR, or its signature does not verify with its key"),
    "csr_key_unsupported": ((400,), "key type or size not accepted; detail.accepted lists them"),
    "csr_subject_mismatch": ((400,), "the CSR's subject is not exactly CN=<the token's kiosk id>"),
    "wireguard_key_in_use": ((409,), "the WireGuard public key is another kiosk's"),
    "enrolment_unavailable": ((503,), "the server has no device CA key ([tls] device_ca_key)"),
    "vpn_full": ((503,), "no tunnel address is left in the [vpn] network"),
    "vpn_unavailable": ((503,), "a WireGuard key was sent but the server has no [vpn] table"),
    "batch_too_large": ((413,), "a telemetry batch holds more events than the server takes at once (detail.max_events)"),
    "sequence_gap": ((409,), "a telemetry batch skips a sequence number: the run before the hole is stored; "
                             "detail.acked_seq and detail.expected_seq say where to send again from"),
    "sequence_conflict": ((409,), "a telemetry sequence number already holds another event (a kiosk that lost "
                                  "its outbox): nothing stored; detail.acked_seq is the server's high-water mark"),
}


def codes_for(status: int) -> list[str]:
    return [code for code, (statuses, _meaning) in ERROR_CODES.items() if status in statuses]


def error_responses(model: type, *statuses: int) -> dict[int, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses: the error document, and the codes a reply may carry."""
    return {status: {"model": model, "description": "Error codes: " + ", ".join(f"`{c}`" for c in codes_for(status))}
            for status in statuses}
