"""The real pcscd with Debian's vpcd reader driver, and the project's virtual card, for the card reader tests.

    world = pcsc_world()                  # one per test process, started on first use, stopped at exit
    world.card("place", card=str(path))   # the virtual card's control socket (see hal/card/vcard/__main__.py)
    world.card("lift", slot=1)            # vpcd has two slots, "Virtual PCD 00 00" and "00 01", a card on each
    world.stop_pcscd(); world.start_pcscd()

pcscd looks for a card coming or going every 400 ms (compiled in); tests that alternate between the two slots
do not wait for the last card's removal to be seen before the next card is placed.

pcscd has its socket path compiled in (``/run/pcscd/pcscd.comm``) and allows one daemon per machine, so it runs in
a private mount namespace (``unshare --mount``) with a private directory bind-mounted on ``/run/pcscd``; the
client library finds it through ``PCSCLITE_CSOCK_NAME`` (read once per process, before the first context, which
is why this module sets it as soon as the world starts).  The vpcd slot listens on a free port chosen here,
through a private reader.conf.d (``pcscd -c DIR``).  Where namespaces are not allowed (an unprivileged
container), pcscd runs plainly on the real ``/run/pcscd`` if no other pcscd is running there.

pcscd and the card run as child processes and are stopped by PID.  When something is missing the world raises
:class:`PcscUnavailable` with what to install; tests skip on it only outside CI (``CI=true`` makes it a failure).
"""
from __future__ import annotations

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
READER = READERS[0]
IN_CI = os.environ.get("CI", "").lower() == "true"


