"""The wire emulators in a process of their own, as a device is a box of its own (issue #18).

A driver and an emulator in one process share one interpreter lock.  When the test process collects garbage (a
full collection of pytest's heap took 40–90 ms on a loaded 2-core machine, longer late in ``make test``), or the
kernel takes the CPU from the thread that holds the lock, the emulator's thread cannot run: the request sits in the
pty unread while the driver's reply budget runs out, and a driver that is right reports "no answer".  A real device
answers in its own time whatever the kiosk's process does, and the driver reads that answer after its own pauses.

So the emulators live in one host process per test process, started on first use and killed by PID at exit; a test
holds a :class:`Remote` for each.  A remote reads an attribute, sets one, or calls a method in the host::

    notes = hosted("hal.notes.id003_emulator:Id003Emulator")(transient_polls=4).start()
    notes.insert_note(1000)            # runs in the host
    notes.port                         # '/dev/pts/7': the driver opens it here
    with bus.lock: ...                 # the host's lock, held for the block

A plain value (numbers, text, bytes, and lists, tuples, dicts of them) comes back as a read-only copy, so a test
that tries to change one in place (``emulator.received.clear()``) fails loudly instead of changing a copy; any
other object (an emulator on a bus, a lock, a script) comes back as another remote.  Remotes passed as arguments
arrive in the host as the objects they stand for.  An exception in the host is raised in the test.
"""
from __future__ import annotations

import atexit
import importlib
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PLAIN = (int, float, bool, str, bytes, type(None))


class ReadOnlyList(list):
    """A copy of a list held by an emulator: change it through the emulator's methods, not here."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("this is a copy of an emulator's list; change the emulator, not the copy")

    append = extend = insert = remove = pop = clear = sort = reverse = __setitem__ = __delitem__ = _refuse
    __iadd__ = __imul__ = _refuse

    def __reduce__(self):
        return ReadOnlyList, (list(self),)


class ReadOnlyDict(dict):
    """A copy of a dict held by an emulator."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("this is a copy of an emulator's dict; change the emulator, not the copy")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):
        return ReadOnlyDict, (dict(self),)


class Ref:
    """A remote on its way to the host: replaced there by the object it stands for."""

    def __init__(self, oid: int):
        self.oid = oid


# ---- the host process ---------------------------------------------------------------------------------------------

def _snapshot(value, depth: int = 0):
    """A read-only copy of a plain value, or None when it is not plain (it then travels as a remote)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if depth > 4:
        return None
    if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "deque":
        items = [_snapshot(v, depth + 1) for v in value]
        if any(i is None and v is not None for i, v in zip(items, value)):
            return None
        return tuple(items) if isinstance(value, tuple) else (
            frozenset(items) if isinstance(value, (set, frozenset)) else ReadOnlyList(items))
    if isinstance(value, dict):
        pairs = [(_snapshot(k, depth + 1), _snapshot(v, depth + 1)) for k, v in value.items()]
        if any((k is None) or (s is None and v is not None) for (k, s), v in zip(pairs, value.values())):
            return None
        return ReadOnlyDict(pairs)
    return None


class _Host:
    def __init__(self):
        self.objects: dict[int, list] = {}  # oid -> [object, references handed out]
        self.lock = threading.Lock()

    def ref(self, obj) -> tuple:
        with self.lock:
            entry = self.objects.setdefault(id(obj), [obj, 0])
            entry[1] += 1
        return ("ref", id(obj), type(obj).__name__)

    def drop(self, oid: int) -> None:
        with self.lock:
            entry = self.objects.get(oid)
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0:
                    del self.objects[oid]

    def resolve(self, value):
        if isinstance(value, Ref):
            return self.objects[value.oid][0]
        if isinstance(value, (list, tuple)):
            return type(value)(self.resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def answer(self, value) -> tuple:
        plain = _snapshot(value)
        if plain is not None or value is None:
            return ("value", plain)
        return self.ref(value)

    def run(self, op: str, args: tuple):
        if op == "new":
            module, _, name = args[0].partition(":")
            cls = getattr(importlib.import_module(module), name)
            return self.ref(cls(*self.resolve(args[1]), **self.resolve(args[2])))
        obj = self.objects[args[0]][0]
        if op == "get":
            value = getattr(obj, args[1])
            if callable(value) and not isinstance(value, type) and hasattr(value, "__self__"):
                return ("method",)
            return self.answer(value)
        if op == "set":
            setattr(obj, args[1], self.resolve(args[2]))
            return ("value", None)
        if op == "call":
            return self.answer(getattr(obj, args[1])(*self.resolve(args[2]), **self.resolve(args[3])))
        if op == "iter":
            return ("items", [self.answer(item) for item in list(obj)])
        raise ValueError(f"unknown operation {op!r}")

    def serve(self, conn: Connection) -> None:
        with conn:
            while True:
                try:
                    op, args, drops = conn.recv()
                except (EOFError, OSError):
                    return
                for oid in drops:
                    self.drop(oid)
                try:
                    reply = ("ok", self.run(op, args))
                except BaseException as e:  # noqa: BLE001 - every error goes back to the test that asked
                    reply = ("error", _portable(e))
                conn.send(reply)


def _portable(e: BaseException) -> BaseException:
    """``e`` if it survives pickling (most do), else a RuntimeError that names it."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:  # noqa: BLE001
        return RuntimeError(f"in the emulator host: {type(e).__name__}: {e}")


HIGH_PRIORITY = -10  # the nice value where a real-time policy is refused


