"""Atomic file writes: a temporary file beside the target, fsync, rename, fsync of the directory.  A kill at any
moment leaves either the old file or the new one, never half of one.  Secrets are created with their final mode
(0600) so they are never readable by others, not even for an instant."""
from __future__ import annotations

import os
from pathlib import Path

SECRET = 0o600


def atomic_write(path: Path, data: bytes | str, mode: int = 0o644) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    _sync_directory(path.parent)
    return path


def wipe(path: Path) -> bool:
    """Overwrite a secret file with zeros, then remove it; True when there was one."""
    path = Path(path)
    if not path.exists():
        return False
    size = path.stat().st_size
    with open(path, "r+b") as out:
        out.write(b"\0" * size)
        out.flush()
        os.fsync(out.fileno())
    path.unlink()
    _sync_directory(path.parent)
    return True


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
