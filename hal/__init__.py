"""Hardware abstraction layer: one contract per device kind, with its drivers and its simulator side by side.

Every device kind lives in its own package (``hal.card``, ``hal.notes``, ``hal.coins``, ``hal.printer``,
``hal.signals``, ``hal.voice``).  Each package has ``contract.py`` (a :class:`typing.Protocol`, an exhaustive
status enum and typed events) and ``sim.py`` (a simulator that fails the way the hardware fails).  Real drivers
sit beside them.  :mod:`hal.factory` builds the set of devices a kiosk uses from its configuration.

This package imports nothing else of the project's.
"""
