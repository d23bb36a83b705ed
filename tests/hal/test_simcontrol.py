"""kiosk-sim against a ControlServer on a temporary socket: the simulators react; errors are clear."""
from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from hal.card.contract import CardKind
from hal.card.testcards import make_citizen_card, write_card_file
from hal.coins.contract import CoinCredited
from hal.factory import build_devices
from hal.notes.contract import NoteEscrowed, NoteValidatorState
from hal.signals.contract import DoorOpened, StaffCallPressed
from hal.simcontrol import ControlServer, main, sim_commands


class StubPrinter:
    """Stands for the printer simulator: records the world actions it is asked for."""

    name = "printer"

    def __init__(self):
        self.calls = []

    async def start(self, sink):
        pass

    async def stop(self):
        pass

    async def status(self):
        from hal.printer.contract import PrinterState, PrinterStatus
        return PrinterStatus(PrinterState.READY, document_waiting=bool(self.calls))

    async def take_document(self):
        self.calls.append(("take_document",))

    async def paper_out(self, after_rows=None):
        self.calls.append(("paper_out", after_rows))


@pytest.fixture
def socket_dir():
    # a short path: Unix socket paths are limited to about 100 bytes
    with tempfile.TemporaryDirectory(prefix="ksim") as d:
        yield Path(d)


def with_kiosk(socket_dir: Path, body):
    """Run a kiosk's simulated devices and control server; ``body(devices, events, cli)`` drives it."""
    write_card_file(make_citizen_card("C0000009"), socket_dir / "cards", "resident-b")
    devices = build_devices({
        "card_reader": {"driver": "sim", "cards_dir": str(socket_dir / "cards")},
        "notes": {"driver": "sim"}, "coins": {"driver": "sim"},
        "hoppers": {"driver": "sim", "stock": {"100": 20}},
        "printer": {"driver": "sim"}, "signals": {"driver": "sim"}, "voice": {"driver": "sim"},
    })
    devices.printer = StubPrinter()
    events = []
    socket_path = socket_dir / "sim.sock"

    async def sink(event):
        events.append(event)

    async def cli(*argv):
        return await asyncio.to_thread(main, ["--socket", str(socket_path), *argv])

    async def run():
        await devices.start_all(sink)
        async with ControlServer(socket_path, sim_commands(devices)):
            await body(devices, events, cli)
        await devices.stop_all()
    asyncio.run(run())


def test_placing_and_lifting_a_card_from_outside(socket_dir, capsys):
    async def body(devices, events, cli):
        assert await cli("place-card", "resident-b") == 0
        assert devices.card_reader.card_kind() is CardKind.CITIZEN
        assert await devices.card_reader.citizen_card_id() == "C0000009"
        assert await cli("lift-card") == 0
        assert devices.card_reader.card_kind() is None
    with_kiosk(socket_dir, body)


def test_money_goes_in_from_outside(socket_dir):
    async def body(devices, events, cli):
        await devices.coins.enable(frozenset({100}))
        await devices.notes.enable(frozenset({1000}))
        assert await cli("insert-coin", "100") == 0
        assert await cli("insert-note", "1000") == 0
        assert [e.value for e in events if isinstance(e, CoinCredited)] == [100]
        assert [e.value for e in events if isinstance(e, NoteEscrowed)] == [1000]
    with_kiosk(socket_dir, body)


def test_faults_and_the_door_from_outside(socket_dir):
    async def body(devices, events, cli):
        assert await cli("jam-note") == 0
        assert devices.notes.state() is NoteValidatorState.STACKER_JAM
        assert await cli("hopper-short", "100", "3") == 0
        assert devices.hopper(100).stock == 3 and devices.hopper(100).coins_estimate() == 20
        assert await cli("door-open") == 0 and await cli("staff-call") == 0
        assert [type(e) for e in events if isinstance(e, (DoorOpened, StaffCallPressed))] == [DoorOpened,
                                                                                               StaffCallPressed]
    with_kiosk(socket_dir, body)


def test_printer_commands_reach_the_printer_and_a_missing_one_is_a_clear_error(socket_dir, capsys):
    async def body(devices, events, cli):
        assert await cli("take-document") == 0
        assert await cli("paper-out", "120") == 0
        assert await cli("paper-out") == 0
        assert devices.printer.calls == [("take_document",), ("paper_out", 120), ("paper_out", None)]
        capsys.readouterr()
        assert await cli("open-cover") == 1
        assert "printer cannot open cover" in capsys.readouterr().err
    with_kiosk(socket_dir, body)


def test_status_reports_every_device(socket_dir, capsys):
    async def body(devices, events, cli):
        capsys.readouterr()
        assert await cli("status") == 0
        out = capsys.readouterr().out
        assert '"notes": "disabled"' in out and '"hopper-100": "ready"' in out and '"printer": "ready"' in out
        assert '"signals": "door closed, beacon off"' in out and '"voice": "quiet"' in out
    with_kiosk(socket_dir, body)


def test_a_device_refusal_is_an_error_reply_and_the_server_keeps_serving(socket_dir, capsys):
    async def body(devices, events, cli):
        capsys.readouterr()
        assert await cli("place-card", "nobody") == 1
        assert "no card named 'nobody'" in capsys.readouterr().err
        assert await cli("insert-coin", "abc") == 1
        assert await cli("place-card", "resident-b") == 0
    with_kiosk(socket_dir, body)


def test_other_layers_add_commands_with_key_value_arguments(socket_dir, capsys):
    received = []

    async def enter_pin(args):
        received.append(args)
        return {"accepted": True}

    async def body(devices, events, cli):
        server = ControlServer(socket_dir / "extra.sock", {"enter_pin": enter_pin})
        async with server:
            code = await asyncio.to_thread(main, ["--socket", str(server.socket_path), "enter-pin", "digits=1234"])
        assert code == 0 and received == [{"digits": 1234}]
        assert '"accepted": true' in capsys.readouterr().out
    with_kiosk(socket_dir, body)


def test_an_unknown_command_prints_the_usage_with_the_commands(socket_dir, capsys):
    async def body(devices, events, cli):
        capsys.readouterr()
        assert await cli("fly-away") == 2
        err = capsys.readouterr().err
        assert "unknown command 'fly-away'" in err and "place-card CARD" in err and "insert-coin VALUE" in err
    with_kiosk(socket_dir, body)


def test_no_kiosk_listening_is_exit_code_2(socket_dir, capsys):
    assert main(["--socket", str(socket_dir / "none.sock"), "lift-card"]) == 2
    assert f"no kiosk is listening on {socket_dir / 'none.sock'}" in capsys.readouterr().err


def test_the_socket_path_comes_from_the_environment(socket_dir, capsys, monkeypatch):
    monkeypatch.setenv("KIOSK_SIM_SOCKET", str(socket_dir / "env.sock"))
    assert main(["status"]) == 2
    assert str(socket_dir / "env.sock") in capsys.readouterr().err


def test_too_many_arguments_is_a_usage_error(capsys):
    assert main(["--socket", "/nonexistent.sock", "insert-coin", "100", "500"]) == 2
    assert "takes 1 argument" in capsys.readouterr().err


def test_a_stale_socket_file_is_replaced(socket_dir):
    stale = socket_dir / "stale.sock"
    stale.write_text("")

    async def run():
        async with ControlServer(stale, {}) as server:
            reply = await asyncio.to_thread(main, ["--socket", str(server.socket_path), "status"])
        return reply
    assert asyncio.run(run()) == 2  # the server answered: status is not one of its commands
    assert not stale.exists()
