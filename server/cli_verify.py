"""``kiosk-server verify FILE --config server.toml``: the command line of :mod:`server.verify`.

Exit status 0 valid, 1 invalid, 2 usage error (missing file, bad configuration, not a PDF or an image).  The
verification modules (pdfium, the QR reader, the database) are imported only when the command runs, so the
other ``kiosk-server`` commands start as fast as before.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_command(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser("verify", help="check a saved certificate PDF or a scanned page image",
                                 description="Exit status: 0 valid, 1 invalid, 2 usage error.")
    verify.add_argument("file", type=Path, help="a PDF as issued, or a scanned/photographed page (PNG, JPEG)")
    verify.add_argument("--config", required=True, type=Path, help="the server's server.toml (keys, database)")
    verify.add_argument("--offline", action="store_true",
                        help="check the signatures only, without the issuance record")


def run(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from server.config import ConfigError, load_config
    from server.db import open_database
    from server.verify import NotADocument, verify_file

    def usage(message: str) -> int:
        print(f"kiosk-server verify: {message}", file=sys.stderr)
        return 2

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return usage(str(exc))
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        return usage(f"cannot read {args.file}: {exc.strerror}")
    try:
        key = load_pem_private_key(config.document_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return usage("the configured document key cannot be read")
    if not isinstance(key, Ed25519PrivateKey):
        return usage("the configured document key is not Ed25519")
    sessions = None if args.offline else open_database(config.database_url)
    try:
        verdict = verify_file(data, [key.public_key()], sessions)
    except NotADocument as exc:
        return usage(str(exc))
    finally:
        if sessions is not None:
            sessions.kw["bind"].dispose()
    print("\n".join(verdict.lines()))
    return 0 if verdict.valid else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m server.cli_verify verify …``: the same command without the rest of ``kiosk-server``."""
    parser = argparse.ArgumentParser(prog="kiosk-server")
    add_command(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
