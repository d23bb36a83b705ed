"""The wire emulators' own process (issue #18): a device answers while the kiosk's process is frozen, and the remote
objects the tests hold behave like the emulators, or fail loudly where they cannot."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from hal.coins.cctalk_emulator import CcTalkBusEmulator as InProcessBus, CoinAcceptorEmulator as InProcessAcceptor
from hal.coins.cctalk_frames import HOST, REPLY, SIMPLE_POLL, build_frame
from tests.support import device_host
from tests.support.emulators import CcTalkBusEmulator, CoinAcceptorEmulator

SIMPLE_POLL_TO_2 = build_frame(2, SIMPLE_POLL)
ACK_FROM_2 = build_frame(HOST, REPLY, source=2)


def _frozen(seconds: float) -> None:
    """Hold this process's interpreter lock for ``seconds``, as a full garbage collection of a big heap does: no
    other thread of this process runs meanwhile."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(seconds + 1)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    finally:
        sys.setswitchinterval(interval)


_PEER = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
print("ready", flush=True)
time.sleep(0.1)
os.write(fd, bytes.fromhex(sys.argv[2]))
time.sleep(0.4)
try:
    got = os.read(fd, 64)
except BlockingIOError:
    got = b""
print(got.hex(), time.monotonic(), flush=True)
"""


def _poll_while_frozen(port: str) -> bytes:
    """Another process sends a simple poll and, 0.4 s later, reads what came back, all while this process is frozen
    (the freeze lasts a second from the peer's start); returns what it read."""
    peer = subprocess.Popen([sys.executable, "-c", _PEER, port, SIMPLE_POLL_TO_2.hex()], stdout=subprocess.PIPE,
                            text=True)
    assert peer.stdout.readline().strip() == "ready"
    _frozen(1.0)
    frozen_until = time.monotonic()
    got, _, read_at = peer.communicate(timeout=10)[0].strip().rpartition(" ")
    assert float(read_at) < frozen_until, "the peer read after the freeze: the machine was too busy to tell"
    return bytes.fromhex(got)


def test_a_hosted_emulator_answers_while_the_test_process_is_frozen():
    bus = CcTalkBusEmulator(CoinAcceptorEmulator(2)).start()
    try:
        assert _poll_while_frozen(bus.port) == SIMPLE_POLL_TO_2 + ACK_FROM_2  # the bus's echo, then the reply
    finally:
        bus.close()


def test_an_emulator_in_the_test_process_cannot_answer_while_it_is_frozen():
    """The cause of #18's failures, shown: the same poll to the same emulator in this process gets nothing."""
    bus = InProcessBus(InProcessAcceptor(2)).start()
    try:
        assert _poll_while_frozen(bus.port) == b""
    finally:
        bus.close()


def test_a_remote_passed_to_the_host_is_the_object_there_not_a_copy():
    acceptor = CoinAcceptorEmulator(2)
    bus = CcTalkBusEmulator(acceptor)
    acceptor.master_enabled, acceptor.mask = True, 0xFFFF
    with bus.lock:
        acceptor.insert_coin(100)
    on_the_bus = bus.devices[2]
    assert on_the_bus.accepted == [3] and on_the_bus.counter == 1 and on_the_bus.master_enabled


def test_a_copy_of_an_emulators_list_refuses_to_change_and_the_emulator_keeps_its_own():
    acceptor = CoinAcceptorEmulator(2)
    acceptor.master_enabled, acceptor.mask = True, 0xFFFF
    acceptor.insert_coin(500)
    accepted = acceptor.accepted
    with pytest.raises(TypeError, match="copy of an emulator's list"):
        accepted.append(3)
    assert acceptor.accepted == [4]


def test_an_error_in_the_host_is_raised_in_the_test():
    with pytest.raises(AttributeError, match="no attribute 'coins_in_the_tray'"):
        CoinAcceptorEmulator(2).coins_in_the_tray
    with pytest.raises(TypeError):
        CoinAcceptorEmulator(2, no_such_option=1)


def test_the_host_is_stopped_by_its_pid_and_its_socket_removed():
    client = device_host._Client()
    pid, address = client.process.pid, client.address
    assert client.ask("new", "hal.coins.cctalk_emulator:CoinAcceptorEmulator", (2,), {})[0] == "ref"
    client.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not os.path.exists(address)


def _thread_priority(pid: int, tid: str) -> tuple[int, int]:
    """(scheduling policy, nice value) of one thread."""
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return os.sched_getscheduler(int(tid)), int(fields[16])  # field 19 of stat: nice


def test_the_host_and_every_emulator_thread_in_it_run_ahead_of_ordinary_processes_where_the_kernel_allows():
    client = device_host._Client()
    try:
        if client.priority == "ordinary":
            pytest.skip("this user may neither set a real-time policy nor raise a priority: the host is ordinary")
        oid = client.ask("new", "hal.coins.cctalk_emulator:CcTalkBusEmulator", (), {})[1]
        client.ask("call", oid, "start", (), {})
        pid = client.process.pid
        threads = os.listdir(f"/proc/{pid}/task")
        assert len(threads) >= 3  # the main thread, this connection's, the bus's
        expected = (os.SCHED_RR, 0) if client.priority == "real-time" else (os.SCHED_OTHER, device_host.HIGH_PRIORITY)
        assert {_thread_priority(pid, tid) for tid in threads} == {expected}
        client.ask("call", oid, "close", (), {})
    finally:
        client.close()
