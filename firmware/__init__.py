"""The kiosk's brain: the visit state machine, the journal, the cashier, printing, the server client, config and
audit events.  It knows no Kivy and no device library; it reaches devices only through :mod:`hal`'s contracts."""
