"""A release bundle: a gzip'd tar of one kiosk release, with ``release.json`` at its top.

``release.json``: ``{"version": "1.4.0", "start": [...], "wheels": true|false}``.  On a real build
the source directory holds the kiosk's start script and ``wheels/`` (the project's wheel and its pinned
dependencies, made by `pip wheel` on the build machine), which the kiosk installs offline into the release's own
virtual environment.  The tar is deterministic (sorted names, zero times, root-owned) so the same source gives the
same SHA-256.
"""
from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from pathlib import Path

VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class BundleError(Exception):
    pass


def build_bundle(source: Path, version: str, out: Path) -> Path:
    """Write ``out`` (a .tar.gz) from the files under ``source``; returns ``out``."""
    if not VERSION.fullmatch(version):
        raise BundleError(f"a release version is MAJOR.MINOR.PATCH (got {version!r})")
    source = Path(source)
    manifest_path = source / "release.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    if not isinstance(manifest.get("start"), list) or not manifest["start"]:
        raise BundleError(f"{manifest_path} must name the release's start command: {{\"start\": [\"bin/kiosk\"]}}")
    manifest.update(version=version, wheels=(source / "wheels").is_dir())
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(out, "wb", compresslevel=6, mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        data = json.dumps(manifest, indent=2).encode("utf-8")
        tar.addfile(_info("release.json", len(data), 0o644), io.BytesIO(data))
        for path in sorted(p for p in source.rglob("*") if p.name != "release.json" or p.parent != source):
            rel = path.relative_to(source).as_posix()
            if path.is_symlink():
                raise BundleError(f"{rel}: a bundle holds no symbolic links")
            if path.is_dir():
                tar.addfile(_info(rel, 0, 0o755, tarfile.DIRTYPE))
            else:
                mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
                with open(path, "rb") as f:
                    tar.addfile(_info(rel, path.stat().st_size, mode), f)
    return out


def _info(name: str, size: int, mode: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.type, info.mtime = size, mode, kind, 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
