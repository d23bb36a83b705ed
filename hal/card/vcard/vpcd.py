"""vpcd's TCP protocol, the card side: a card lies on the virtual reader while its connection is open.

vsmartcard's ``vpcd`` (the pcscd reader driver) listens on a TCP port per reader slot (35963 and 35964 with
Debian's ``/etc/reader.conf.d/vpcd``).  Every message either way is a 2-byte big-endian length and a payload.  A
1-byte payload from vpcd is a control byte: 0 power off, 1 power on, 2 reset, 4 "send your ATR" (answered with a
length-prefixed ATR); any longer payload is a command APDU, answered with the response APDU.  pcscd asks for the
ATR every few hundred milliseconds to see that the card is still there; a closed connection is a lifted card.

vpcd writes the length and the payload as two ``send`` calls; with Nagle on its side and delayed ACKs on ours that
costs 40 ms per APDU, so the card sets ``TCP_QUICKACK`` before every read (measured in the platform notes).
"""
from __future__ import annotations

import logging
import socket
import threading
import time

from hal.card.vcard.card import VirtualCard

log = logging.getLogger(__name__)

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4


class CardSlot:
    """One vpcd reader slot.  :meth:`place` puts a card on it, :meth:`lift` takes it away.

    While a card is placed the slot keeps (re)connecting to vpcd: when pcscd is restarted the card is found again,
    like a card still lying on a reader that was unplugged and plugged back.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 35963, retry_interval: float = 0.05):
        self.host, self.port, self.retry_interval = host, port, retry_interval
        self._lock = threading.Lock()
        self._card: VirtualCard | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lift_on_next = False
        self._lift_after = 0
        self.connections = 0

    @property
    def card(self) -> VirtualCard | None:
        return self._card

    def place(self, card: VirtualCard) -> None:
        with self._lock:
            if self._card is not None:
                raise RuntimeError("a card is already on the reader")
            self._card = card
            self._lift_on_next = False
            self._thread = threading.Thread(target=self._run, args=(card,), name="vcard-slot", daemon=True)
            self._thread.start()

    def lift(self) -> None:
        """Take the card away: the connection closes, pcscd sees the card gone at its next presence poll."""
        with self._lock:
            self._card = None
            thread, self._thread = self._thread, None
            self._drop_socket()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)

    def lift_on_next_command(self, after: int = 0) -> None:
        """After ``after`` more answered commands, the next one is never answered: the card leaves the field
        half-way through it."""
        self._lift_after = after
        self._lift_on_next = True

    def connected(self) -> bool:
        return self._sock is not None

    # -- inside --------------------------------------------------------------------------------------------------

    def _drop_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _run(self, card: VirtualCard) -> None:
        while self._card is card:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:
                time.sleep(self.retry_interval)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._card is not card:
                    sock.close()
                    return
                self._sock = sock
                self.connections += 1
            card.power_on()
            try:
                self._serve(sock, card)
            except OSError:
                pass
            with self._lock:
                if self._sock is sock:
                    self._drop_socket()
            if self._card is card:
                time.sleep(self.retry_interval)  # vpcd went away (pcscd stopped): find it again

    def _serve(self, sock: socket.socket, card: VirtualCard) -> None:
        while self._card is card:
            message = _receive(sock)
            if message is None:
                return
            if len(message) == 1:
                if message[0] == CTRL_ATR:
                    _send(sock, card.atr())
                elif message[0] in (CTRL_ON, CTRL_RESET, CTRL_OFF):
                    card.power_on()
                continue
            if self._lift_on_next and self._lift_after > 0:
                self._lift_after -= 1
            elif self._lift_on_next:
                self._lift_on_next = False
                with self._lock:
                    if self._card is card:
                        self._card = None
                        self._thread = None
                    self._drop_socket()
                log.info("card lifted during a command")
                return
            _send(sock, card.process(message))


def _quickack(sock: socket.socket) -> None:
    if hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


def _receive_exactly(sock: socket.socket, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        _quickack(sock)
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _receive(sock: socket.socket) -> bytes | None:
    header = _receive_exactly(sock, 2)
    if header is None:
        return None
    return _receive_exactly(sock, int.from_bytes(header, "big"))


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)
