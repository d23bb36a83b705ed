"""The city's TUF repository of kiosk releases (python-tuf's Metadata API).

Four roles, each with its own key file (PEM, PKCS#8), taken by path so that the root and targets keys can live
offline (a USB stick in the security office's safe) and be plugged in only to sign:

- ``root``: which keys may sign which role; rotated by a new root signed by the old and the new key;
- ``targets``: which releases exist (name, length, SHA-256, version); signed when a release is added;
- ``snapshot`` and ``timestamp``: the current versions of the others, with short expiry; the timestamp is re-signed
  daily by an online key (``kiosk-server updates refresh``), so a frozen mirror is noticed within a day.

Consistent snapshots: metadata is written as ``N.<role>.json`` and targets as ``<sha256>.<name>``, so a kiosk that
fetches while a release is being added never mixes two versions.  Layout: ``<repo>/metadata/``, ``<repo>/targets/``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import (Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp)
from tuf.api.serialization.json import JSONSerializer

ROLES = ("root", "targets", "snapshot", "timestamp")
# how long each role's signature stays valid when it is (re)signed; the kiosks warn well before (updates_status)
LIFETIMES = {"root": timedelta(days=365), "targets": timedelta(days=90), "snapshot": timedelta(days=7),
             "timestamp": timedelta(days=1)}
RELEASE_PREFIX = "kiosk-"


class RepositoryError(Exception):
    """Something the city's staff must fix; the message says what."""


def make_key(path: Path) -> str:
    """A new Ed25519 signing key at ``path`` (0600) and its public half at ``path.pub``; returns its key id."""
    key = ed25519.Ed25519PrivateKey.generate()
    if path.exists():
        raise RepositoryError(f"{path} exists: a key is never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    path.with_suffix(path.suffix + ".pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return SSlibKey.from_crypto(key.public_key()).keyid


def load_signer(path: Path) -> CryptoSigner:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise RepositoryError(f"cannot read the signing key {path} ({type(exc).__name__})") from None
    return CryptoSigner(key, SSlibKey.from_crypto(key.public_key()))


def _expiry(role: str, now: datetime | None, lifetime: timedelta | None) -> datetime:
    return ((now or datetime.now(timezone.utc)) + (lifetime or LIFETIMES[role])).replace(microsecond=0)


@dataclass
class Repository:
    path: Path

    @property
    def metadata(self) -> Path:
        return self.path / "metadata"

    @property
    def targets_dir(self) -> Path:
        return self.path / "targets"

    def load(self, role: str) -> Metadata:
        if not (self.metadata / f"{role}.json").exists():
            raise RepositoryError(f"{self.metadata / (role + '.json')} is missing: run `kiosk-server updates "
                                  "init` first")
        return Metadata.from_file(str(self.metadata / f"{role}.json"))

    def _write(self, md: Metadata, role: str, versioned: bool) -> None:
        data = md.to_bytes(JSONSerializer(compact=False))
        names = [f"{role}.json"] + ([f"{md.signed.version}.{role}.json"] if versioned else [])
        for name in reversed(names):  # the versioned file first: what timestamp names always exists
            tmp = self.metadata / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self.metadata / name)

    def _sign(self, md: Metadata, *signer_paths: Path) -> None:
        md.signatures.clear()
        for path in signer_paths:
            md.sign(load_signer(path), append=True)

    # ---- the commands --------------------------------------------------------------------------------------
    def init(self, keys: dict[str, Path], now: datetime | None = None) -> None:
        """A new repository: root (version 1) naming one key per role, empty targets, snapshot and timestamp."""
        if (self.metadata / "root.json").exists():
            raise RepositoryError(f"{self.path} already holds a repository")
        self.metadata.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        root = Metadata(Root(expires=_expiry("root", now, None), consistent_snapshot=True))
        for role in ROLES:
            root.signed.add_key(load_signer(keys[role]).public_key, role)
        self._sign(root, keys["root"])
        self._write(root, "root", versioned=True)
        targets = Metadata(Targets(expires=_expiry("targets", now, None)))
        self._sign(targets, keys["targets"])
        self._write(targets, "targets", versioned=True)
        self.snapshot_and_timestamp(keys["snapshot"], keys["timestamp"], now=now)

    def add_release(self, bundle: Path, version: str, targets_key: Path, snapshot_key: Path, timestamp_key: Path,
                    now: datetime | None = None) -> TargetFile:
        """Put a release bundle among the targets (hash-prefixed) and sign targets, snapshot and timestamp."""
        name = f"{RELEASE_PREFIX}{version}.tar.gz"
        targets = self.load("targets")
        if name in targets.signed.targets:
            raise RepositoryError(f"release {version} is already in the repository (a version is never reused)")
        info = TargetFile.from_file(name, str(bundle), ["sha256"])
        info.unrecognized_fields["custom"] = {"version": version, "kind": "kiosk-release"}
        digest = info.hashes["sha256"]
        shutil.copyfile(bundle, self.targets_dir / f"{digest}.{name}")
        targets.signed.targets[name] = info
        targets.signed.version += 1
        targets.signed.expires = _expiry("targets", now, None)
        self._sign(targets, targets_key)
        self._write(targets, "targets", versioned=True)
        self.snapshot_and_timestamp(snapshot_key, timestamp_key, now=now)
        return info

    def snapshot_and_timestamp(self, snapshot_key: Path | None, timestamp_key: Path, now: datetime | None = None,
                               lifetime: timedelta | None = None) -> None:
        """Re-sign the timestamp (and the snapshot, when its key is given) with fresh expiry dates."""
        if snapshot_key is not None:
            targets = self.load("targets")
            try:
                snapshot = self.load("snapshot")
                snapshot.signed.version += 1
            except RepositoryError:
                snapshot = Metadata(Snapshot())
            snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
            snapshot.signed.expires = _expiry("snapshot", now, lifetime)
            self._sign(snapshot, snapshot_key)
            self._write(snapshot, "snapshot", versioned=True)
        snapshot = self.load("snapshot")
        try:
            timestamp = self.load("timestamp")
            timestamp.signed.version += 1
        except RepositoryError:
            timestamp = Metadata(Timestamp())
        timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
        timestamp.signed.expires = _expiry("timestamp", now, lifetime)
        self._sign(timestamp, timestamp_key)
        self._write(timestamp, "timestamp", versioned=False)

    def resign_targets(self, targets_key: Path, snapshot_key: Path, timestamp_key: Path,
                       now: datetime | None = None) -> None:
        """The same releases, signed again with a fresh expiry date (before targets expires)."""
        targets = self.load("targets")
        targets.signed.version += 1
        targets.signed.expires = _expiry("targets", now, None)
        self._sign(targets, targets_key)
        self._write(targets, "targets", versioned=True)
        self.snapshot_and_timestamp(snapshot_key, timestamp_key, now=now)

    def rotate_root(self, old_root_key: Path, new_root_key: Path, now: datetime | None = None) -> int:
        """Root version N+1 trusting ``new_root_key`` for root, signed by the old key and the new one (a kiosk
        that trusts N verifies N+1 with N's keys, then N+1's own).  Returns the new version."""
        root = self.load("root")
        old = load_signer(old_root_key).public_key
        new = load_signer(new_root_key).public_key
        if old.keyid not in root.signed.roles["root"].keyids:
            raise RepositoryError(f"{old_root_key} is not the current root key")
        root.signed.revoke_key(old.keyid, "root")
        root.signed.add_key(new, "root")
        root.signed.version += 1
        root.signed.expires = _expiry("root", now, None)
        self._sign(root, old_root_key, new_root_key)
        self._write(root, "root", versioned=True)
        return root.signed.version

    def releases(self) -> dict[str, TargetFile]:
        return dict(self.load("targets").signed.targets)

    def expiries(self) -> dict[str, datetime]:
        return {role: self.load(role).signed.expires for role in ROLES}

    def root_json(self) -> bytes:
        """The current root (what a kiosk enrolled today pins)."""
        return (self.metadata / "root.json").read_bytes()