class PcscUnavailable(RuntimeError):
    """pcscd, vpcd or pyscard is missing, or pcscd cannot be started here."""


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies (even by SIGKILL), so no pcscd or card is left
    running.  The "parent" is the forking thread: the world forks only from the main thread."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _free_port_pair() -> int:
    """A port p with p and p+1 free (vpcd opens one per slot)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("0.0.0.0", port + 1))
            except OSError:
                continue
        return port
    raise PcscUnavailable("no free TCP port pair for vpcd")


def missing_parts() -> str | None:
    """What is not installed, or None."""
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        return "pcscd is not installed (apt-get install pcscd)"
    if not VPCD_DRIVER.exists():
        return f"vpcd is not installed ({VPCD_DRIVER} missing: apt-get install vsmartcard-vpcd)"
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        return "pyscard is not installed (pip install -e '.[devices]', needs libpcsclite-dev)"
    return None


class PcscWorld:
    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="kiosk-pcsc-"))
        self.run_dir = self.base / "run"
        self.conf_dir = self.base / "reader.conf.d"
        self.controls = [self.base / f"vcard{slot}.sock" for slot in range(len(READERS))]
        self.run_dir.mkdir()
        self.conf_dir.mkdir()
        self.port = _free_port_pair()
        (self.conf_dir / "vpcd").write_text(
            f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x{self.port:04X}\n'
            f"LIBPATH      {VPCD_DRIVER}\nCHANNELID    0x{self.port:04X}\n")
        self.namespaced = True
        self.pcscd: subprocess.Popen | None = None
        self.vcards: list[subprocess.Popen] = []
        self.pcscd_log = self.base / "pcscd.log"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "pcscd.comm" if self.namespaced else Path("/run/pcscd/pcscd.comm")

    # -- pcscd ---------------------------------------------------------------------------------------------------

    def _pcscd_command(self) -> list[str]:
        pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
        daemon = f"exec {pcscd} --foreground --info -c {self.conf_dir}"
        if not self.namespaced:
            return ["sh", "-c", daemon]
        inner = f"mount --bind {self.run_dir} /run/pcscd && {daemon}"
        if os.geteuid() == 0:
            return ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner]
        return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", inner]

    def start_pcscd(self, timeout: float = 5.0) -> None:
        if self.pcscd is not None and self.pcscd.poll() is None:
            return
        with open(self.pcscd_log, "ab") as log:
            self.pcscd = subprocess.Popen(self._pcscd_command(), stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while not self.socket_path.exists():
            if self.pcscd.poll() is not None:
                tail = self.pcscd_log.read_text(errors="replace")[-600:]
                raise PcscUnavailable(f"pcscd exited with {self.pcscd.returncode}: {tail.strip()}")
            if time.monotonic() > deadline:
                self.stop_pcscd()
                raise PcscUnavailable(f"pcscd did not open {self.socket_path} within {timeout} s")
            time.sleep(0.01)
        self._wait_for_reader(deadline)

    def _wait_for_reader(self, deadline: float) -> None:
        from smartcard import scard
        while time.monotonic() < deadline:
            hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hr == scard.SCARD_S_SUCCESS:
                hr, readers = scard.SCardListReaders(context, [])
                scard.SCardReleaseContext(context)
                if hr == scard.SCARD_S_SUCCESS and set(READERS) <= set(readers):
                    return
            time.sleep(0.02)
        raise PcscUnavailable(f"pcscd started but does not show {READERS} (see {self.pcscd_log})")

    def wait_for_no_card(self, reader: str, timeout: float = 3.0) -> None:
        """Wait until pcscd itself reports no card in ``reader`` (it looks every 400 ms)."""
        self._wait_for_state(reader, "EMPTY", timeout)

    def wait_for_card(self, reader: str, timeout: float = 3.0) -> None:
        """Wait until pcscd itself reports a card in ``reader`` (for clients that do not wait, like OpenSC's)."""
        self._wait_for_state(reader, "PRESENT", timeout)

    def _wait_for_state(self, reader: str, flag: str, timeout: float) -> None:
        from smartcard import scard
        wanted = getattr(scard, f"SCARD_STATE_{flag}")
        hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            raise PcscUnavailable(f"pcscd does not answer ({hr:#x})")
        try:
            state = scard.SCARD_STATE_UNAWARE
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                hr, states = scard.SCardGetStatusChange(context, 100, [(reader, state)])
                if hr == scard.SCARD_S_SUCCESS:
                    state = states[0][1] & ~scard.SCARD_STATE_CHANGED
                    if state & wanted:
                        return
            raise AssertionError(f"pcscd does not show {reader} {flag.lower()} after {timeout} s")
        finally:
            scard.SCardReleaseContext(context)

    def stop_pcscd(self) -> None:
        process, self.pcscd = self.pcscd, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    # -- the virtual card ----------------------------------------------------------------------------------------

    def start_vcards(self, timeout: float = 10.0) -> None:
        """One virtual card process per vpcd slot (the second slot's port is the first's + 1)."""
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for slot, control in enumerate(self.controls):
            with open(self.base / f"vcard{slot}.log", "ab") as log:
                self.vcards.append(subprocess.Popen(
                    [sys.executable, "-m", "hal.card.vcard", "--port", str(self.port + slot),
                     "--control", str(control)],
                    cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                    start_new_session=True, preexec_fn=_die_with_parent))
        deadline = time.monotonic() + timeout
        for process, control in zip(self.vcards, self.controls):
            while not control.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise PcscUnavailable(f"the virtual card did not start (see {self.base}/vcard*.log)")
                time.sleep(0.02)

    def card(self, action: str, slot: int = 0, **fields) -> dict:
        """Send one request to the control socket of the card on ``slot``; raises if it says no."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(self.controls[slot]))
            s.sendall((json.dumps({"do": action, **fields}) + "\n").encode())
            reply = json.loads(s.makefile().readline())
        if not reply.get("ok"):
            raise RuntimeError(f"virtual card: {reply.get('error')}")
        return reply

    # -- the whole world ---------------------------------------------------------------------------------------

    def start(self) -> None:
        missing = missing_parts()
        if missing:
            raise PcscUnavailable(missing)
        self.namespaced = self._namespaces_work()
        if not self.namespaced and Path("/run/pcscd/pcscd.comm").exists():
            raise PcscUnavailable("mount namespaces are not allowed here and another pcscd owns /run/pcscd")
        os.environ["PCSCLITE_CSOCK_NAME"] = str(self.socket_path)
        if self.namespaced and os.geteuid() == 0:
            Path("/run/pcscd").mkdir(parents=True, exist_ok=True)  # the bind mount needs a mount point
        self.start_pcscd()
        self.start_vcards()

    def _namespaces_work(self) -> bool:
        probe = (["unshare", "--mount", "true"] if os.geteuid() == 0
                 else ["unshare", "--user", "--map-root-user", "--mount", "true"])
        if shutil.which("unshare") is None:
            return False
        if os.geteuid() != 0 and not Path("/run/pcscd").is_dir():
            return False
        return subprocess.run(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def close(self) -> None:
        for process in self.vcards:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        self.vcards = []
        self.stop_pcscd()
        shutil.rmtree(self.base, ignore_errors=True)


_world: PcscWorld | None = None
_failure: str | None = None


def pcsc_world() -> PcscWorld:
    """The process's pcscd + virtual card, started on first use (raises :class:`PcscUnavailable`)."""
    global _world, _failure
    if _world is not None:
        return _world
    if _failure is not None:
        raise PcscUnavailable(_failure)
    world = PcscWorld()
    try:
        world.start()
    except BaseException as e:
        world.close()
        _failure = str(e)
        raise
    _world = world
    atexit.register(world.close)
    return world


def require_pcsc_world() -> PcscWorld:
    """:func:`pcsc_world` for a test: skip when it cannot run here, except in CI, where that is a failure."""
    import pytest
    try:
        return pcsc_world()
    except PcscUnavailable as e:
        if IN_CI:
            pytest.fail(f"CI=true and the PC/SC test world cannot run: {e}", pytrace=False)
        pytest.skip(f"PC/SC test world unavailable: {e}")
