"""The harness registries: every suite runs once per registered harness of its device kind.

A real-driver harness is added by putting its class in the matching registry below (give it an
``unavailable()`` classmethod returning a skip reason when its emulator or service is missing).
"""
from __future__ import annotations

import pytest

from .gpio_harness import GpioSignalsHarness
from .hardware_harnesses import (
    CcTalkCoinAcceptorHardwareHarness, CcTalkHopperHardwareHarness, IdNoteValidatorHardwareHarness,
)
from .printer_hardware_harness import EscposHardwareHarness
from .printer_harnesses import EscposPtyHarness, EscposRealtimeTcpHarness, EscposTcpHarness, SimPrinterHarness
from .serial_harnesses import CcTalkCoinAcceptorHarness, CcTalkHopperHarness, IdNoteValidatorHarness
from .pcsc_harness import PcscCardReaderHarness  # the real driver over pcscd + vpcd + the virtual card
from .pcsc_hardware_harness import PcscHardwareHarness
from .voice_harness import AplayVoiceHarness
from .sim_harnesses import (
    SimCardReaderHarness, SimCoinAcceptorHarness, SimHopperHarness, SimNoteValidatorHarness, SimSignalsHarness,
    SimVoiceHarness,
)

CARD_READER_HARNESSES = {"sim": SimCardReaderHarness, "pcsc": PcscCardReaderHarness, "pcsc-hw": PcscHardwareHarness}
NOTE_VALIDATOR_HARNESSES = {"sim": SimNoteValidatorHarness, "id003": IdNoteValidatorHarness,
                            "id003-hw": IdNoteValidatorHardwareHarness}
COIN_ACCEPTOR_HARNESSES = {"sim": SimCoinAcceptorHarness, "cctalk": CcTalkCoinAcceptorHarness,
                           "cctalk-hw": CcTalkCoinAcceptorHardwareHarness}
HOPPER_HARNESSES = {"sim": SimHopperHarness, "cctalk": CcTalkHopperHarness, "cctalk-hw": CcTalkHopperHardwareHarness}
SIGNALS_HARNESSES = {"sim": SimSignalsHarness, "gpio": GpioSignalsHarness}
VOICE_HARNESSES = {"sim": SimVoiceHarness, "aplay": AplayVoiceHarness}
PRINTER_HARNESSES = {"sim": SimPrinterHarness, "escpos-pty": EscposPtyHarness, "escpos-tcp": EscposTcpHarness,
                     "escpos-realtime-tcp": EscposRealtimeTcpHarness, "escpos-hw": EscposHardwareHarness}


def _params(registry):
    """The registry's names as fixture params; a harness class with ``hardware = True`` (a real device on a real
    port) carries the ``hardware`` marker, so ``-m hardware`` selects it and ``-m "not hardware"`` leaves it out."""
    return [pytest.param(name, marks=pytest.mark.hardware) if getattr(registry[name], "hardware", False) else name
            for name in sorted(registry)]


def _harness(request, registry):
    cls = registry[request.param]
    reason = cls.unavailable() if hasattr(cls, "unavailable") else None
    if reason:
        pytest.skip(f"{request.param} harness unavailable: {reason}")
    return cls


@pytest.fixture(params=_params(CARD_READER_HARNESSES))
def card_harness(request):
    return _harness(request, CARD_READER_HARNESSES)


@pytest.fixture(params=_params(NOTE_VALIDATOR_HARNESSES))
def note_harness(request):
    return _harness(request, NOTE_VALIDATOR_HARNESSES)


@pytest.fixture(params=_params(COIN_ACCEPTOR_HARNESSES))
def coin_harness(request):
    return _harness(request, COIN_ACCEPTOR_HARNESSES)


@pytest.fixture(params=_params(HOPPER_HARNESSES))
def hopper_harness(request):
    return _harness(request, HOPPER_HARNESSES)


@pytest.fixture(params=sorted(SIGNALS_HARNESSES))
def signals_harness(request):
    return _harness(request, SIGNALS_HARNESSES)


@pytest.fixture(params=sorted(VOICE_HARNESSES))
def voice_harness(request):
    return _harness(request, VOICE_HARNESSES)


@pytest.fixture(params=_params(PRINTER_HARNESSES))
def printer_harness(request):
    return _harness(request, PRINTER_HARNESSES)
