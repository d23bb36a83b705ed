"""A virtual JPKI / citizen card served to pcscd through vsmartcard's ``vpcd`` reader driver.

This is the card reader driver's test peer and a demo tool.  It is written to the published protocol facts
(``docs/device-protocols.md`` in the shared notes: the JPKI AID and EFs, VERIFY with and without data, READ
BINARY at P1P2 offsets, ``80 2A 00 80`` with the card adding PKCS#1 v1.5 padding), and shares no APDU table with
the driver (``hal/card/pcsc.py``, ``jpki.py``, ``apdu.py``): each would catch the other's mistakes.

- :mod:`hal.card.vcard.card`: the chip, an APDU in, a response out (a :class:`~hal.card.sim.SimCard` holds the
  key, the PIN and the counter, so devinit's ``cards/*.json`` are the cards it plays).
- :mod:`hal.card.vcard.vpcd`: vpcd's TCP protocol (2-byte big-endian length + payload; a 1-byte payload is a
  control byte: 0 power off, 1 power on, 2 reset, 4 send the ATR).  A card "lies on the reader" while its TCP
  connection is open; lifting it closes the connection.
- ``python -m hal.card.vcard --card .dev/cards/resident-a.json --port 35963``: run it on a desktop (see
  :mod:`hal.card.vcard.__main__`).
"""
