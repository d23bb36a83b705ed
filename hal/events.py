"""What every device contract shares: events, the sink they are delivered to, and device errors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable


@dataclass(frozen=True)
class DeviceEvent:
    """Something a device reports on its own: a card placed, a note credited, paper taken."""

    device: str


EventSink = Callable[[DeviceEvent], Awaitable[None]]
"""Where a device delivers its events.

A device awaits the sink for every event.  Where the hardware expects an acknowledgement (a note's VEND VALID,
a coin event), the device sends it only after the sink returned: a sink that journals money events before it
returns therefore makes every credit durable before the hardware is told it was taken.  A sink that raises
means "not recorded": the device must not acknowledge.
"""


class DeviceError(Exception):
    """A device could not do what was asked.  The message names the device and never carries personal data."""

    def __init__(self, device: str, message: str):
        super().__init__(f"{device}: {message}")
        self.device = device


class DeviceUnavailable(DeviceError):
    """The device is missing, unplugged or does not answer."""


async def discard(event: DeviceEvent) -> None:
    """A sink that drops every event (for tests and self-tests that only call methods)."""


def accepted_subset(device: str, wanted: frozenset[int], known: frozenset[int]) -> frozenset[int]:
    """The denominations an acceptor is asked to take, refused with a clear error if it does not know one."""
    unknown = set(wanted) - known
    if unknown:
        raise ValueError(f"{device}: cannot accept {sorted(unknown)}; it knows {sorted(known)}")
    return frozenset(wanted)
