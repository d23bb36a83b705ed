"""``kiosk-server updates …``: the city's release signing (server/updates_repo.py).

    kiosk-server updates keygen --out KEYFILE                 # one per role; root and targets stay offline
    kiosk-server updates init --repo DIR --root-key K --targets-key K --snapshot-key K --timestamp-key K
    kiosk-server updates build --source DIR --version 1.4.0 --out kiosk-1.4.0.tar.gz
    kiosk-server updates add-release --repo DIR --bundle F --version 1.4.0 --targets-key K --snapshot-key K \\
                                     --timestamp-key K
    kiosk-server updates refresh --repo DIR --timestamp-key K [--snapshot-key K] [--targets-key K]
    kiosk-server updates rotate-root --repo DIR --old-root-key K --new-root-key K
    kiosk-server updates status --repo DIR                    # releases and expiry warnings (exit 1: warnings)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMAND = "updates"


def add_command(commands) -> None:
    updates = commands.add_parser(COMMAND, help="sign and publish kiosk releases (the TUF repository)")
    sub = updates.add_subparsers(dest="updates_command", required=True)
    keygen = sub.add_parser("keygen", help="make an Ed25519 signing key file (and KEYFILE.pub)")
    keygen.add_argument("--out", required=True, type=Path)
    init = sub.add_parser("init", help="a new repository, one key per role")
    _repo(init)
    for role in ("root", "targets", "snapshot", "timestamp"):
        init.add_argument(f"--{role}-key", required=True, type=Path)
    build = sub.add_parser("build", help="a release bundle from a directory (release.json names its start)")
    build.add_argument("--source", required=True, type=Path)
    build.add_argument("--version", required=True)
    build.add_argument("--out", required=True, type=Path)
    add = sub.add_parser("add-release", help="add a bundle to the targets and sign")
    _repo(add)
    add.add_argument("--bundle", required=True, type=Path)
    add.add_argument("--version", required=True)
    for role in ("targets", "snapshot", "timestamp"):
        add.add_argument(f"--{role}-key", required=True, type=Path)
    refresh = sub.add_parser("refresh", help="re-sign timestamp (daily), and snapshot/targets when their keys "
                             "are given")
    _repo(refresh)
    refresh.add_argument("--timestamp-key", required=True, type=Path)
    refresh.add_argument("--snapshot-key", type=Path)
    refresh.add_argument("--targets-key", type=Path)
    rotate = sub.add_parser("rotate-root", help="a new root version trusting a new root key, signed by both")
    _repo(rotate)
    rotate.add_argument("--old-root-key", required=True, type=Path)
    rotate.add_argument("--new-root-key", required=True, type=Path)
    status = sub.add_parser("status", help="releases and how long each role's signature has left")
    _repo(status)


def _repo(parser) -> None:
    parser.add_argument("--repo", required=True, type=Path, help="the repository directory (metadata/, targets/)")


def run(args: argparse.Namespace) -> int:
    from server.updates_bundle import BundleError, build_bundle
    from server.updates_repo import Repository, RepositoryError, expiry_warnings, make_key

    name = args.updates_command
    try:
        if name == "keygen":
            print(f"key {make_key(args.out)} written to {args.out} (keep it offline unless it is the timestamp "
                  "or snapshot key)")
            return 0
        if name == "build":
            out = build_bundle(args.source, args.version, args.out)
            print(f"release bundle {out}")
            return 0
        repo = Repository(args.repo)
        if name == "init":
            repo.init({"root": args.root_key, "targets": args.targets_key, "snapshot": args.snapshot_key,
                       "timestamp": args.timestamp_key})
            print(f"repository made in {args.repo}")
        elif name == "add-release":
            if args.snapshot_key is None:
                raise RepositoryError("--snapshot-key is needed")
            info = repo.add_release(args.bundle, args.version, args.targets_key, args.snapshot_key,
                                    args.timestamp_key)
            print(f"release {args.version} added: {info.length} bytes, sha256 {info.hashes['sha256']}")
        elif name == "refresh":
            if args.targets_key is not None:
                if args.snapshot_key is None:
                    raise RepositoryError("re-signing targets needs --snapshot-key too")
                repo.resign_targets(args.targets_key, args.snapshot_key, args.timestamp_key)
            else:
                repo.snapshot_and_timestamp(args.snapshot_key, args.timestamp_key)
            print("re-signed: " + ", ".join(f"{r} until {t:%Y-%m-%d %H:%M} UTC" for r, t in repo.expiries().items()))
        elif name == "rotate-root":
            print(f"root version {repo.rotate_root(args.old_root_key, args.new_root_key)} written; kiosks take it "
                  "at their next check")
        elif name == "status":
            for release, info in sorted(repo.releases().items()):
                print(f"{release}  {info.length} bytes  sha256 {info.hashes['sha256'][:16]}…")
            for role, when in repo.expiries().items():
                print(f"{role:9} expires {when:%Y-%m-%d %H:%M} UTC")
            warnings = expiry_warnings(repo.expiries())
            for line in warnings:
                print(f"WARNING: {line}")
            return 1 if warnings else 0
        return 0
    except (RepositoryError, BundleError) as exc:
        print(f"kiosk-server updates {name}: {exc}", file=sys.stderr)
        return 2
