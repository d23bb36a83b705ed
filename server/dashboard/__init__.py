"""The operations dashboard: ward staff and the city's administrator see their kiosks from a desk.

A FastAPI app of its own, served on its own listener (``kiosk-server dashboard``), never on the kiosks' mTLS
port.  Server-rendered HTML (Jinja2), one small hand-written script (the fleet page refreshes itself), no build
step.  :mod:`server.dashboard.app` makes the app; the pages are in :mod:`server.dashboard.pages`.
"""
