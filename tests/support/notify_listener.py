"""A test's stand-in for systemd's side of sd_notify: a datagram socket on ``$NOTIFY_SOCKET`` that records every
message with the time it arrived."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path


class NotifyListener:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.1)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def times(self, key: str, value: str | None = None) -> list[float]:
        with self._lock:
            return [t for t, m in self.messages if key in m and (value is None or m[key] == value)]

    def values(self, key: str) -> list[str]:
        with self._lock:
            return [m[key] for _, m in self.messages if key in m]

    def wait_for(self, key: str, value: str | None = None, timeout: float = 30.0, after: float = 0.0) -> float | None:
        """When the first ``key=value`` after ``after`` arrived; None if none came within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [t for t in self.times(key, value) if t >= after]
            if hits:
                return hits[0]
            time.sleep(0.02)
        return None

    def watchdog_expired(self, interval: float, timeout: float) -> float | None:
        """Play systemd's watchdog timer: when ``interval`` passed since the last ``WATCHDOG=1`` (None: the pings
        kept coming for ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pings = self.times("WATCHDOG", "1")
            last = pings[-1] if pings else 0.0
            if time.monotonic() - last > interval:
                return last + interval
            time.sleep(0.02)
        return None
