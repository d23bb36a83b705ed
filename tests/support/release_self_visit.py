"""The stand-in release's self-visit (tests/support/update_rig.py): a good release runs the REAL one
(``python -m firmware.self_visit``: a test-mode visit against the real server); a release whose ``behaviour`` is
``bad_self_visit`` fails the way a release that cannot issue does."""
import os
import sys
from pathlib import Path

behaviour = (Path(__file__).resolve().parent / "behaviour").read_text().strip()
if behaviour == "bad_self_visit":
    print("self-visit: FAILED at issue and print: the document did not verify (signature_invalid)",
          file=sys.stderr, flush=True)
    sys.exit(1)
os.execv(sys.executable, [sys.executable, "-m", "firmware.self_visit", "--config", sys.argv[1]])
