"""The wire emulators as the tests build them: in the emulator host process (:mod:`tests.support.device_host`),
so a driver under test never waits for an emulator frozen by its own process's pauses (issue #18).

Same names and arguments as the classes; each call returns a remote.  Frame helpers and constants are still
imported from the emulator modules themselves.
"""
from __future__ import annotations

from tests.support.device_host import hosted

Id003Emulator = hosted("hal.notes.id003_emulator:Id003Emulator")
CcTalkBusEmulator = hosted("hal.coins.cctalk_emulator:CcTalkBusEmulator")
CoinAcceptorEmulator = hosted("hal.coins.cctalk_emulator:CoinAcceptorEmulator")
HopperEmulator = hosted("hal.coins.cctalk_emulator:HopperEmulator")
PrinterEmulator = hosted("tests.support.printer_emulator:PrinterEmulator")
