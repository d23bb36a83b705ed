"""The sd_notify protocol, spoken to systemd (or to a test's listener) without any library.

systemd hands a ``Type=notify`` service the address of a datagram socket in ``$NOTIFY_SOCKET`` (a path, or an
abstract name written with a leading ``@``).  The service sends newline-separated ``KEY=value`` lines:
``READY=1`` once it is up, ``STATUS=…`` for ``systemctl status``, ``WATCHDOG=1`` as its pulse, ``STOPPING=1`` on
the way out.  With ``WatchdogSec=`` set, systemd also passes ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``, the
process meant to ping).  Outside systemd there is no socket and every call does nothing.
"""
from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("kiosk.sdnotify")


class Notifier:
    def __init__(self, address: str | None = None):
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._socket: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, **fields: str | int) -> bool:
        """Send one message (``send(READY=1, STATUS="in service")``); False if it could not be delivered."""
        if not self.address:
            return False
        text = "\n".join(f"{key}={value}" for key, value in fields.items())
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(text.encode("utf-8"), target)
            return True
        except OSError as exc:  # systemd gone or restarting: the service goes on, the next ping tries again
            log.warning("sd_notify failed: %s", exc.strerror or type(exc).__name__)
            return False

    def ready(self, status: str) -> bool:
        return self.send(READY=1, STATUS=status)

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def stopping(self) -> bool:
        return self.send(STOPPING=1)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval_s(environ: dict | None = None) -> float | None:
    """systemd's watchdog interval for this process in seconds (``WatchdogSec=``), None if there is none."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if usec <= 0 or (pid and pid not in (str(os.getpid()), str(os.getppid()))):
        return None  # (the watchdog is another process's job; a parent that is the unit's main process — the
        # compositor the app runs under, with NotifyAccess=all — counts as us)
    return usec / 1_000_000
