#!/usr/bin/env bash
# Bootstrap a fresh Debian 12 / Raspberry Pi OS machine: the Debian packages the kiosk and its tests need (only
# those missing), a virtual environment, and the project with its extras.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

# fonts-ipaexfont-*: the Japanese fonts embedded in certificates and used on screen.
# python3-venv: to make the virtual environment with Debian's Python.
# libpcsclite-dev + gcc: pyscard has no Linux wheel and builds against pcsc-lite.
# pcscd + vsmartcard-vpcd: the real PC/SC daemon, and its virtual reader that our virtual JPKI card connects to.
# opensc: standard PC/SC middleware (pkcs15-tool, pkcs11-tool, opensc-pkcs11.so); the tests check that its JPKI
#   driver binds to our virtual card, lists its certificates and signs, as it does with a real My Number card.
# xvfb, xauth, libmtdev1: the touchscreen app's GUI tests under a virtual X server.
# postgresql: the tests run the server against a throw-away PostgreSQL cluster as well as SQLite.
# alsa-utils: aplay, which plays the voice prompts.
# espeak-ng: the voice for every language but Japanese (hal/voice/engines.py, scripts/render_voice.py).
# open-jtalk-mecab-naist-jdic, cmake, g++: Japanese speech. pyopenjtalk (the 'voice' extra) has no wheel for this
#   Python and builds from its sdist with cmake and a C++ compiler (~1.5 min, once); at run time it reads Debian's
#   dictionary (/var/lib/mecab/dic/open-jtalk/naist-jdic) instead of downloading one.
# fonts-noto-cjk, fonts-dejavu-core: the touchscreen's fonts for Chinese/Korean (IPAex has no Hangul and few
#   simplified hanzi) and for Vietnamese diacritics (screens/fonts.py).
# wireguard-go, wireguard-tools, iproute2: the kiosk's VPN (firmware/network.py: wireguard-go where the kernel has
#   no WireGuard module) and the tests that run it between network namespaces (tests/provisioning).
# systemd: systemd-analyze and systemd-tmpfiles, which check the units in systemd/ offline (tests/systemd).
# cage, xwayland, grim: the kiosk's display session (cage runs the app full screen; the test runs it on
#   wlroots' headless backend and looks at it with grim: tests/screens/test_cage_session.py).
# zbar-tools: zbarimg, the second, independent QR reader with which a test checks printed pages' page codes
#   from the protocol document alone (tests/server/test_page_code_independent.py).
# chromium, chromium-driver: a real browser (headless, driven by Selenium through /usr/bin/chromedriver) logs in to
#   the operations dashboard and takes its screenshots (tests/server/test_dashboard_browser.py); nothing is
#   downloaded at test time.
# haproxy: the load balancer in front of several server nodes (TCP mode, TLS passed through to the node), in the
#   tests and benchmark of a multi-node deployment (tests/server/test_nodes_behind_haproxy.py).
PACKAGES=(systemd cage xwayland grim fonts-ipaexfont-gothic fonts-ipaexfont-mincho python3-venv libpcsclite-dev
          gcc python3-dev
          pcscd vsmartcard-vpcd opensc xvfb xauth libmtdev1 postgresql alsa-utils espeak-ng
          open-jtalk-mecab-naist-jdic cmake g++
          fonts-noto-cjk fonts-dejavu-core wireguard-go wireguard-tools iproute2 zbar-tools
          chromium chromium-driver haproxy)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'PY' || { echo "bootstrap: Python 3.11 or newer is needed" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[server,devices,ui,voice,dev,updates]"
echo "bootstrap: ready ($VENV)"