def expiry_warnings(expiries: dict[str, datetime], now: datetime | None = None) -> list[str]:
    """Plain-words warnings for roles that expire soon: a quarter of their lifetime ahead (root: 90 days, targets:
    22 days, snapshot: ~2 days, timestamp: 6 hours) — or have expired."""
    now = now or datetime.now(timezone.utc)
    words = []
    for role, when in expiries.items():
        left = when - now
        if left <= timedelta(0):
            words.append(f"{role} metadata EXPIRED on {when:%Y-%m-%d %H:%M} UTC: kiosks refuse every update until it "
                         f"is re-signed ({_how(role)})")
        elif left <= LIFETIMES[role] / 4:
            words.append(f"{role} metadata expires on {when:%Y-%m-%d %H:%M} UTC (in {_span(left)}): {_how(role)}")
    return words


def _how(role: str) -> str:
    return {"timestamp": "kiosk-server updates refresh --timestamp-key …",
            "snapshot": "kiosk-server updates refresh --snapshot-key … --timestamp-key …",
            "targets": "kiosk-server updates refresh --targets-key … with the offline targets key",
            "root": "kiosk-server updates rotate-root with the offline root keys"}[role]


def _span(left: timedelta) -> str:
    hours = left.total_seconds() / 3600
    return f"{hours / 24:.0f} days" if hours >= 48 else f"{hours:.0f} hours"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def release_manifest(bundle_root: Path) -> dict:
    return json.loads((bundle_root / "release.json").read_text(encoding="utf-8"))