def punctual() -> str:
    """Make this process run like a device with a processor of its own, so the ordinary processes of a loaded
    machine never keep an emulator from answering (the wire loop of issue #18 saw the host's threads wait up to a
    second for a CPU).  Real-time round-robin at the lowest priority if the kernel allows it (a cgroup without a
    real-time budget refuses even root), else a nice value of -10, else nothing; every thread the host starts
    inherits it.  The emulators need little CPU, and the kernel keeps 5 % of every second for ordinary processes
    from real-time ones anyway.  Returns which it got: "real-time", "high" or "ordinary"."""
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(os.sched_get_priority_min(os.SCHED_RR)))
        return "real-time"
    except OSError:
        pass
    try:
        os.nice(HIGH_PRIORITY - os.nice(0))
        return "high"
    except OSError:
        return "ordinary"


def main() -> None:
    address, key = sys.argv[1], bytes.fromhex(sys.argv[2])
    host = _Host()
    priority = punctual()  # before any thread starts: threads inherit it
    with Listener(address, family="AF_UNIX", authkey=key) as listener:
        print("ready", priority, flush=True)
        while True:
            conn = listener.accept()
            threading.Thread(target=host.serve, args=(conn,), daemon=True, name="device-host-conn").start()


# ---- the test's side ----------------------------------------------------------------------------------------------

class _Client:
    """The test process's end: the host process, and one connection per thread of the test (a lock held through a
    ``with`` block is held by one host thread from enter to exit)."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="device-host-")
        self.address = os.path.join(self.folder, "host.sock")
        self.key = os.urandom(16)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen([sys.executable, "-m", "tests.support.device_host", self.address,
                                         self.key.hex()], cwd=ROOT, env=env, stdout=subprocess.PIPE)
        ready = self.process.stdout.readline().split()
        if ready[:1] != [b"ready"]:
            raise RuntimeError(f"the emulator host did not start (exit code {self.process.poll()})")
        self.priority = ready[1].decode() if len(ready) > 1 else "ordinary"
        self.local = threading.local()
        self.drops: list[int] = []
        self.drops_lock = threading.Lock()
        atexit.register(self.close)

    def ask(self, op: str, *args):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = Client(self.address, family="AF_UNIX", authkey=self.key)
        with self.drops_lock:
            drops, self.drops = self.drops, []
        conn.send((op, args, drops))
        status, value = conn.recv()
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        try:
            os.unlink(self.address)
            os.rmdir(self.folder)
        except OSError:
            pass


_client: _Client | None = None
_client_lock = threading.Lock()


def _host() -> _Client:
    global _client
    with _client_lock:
        if _client is None or _client.process.poll() is not None:
            _client = _Client()
        return _client


def _outgoing(value):
    if isinstance(value, Remote):
        return Ref(object.__getattribute__(value, "_oid"))
    if isinstance(value, (list, tuple)):
        return type(value)(_outgoing(v) for v in value)
    if isinstance(value, dict):
        return {k: _outgoing(v) for k, v in value.items()}
    return value


def _incoming(client: _Client, answer: tuple):
    if answer[0] == "value":
        return answer[1]
    if answer[0] == "items":
        return [_incoming(client, item) for item in answer[1]]
    return Remote(client, answer[1], answer[2])


class Remote:
    """An object that lives in the emulator host."""

    def __init__(self, client: _Client, oid: int, kind: str):
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_oid", oid)
        object.__setattr__(self, "_kind", kind)

    def _call(self, name: str, *args, **kwargs):
        client = object.__getattribute__(self, "_client")
        answer = client.ask("call", object.__getattribute__(self, "_oid"), name, _outgoing(args), _outgoing(kwargs))
        return _incoming(client, answer)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        client = object.__getattribute__(self, "_client")
        answer = client.ask("get", object.__getattribute__(self, "_oid"), name)
        if answer[0] == "method":
            return lambda *args, **kwargs: self._call(name, *args, **kwargs)
        return _incoming(client, answer)

    def __setattr__(self, name: str, value) -> None:
        client = object.__getattribute__(self, "_client")
        client.ask("set", object.__getattribute__(self, "_oid"), name, _outgoing(value))

    def __enter__(self):
        return self._call("__enter__")

    def __exit__(self, *exc) -> bool:
        return bool(self._call("__exit__", None, None, None))

    def __getitem__(self, key):
        return self._call("__getitem__", key)

    def __setitem__(self, key, value) -> None:
        self._call("__setitem__", key, value)

    def __bool__(self) -> bool:  # a remote stands for an object, which is there (``emulator or Default()``)
        return True

    def __len__(self) -> int:
        return self._call("__len__")

    def __iter__(self):
        client = object.__getattribute__(self, "_client")
        return iter(_incoming(client, client.ask("iter", object.__getattribute__(self, "_oid"))))

    def __contains__(self, item) -> bool:
        return self._call("__contains__", item)

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_kind')} in the emulator host>"

    def __del__(self):
        client = object.__getattribute__(self, "_client")
        if client.process.poll() is None:  # a host that is gone has nothing left to release
            with client.drops_lock:  # sent with the next request: a finaliser must not talk mid-request
                client.drops.append(object.__getattribute__(self, "_oid"))


def hosted(target: str):
    """A constructor for ``module:Class`` that builds the object in the emulator host and returns its remote."""
    def build(*args, **kwargs) -> Remote:
        client = _host()
        return _incoming(client, client.ask("new", target, _outgoing(args), _outgoing(kwargs)))
    build.__name__ = target.rpartition(":")[2]
    return build


if __name__ == "__main__":  # the module by its name, so the Ref and the lists a test sends are its own classes
    from tests.support.device_host import main as host_main
    host_main()
