"""Which release the city has signed, and its bytes, verified by TUF (python-tuf's ngclient) over the kiosk's mTLS.

The trust starts at the root the kiosk was given at enrolment (``/etc/kiosk/update/root.json``, written by
kiosk-provision; never fetched on first use).  ngclient then walks any newer roots (each signed by the keys of
the one before), the timestamp, the snapshot and the targets, and refuses: a signature by a key the root does not
name (``UnsignedMetadataError``), metadata older than what this kiosk saw before (``BadVersionNumberError``: a
rollback attack), metadata past its expiry (``ExpiredMetadataError``: a freeze attack), and a target whose length
or SHA-256 is not the signed one (``LengthOrHashMismatchError``: a tampered bundle).  Every refusal becomes an
:class:`UpdateRefused` with a reason code and plain words.

A clock that is not synchronised cannot tell a fresh timestamp from a frozen one: then nothing is judged and
nothing installs (reason ``clock_not_synchronised``), and the kiosk says so.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

from firmware.server_client import ServerEndpoint, tls_context

METADATA_PATH = "/v1/updates/metadata/"
TARGETS_PATH = "/v1/updates/targets/"
RELEASE_PREFIX = "kiosk-"


class UpdateRefused(Exception):
    """No release was accepted; ``reason`` is a code for the record, the message plain words."""

    def __init__(self, reason: str, words: str):
        super().__init__(f"{reason}: {words}")
        self.reason, self.words = reason, words


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class MtlsFetcher(FetcherInterface):
    """ngclient's network side, through httpx with the kiosk's device certificate (the city's CA only)."""

    def __init__(self, endpoint: ServerEndpoint, timeout_s: float = 60.0):
        self._client = httpx.Client(verify=tls_context(endpoint), trust_env=False, timeout=timeout_s)

    def _fetch(self, url: str) -> Iterator[bytes]:
        request = self._client.build_request("GET", url)
        reply = self._client.send(request, stream=True)
        if reply.status_code != 200:
            reply.close()
            raise tuf_errors.DownloadHTTPError(f"HTTP {reply.status_code} for {url}", reply.status_code)
        return self._chunks(reply)

    @staticmethod
    def _chunks(reply: httpx.Response) -> Iterator[bytes]:
        try:
            yield from reply.iter_bytes(1 << 16)
        finally:
            reply.close()

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class Offered:
    version: str
    target: str
    length: int
    sha256: str


@dataclass(frozen=True)
class Expiry:
    role: str
    expires: datetime


class ReleaseSource:
    """One check against the city's repository: :meth:`latest` and :meth:`download`."""

    def __init__(self, endpoint: ServerEndpoint, trusted_root: Path, cache: Path,
                 clock_synchronised=lambda: True, now=lambda: datetime.now(timezone.utc)):
        self.endpoint, self.trusted_root, self.cache = endpoint, Path(trusted_root), Path(cache)
        self._clock_synchronised, self._now = clock_synchronised, now
        self._updater: Updater | None = None
        self._fetcher: MtlsFetcher | None = None

    def _refresh(self) -> Updater:
        if not self._clock_synchronised():
            raise UpdateRefused("clock_not_synchronised", "the clock is not synchronised, so the expiry of the "
                                "city's signatures cannot be judged: no update is checked until network time "
                                "has arrived")
        metadata_dir = self.cache / "metadata"
        metadata_dir.mkdir(parents=True, exist_ok=True)
        bootstrap = None
        if not (metadata_dir / "root.json").exists():
            try:
                bootstrap = self.trusted_root.read_bytes()
            except OSError:
                raise UpdateRefused("no_trusted_root", f"{self.trusted_root} is missing: the kiosk was provisioned "
                                    "without the city's update root (kiosk-provision --redo enrol)") from None
        base = self.endpoint.url.rstrip("/")
        self._fetcher = MtlsFetcher(self.endpoint)
        try:
            updater = Updater(str(metadata_dir), base + METADATA_PATH, str(self.cache / "downloads"),
                              base + TARGETS_PATH, fetcher=self._fetcher, config=UpdaterConfig(),
                              bootstrap=bootstrap)
            updater.refresh()
        except tuf_errors.RepositoryError as exc:
            raise _refusal(exc) from None
        except tuf_errors.DownloadError as exc:
            raise UpdateRefused("repository_unreachable", f"the city's update repository could not be read "
                                f"({type(exc).__name__}: {exc})") from None
        self._updater = updater
        return updater

    def latest(self, running: str | None) -> Offered | None:
        """The newest signed release, or None when it is not newer than ``running``.  An older one offered as
        newest is refused (``older_than_running``)."""
        updater = self._refresh()
        targets = updater._trusted_set.targets.targets  # the top-level targets ngclient verified (no public list)
        releases = []
        for name, info in targets.items():
            custom = info.unrecognized_fields.get("custom") or {}
            version = custom.get("version")
            if name.startswith(RELEASE_PREFIX) and isinstance(version, str) and name == f"{RELEASE_PREFIX}{version}.tar.gz":
                releases.append((version_key(version), version, info))
        if not releases:
            return None
        _, version, info = max(releases)
        if running is not None and version_key(version) < version_key(running):
            raise UpdateRefused("older_than_running", f"the newest signed release is {version}, older than the "
                                f"running {running}: a downgrade is never installed")
        if running is not None and version_key(version) == version_key(running):
            return None
        return Offered(version, info.path, info.length, info.hashes["sha256"])

    def download(self, offered: Offered, into: Path) -> Path:
        """The bundle, its length and SHA-256 checked against the signed targets; written to ``into``."""
        updater = self._updater or self._refresh()
        info = updater.get_targetinfo(offered.target)
        if info is None:
            raise UpdateRefused("not_signed", f"{offered.target} is not among the signed releases")
        into.parent.mkdir(parents=True, exist_ok=True)
        try:
            path = updater.download_target(info, str(into))
        except tuf_errors.RepositoryError as exc:
            raise _refusal(exc) from None
        except tuf_errors.DownloadError as exc:
            raise UpdateRefused("download_failed", f"{offered.target}: {type(exc).__name__}: {exc}") from None
        return Path(path)

    def expiries(self) -> list[Expiry]:
        """When each role's current signature runs out (after a refresh)."""
        if self._updater is None:
            self._refresh()
        # ngclient writes a role's file only after it verified it: these copies are the trusted metadata
        metadata_dir = self.cache / "metadata"
        return [Expiry(role, Metadata.from_file(str(metadata_dir / f"{role}.json")).signed.expires)
                for role in ("root", "timestamp", "snapshot", "targets")]

    def warnings(self, ahead: timedelta = timedelta(hours=12)) -> list[str]:
        """Roles that expire within ``ahead`` (timestamp: a quarter of its day), for telemetry."""
        now = self._now()
        limits = {"root": timedelta(days=60), "targets": timedelta(days=14), "snapshot": timedelta(days=2),
                  "timestamp": ahead}
        return [f"{e.role}_expires_soon:{e.expires:%Y-%m-%dT%H:%MZ}" for e in self.expiries()
                if e.expires - now <= limits[e.role]]

    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()

    def forget(self) -> None:
        """Drop the cached downloads (never the metadata: its versions are the rollback protection)."""
        shutil.rmtree(self.cache / "downloads", ignore_errors=True)


def _refusal(exc: Exception) -> UpdateRefused:
    name = type(exc).__name__
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return UpdateRefused("metadata_expired", f"the city's signed metadata has expired ({exc}): a frozen or "
                             "stale repository; nothing installs until it is re-signed")
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return UpdateRefused("metadata_rollback", f"the repository offers metadata older than this kiosk has "
                             f"already seen ({exc}): a rollback attack or a restored backup")
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return UpdateRefused("bad_signature", f"metadata not signed by the keys the city's root names ({exc})")
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError):
        return UpdateRefused("bundle_mismatch", f"the bundle is not the one the city signed ({exc})")
    return UpdateRefused("repository_invalid", f"{name}: {exc}")


def clock_synchronised_check(flag: Path = Path("/run/systemd/timesync/synchronized"), use_kernel: bool = True):
    """timesyncd's flag file, else the kernel's NTP state (firmware.health)."""
    def check() -> bool:
        if Path(flag).exists():
            return True
        if not use_kernel:
            return False
        from firmware.health import adjtimex_synchronised

        return adjtimex_synchronised() is True
    return check
