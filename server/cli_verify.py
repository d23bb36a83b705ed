"""``kiosk-server verify FILE --config server.toml``: the command line of :mod:`server.verify` and, for a refund
slip, of :mod:`server.refund_verify`.

FILE is a certificate PDF or a scanned page, or a refund slip: its QR text itself (``KRS1.…``, as a counter
scanner types it), a text file holding it, or a photo or scan of the slip (``--image`` says so explicitly).

Exit status 0 valid (a genuine slip), 1 invalid, 2 usage error (missing file, bad configuration, not a PDF or an
image).  The
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
    verify.add_argument("file", type=Path, nargs="?", default=None,
                        help="a PDF as issued, a scanned/photographed page (PNG, JPEG), or a refund slip's QR text")
    verify.add_argument("--image", type=Path, default=None, help="a photo or scan of a refund slip")
    verify.add_argument("--certificate", type=Path, default=None,
                        help="refund slips: the kiosk's device certificate (PEM), if the server holds none of it yet")
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
    if (args.file is None) == (args.image is None):
        return usage("give one FILE (or a slip's QR text), or --image")
    source = args.file if args.file is not None else args.image
    if args.image is None and str(source).startswith("KRS1."):
        return _slip(args, config, str(source), usage)
    try:
        data = source.read_bytes()
    except OSError as exc:
        return usage(f"cannot read {source}: {exc.strerror}")
    if data.lstrip().startswith(b"KRS1."):
        return _slip(args, config, data.decode("ascii", "replace").strip(), usage)
    if args.image is not None or not data.startswith(b"%PDF-"):
        from server.refund_verify import SlipCodesUnreadable, slip_codes_in

        try:
            codes = slip_codes_in(data)
        except SlipCodesUnreadable as exc:
            return usage(str(exc))
        if codes or args.image is not None:
            if len(codes) != 1:
                print(f"NOT GENUINE: the image holds {len(codes)} readable refund slip codes (expected 1)")
                return 1
            return _slip(args, config, codes[0], usage)
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


def _slip(args: argparse.Namespace, config, text: str, usage) -> int:
    from cryptography import x509

    from server.db import open_database
    from server.refund_verify import verify_slip

    given = None
    try:
        device_ca = x509.load_pem_x509_certificate(config.client_ca.read_bytes())
        if args.certificate is not None:
            given = x509.load_pem_x509_certificate(args.certificate.read_bytes())
    except (OSError, ValueError):
        return usage("a certificate (the device CA, or --certificate) cannot be read as PEM")
    sessions = open_database(config.database_url)
    try:
        with sessions() as db:
            verdict = verify_slip(db, text, device_ca, given)
    finally:
        sessions.kw["bind"].dispose()
    print("\n".join(verdict.lines()))
    return 0 if verdict.genuine else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m server.cli_verify verify …``: the same command without the rest of ``kiosk-server``."""
    parser = argparse.ArgumentParser(prog="kiosk-server")
    add_command(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
