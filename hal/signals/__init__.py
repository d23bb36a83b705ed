"""Lights, buzzer, staff-call beacon and door switch."""
from hal.signals.contract import (  # noqa: F401
    BuzzerPattern, DoorClosed, DoorOpened, GuideLight, Indicators, LightPattern, StaffCallPressed,
)
