"""The steps of ``kiosk-provision``, each idempotent: it looks at what is on disk and does only what is missing,
and the state file records it once it is whole.  A run killed anywhere resumes where it stopped; a finished
step is skipped; ``--redo STEP`` does it (and the steps after it) again.

Between the parts of *enrol* there are named checkpoints (:func:`checkpoint`): the tests kill the process there
(``KIOSK_PROVISION_KILL_AT``) and show that the next run ends with exactly one enrolment.
"""
from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from certs.enrolment import Tunnel, make_key_and_csr
from certs.enrolment_payload import PayloadError, parse_payload
from certs.wire import ProtocolError, ServerRefused
from provisioning import enrolment, install, kiosk_toml, preflight, selftest, wireguard
from provisioning.files import SECRET, atomic_write, wipe
from provisioning.layout import Layout
from provisioning.state import State

KILL_AT = "KIOSK_PROVISION_KILL_AT"


class StepFailed(Exception):
    """A step could not finish; the message says what to do.  ``lines``: details for the report."""

    def __init__(self, message: str, lines: list | None = None):
        super().__init__(message)
        self.lines = lines or []


def checkpoint(name: str) -> None:
    if os.environ.get(KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Provisioner:
    layout: Layout
    state: State
    payload_text: str | None = None
    answers: Path | None = None
    expected_kiosk_id: str | None = None
    with_vpn: bool = True
    tunnel_for_self_test: bool = True  # bring the tunnel up for the self-test when it is not up (needs root)
    release: Path | None = None  # the first release bundle (provisioning/first_release.py)
    lines: dict = field(default_factory=dict)  # step -> [preflight.Check], shown by the report
    link: object = None  # the tunnel the self-test brought up (taken down by close())

    def close(self) -> None:
        if self.link is not None:
            self.link.down()
            self.link = None

    def keep_payload(self) -> None:
        """Keep a valid payload given on the command line (0600) before any step runs: a run killed in any step
        resumes without the technician typing it again.  An invalid one is left for *enrol* to explain."""
        if self.payload_text is None or self.state.done("enrol"):
            return
        try:
            parse_payload(self.payload_text, expected_kiosk_id=self.expected_kiosk_id or self.state.kiosk_id)
        except PayloadError:
            return
        atomic_write(self.layout.pending_payload, "".join(self.payload_text.split()), SECRET)

    # ---- preflight ----------------------------------------------------------------------------------------
    def preflight(self) -> dict:
        answers = kiosk_toml.load_answers(self.answers)
        devices = kiosk_toml.build(self.layout, "kiosk-x", "https://x", answers)["devices"]
        checks = preflight.run_checks(self.layout.root, devices)
        self.lines["preflight"] = checks
        failed = [c for c in checks if c.ok is False]
        if failed:
            raise StepFailed("; ".join(f"{c.name}: {c.detail} — {c.fix}" for c in failed), checks)
        return {"checks": len(checks), "unknown": [c.name for c in checks if c.ok is None]}

    # ---- enrol --------------------------------------------------------------------------------------------
    def enrol(self) -> dict:
        layout = self.layout
        text = self.payload_text
        if text is None and layout.pending_payload.exists():
            text = layout.pending_payload.read_text(encoding="ascii")
        if text is None:
            raise StepFailed("no enrolment payload: give --payload TEXT or --payload-file FILE (the text or QR "
                             "code `kiosk-server enrol-token` printed)")
        try:
            payload = parse_payload(text, expected_kiosk_id=self.expected_kiosk_id or self.state.kiosk_id)
        except PayloadError as exc:
            raise StepFailed(str(exc)) from None
        atomic_write(layout.pending_payload, "".join(text.split()), SECRET)  # a killed run needs no retyping
        self.state.kiosk_id = payload.kiosk_id
        checkpoint("payload-saved")
        try:
            ca_pem = enrolment.fetch_pinned_ca(payload.url, payload.ca_sha256)
        except enrolment.PinMismatch as exc:
            raise StepFailed(str(exc)) from None
        except (OSError, httpx.HTTPError) as exc:
            raise StepFailed(f"cannot reach the server at {payload.url} ({type(exc).__name__}): check the "
                             "network cable and the URL in the payload") from None
        atomic_write(layout.ca, ca_pem)
        checkpoint("ca-pinned")
        if not layout.device_key.exists():
            atomic_write(layout.device_key, make_key_and_csr(payload.kiosk_id)[0], SECRET)
        key_pem = layout.device_key.read_bytes()
        checkpoint("device-key")
        _, wireguard_public = wireguard.key_pair(layout.wireguard_key) if self.with_vpn else (None, None)
        checkpoint("wireguard-key")
        try:
            _, enrolled = enrolment.enrol(payload.url, layout.ca, payload.token, payload.kiosk_id, key_pem=key_pem,
                                          wireguard_public_key=wireguard_public)
        except ServerRefused as exc:
            if exc.code in ("enrolment_token_used", "enrolment_token_expired", "enrolment_token_invalid"):
                wipe(layout.pending_payload)
            raise StepFailed(f"the server refused the enrolment: {exc.code} — {_what_to_do(exc.code)}") from None
        except (ProtocolError, OSError, httpx.HTTPError) as exc:
            raise StepFailed(f"enrolment failed: {type(exc).__name__} {exc} — run kiosk-provision again (it resumes)") from None
        checkpoint("enrolled")
        atomic_write(layout.device_cert, enrolled.certificate_pem)
        if enrolled.document_keys:
            atomic_write(layout.document_key, enrolled.document_keys[0])
        if enrolled.update_root:  # pinned here, never fetched on first use (firmware/update_fetch.py)
            atomic_write(layout.update_root, enrolled.update_root)
        atomic_write(layout.enrolment_file, json.dumps({
            "kiosk_id": enrolled.kiosk_id, "server_url": payload.url, "serial": enrolled.serial,
            "not_after": enrolled.not_after, "vpn": enrolled.vpn.as_dict() if enrolled.vpn else None}, indent=2))
        checkpoint("certificate-saved")
        wipe(layout.pending_payload)
        return {"kiosk_id": enrolled.kiosk_id, "serial": enrolled.serial, "not_after": enrolled.not_after,
                "server_url": payload.url}

    def enrolment(self) -> dict:
        return json.loads(self.layout.enrolment_file.read_text(encoding="utf-8"))

    # ---- vpn ----------------------------------------------------------------------------------------------
    def vpn(self) -> dict:
        if not self.with_vpn:
            return {"skipped": "--no-vpn: the kiosk talks to the server directly"}
        data = self.enrolment().get("vpn")
        if data is None:
            raise StepFailed("the server gave no tunnel (its server.toml has no [vpn]): configure the VPN on the "
                             "server, then kiosk-provision --redo enrol; or provision with --no-vpn")
        tunnel = Tunnel.parse(data)
        wireguard.write_files(self.layout.wireguard_key, self.layout.wireguard_conf, self.layout.network_file,
                              tunnel)
        return {"address": tunnel.address, "routes": list(tunnel.routes), "endpoint": tunnel.endpoint}

    # ---- config -------------------------------------------------------------------------------------------
    def config(self) -> dict:
        from firmware.config import ConfigError

        enrolled = self.enrolment()
        tunnel = self.with_vpn and enrolled.get("vpn") is not None
        url = enrolled["vpn"]["api_url"] if tunnel else enrolled["server_url"]
        try:
            answers = kiosk_toml.load_answers(self.answers)
            path = kiosk_toml.write(self.layout, kiosk_toml.build(self.layout, enrolled["kiosk_id"], url, answers,
                                                                  with_vpn=tunnel))
        except ConfigError as exc:
            raise StepFailed(f"{exc} — fix the answers file and run kiosk-provision --redo config") from None
        return {"kiosk_toml": str(path), "server_url": url}

    # ---- install ------------------------------------------------------------------------------------------
    def install(self) -> dict:
        try:
            return install.install(self.layout, release=self.release)
        except install.InstallError as exc:
            raise StepFailed(f"{exc} — then run kiosk-provision --redo install") from None

    # ---- self-test ----------------------------------------------------------------------------------------
    def self_test(self) -> dict:
        checks, self.link = selftest.run(self.layout, self.with_vpn and self.tunnel_for_self_test)
        self.lines["self-test"] = checks
        failed = [c for c in checks if c.ok is False]
        if failed:
            raise StepFailed("; ".join(f"{c.name}: {c.detail}" for c in failed), checks)
        return {"checks": len(checks)}

    def steps(self) -> dict[str, Callable[[], dict]]:
        return {"preflight": self.preflight, "enrol": self.enrol, "vpn": self.vpn, "config": self.config,
                "install": self.install, "self-test": self.self_test}


def _what_to_do(code: str) -> str:
    return {
        "enrolment_token_used": "this payload was already used: ask staff for a new one (kiosk-server enrol-token)",
        "enrolment_token_expired": "the payload expired: ask staff for a new one",
        "enrolment_token_invalid": "the server does not know this payload: ask staff for a new one",
        "kiosk_revoked": "this kiosk was revoked: staff make a new payload after the revocation",
        "vpn_unavailable": "the server has no [vpn]: provision with --no-vpn or configure the server",
    }.get(code, "see the server's log; run kiosk-provision again once it is fixed")
