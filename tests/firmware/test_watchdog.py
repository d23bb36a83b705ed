"""The watchdog's earned ping (firmware.watchdog) and the sd_notify client (firmware.sdnotify), in process."""
from __future__ import annotations

import os
import socket

from firmware.sdnotify import Notifier, watchdog_interval_s
from firmware.watchdog import PollerPulse, Pulse, Watchdog


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    def __init__(self):
        self.sent = 0

    def watchdog(self):
        self.sent += 1


def test_pings_only_while_every_pulse_is_fresh():
    clock, notifier = Clock(), Recorder()
    controller, ui = Pulse("controller", clock), Pulse("ui", clock)
    dog = Watchdog(notifier, interval_s=30, pulses=[controller, ui])
    assert dog.check() and notifier.sent == 1
    clock.t += 14
    controller.beat()
    assert dog.check()  # ui 14 s old: still within half the interval
    clock.t += 2
    controller.beat()
    assert not dog.check() and dog.stale == ["ui"] and notifier.sent == 2  # ui 16 s old: frozen screen
    ui.beat()
    assert dog.check() and dog.stale == [] and notifier.sent == 3


def test_a_device_worker_counts_as_turning_only_while_its_polls_move():
    class Poller:
        polls, running = 0, True

    clock, poller = Clock(), Poller()
    pulse = PollerPulse("notes", poller, clock)
    clock.t += 10
    poller.polls += 1
    assert pulse.fresh(15)
    clock.t += 16
    assert not pulse.fresh(15)  # no poll for 16 s
    poller.polls += 1
    assert pulse.fresh(15)
    poller.running = False
    assert not pulse.fresh(15)  # the poll task ended


def test_the_interval_comes_from_systemd_and_belongs_to_this_process_or_its_compositor_parent():
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getppid())}) == 30.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval_s({}) is None and watchdog_interval_s({"WATCHDOG_USEC": "x"}) is None


def test_the_notifier_speaks_the_datagram_protocol_to_a_path_and_an_abstract_socket(tmp_path):
    path = tmp_path / "notify"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    abstract.bind(f"\0kiosk-test-{os.getpid()}")
    try:
        notifier = Notifier(str(path))
        assert notifier.ready("in service, idle")
        assert listener.recv(100) == b"READY=1\nSTATUS=in service, idle"
        assert Notifier(f"@kiosk-test-{os.getpid()}").watchdog()
        assert abstract.recv(100) == b"WATCHDOG=1"
    finally:
        listener.close()
        abstract.close()
    assert not Notifier("").ready("x")  # outside systemd: nothing sent, nothing fails
    assert not Notifier(str(tmp_path / "gone")).watchdog()  # systemd gone: logged, the kiosk goes on
