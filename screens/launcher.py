"""The ``kiosk`` console script: the touchscreen app when there is one, else the headless firmware.

It lives in ``screens/`` because screens may use the firmware and never the other way round; Kivy itself is only
imported by the app, when the screen is wanted.
"""
from __future__ import annotations

import sys

from firmware import cli


def _run_app(config) -> int:
    try:
        from screens.app import run_app
    except ImportError:
        print("kiosk: the touchscreen app is not installed in this build; run `kiosk --headless`", file=sys.stderr)
        return 2
    return run_app(config)


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, run_screens=_run_app)


if __name__ == "__main__":
    sys.exit(main())
