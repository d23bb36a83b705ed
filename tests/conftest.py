"""Suite-wide ordering: tests marked ``quiet_machine`` run first, before any other test has started services that
load the machine (servers, kiosks, emulators, namespaces).

Only the cage session test (tests/screens/test_cage_session.py) needs it: wlroots' headless output on the
pixman software renderer, under XWayland, fails every output commit and shows a black screen for good when the
session starts while the machine's two cores are busy (measured: every run under two busy loops failed, every
run on the idle machine passed, but a clean clone's run right after its bootstrap failed too).  That is a limit
of the software stack the test stands on, not of the Pi's DRM output, so the test is opt-in (``make cage-session``,
``KIOSK_CAGE_SESSION=1``) and, when it runs, runs first, while the machine is quiet, instead of being weakened.
"""
from __future__ import annotations


def pytest_collection_modifyitems(session, config, items):
    first = [item for item in items if item.get_closest_marker("quiet_machine")]
    if first:
        items[:] = first + [item for item in items if not item.get_closest_marker("quiet_machine")]
