"""Bodies of ``POST /v1/telemetry`` (docs/kiosk-server-protocol.md, "Telemetry"), as pydantic models.

An event's ``fields`` hold ids, codes, amounts and counts only (the kiosk's audit rule): every value is an
integer, a flag, null or a short code of ``[A-Za-z0-9_.:/-]`` — a name, an address or a sentence cannot pass.
"""
from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field, StrictBool, StrictInt, StrictStr

from server.schemas import _Strict

MAX_EVENTS = 500
"""Events in one batch at most (more: 413 ``batch_too_large``; the body itself is limited to 64 KiB)."""

Code = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_.:/-]{0,64}$")]
Value = Union[StrictBool, StrictInt, Code, None]
Key = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class TelemetryEventIn(_Strict):
    seq: StrictInt = Field(ge=1, le=2**31 - 1)
    boot_id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]
    monotonic_ms: StrictInt = Field(ge=0, le=2**31 - 1)
    wall_time: Annotated[StrictStr, Field(max_length=40)]
    kind: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
    fields: dict[Key, Value] = Field(default_factory=dict, max_length=16)


class GaugesIn(_Strict):
    sampled_at: Annotated[StrictStr, Field(max_length=40)]
    values: dict[Key, Union[StrictInt, float, StrictBool, Code, None]] = Field(max_length=32)


class TelemetryBatch(_Strict):
    boot_id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]
    sent_monotonic_ms: StrictInt = Field(ge=0, le=2**31 - 1)
    backlog: StrictInt = Field(ge=0, default=0, description="events the kiosk still holds after this batch")
    events: list[TelemetryEventIn] = Field(default_factory=list)
    gauges: GaugesIn | None = None
    kiosk_id: StrictStr | None = Field(default=None, max_length=64,
                                       description="ignored: the kiosk is the one its client certificate names")


class CommandOut(_Strict):
    command_id: int
    kind: str


class TelemetryReply(_Strict):
    acked_seq: int
    stored: int
    replayed: int
    commands: list[CommandOut]
    server_time: str
