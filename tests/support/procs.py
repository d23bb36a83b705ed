"""Processes as /proc shows them (Linux): a process's children and descendants, and their CPU seconds.

Used to find a server's forked workers and PostgreSQL's backends, to check that none outlives its parent, and to
measure how much CPU each side of a benchmark used.
"""
from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _parents() -> dict[int, list[int]]:
    """ppid -> child pids, from one scan of /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def children_of(pid: int) -> list[int]:
    return _parents().get(pid, [])


def descendants(root: int) -> list[int]:
    """root and every process below it."""
    tree, found, todo = _parents(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent's wait() counts as gone)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0


def established_by_process(pids: list[int], port: int) -> dict[int, int]:
    """How many established TCP connections on local ``port`` each of ``pids`` holds (from /proc/net/tcp{,6} and
    each process's file descriptors)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    held = {}
    for pid in pids:
        count = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            count += target.startswith("socket:[") and target[8:-1] in inodes
        held[pid] = count
    return held
