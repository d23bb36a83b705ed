"""The box's own health as a readiness input: a kiosk whose clock never synchronised, or whose supply is browning
out, takes no money and says why; it sells again by itself once the reading is good."""
from __future__ import annotations

from firmware.clock import FakeClock
from firmware.health import BoxHealth, BoxSensors, HealthSettings


class Box:
    """Fake readings: the clock's NTP state and the Pi's throttled bits, as the test sets them."""
    synced = False
    bits = 0

    def sensors(self, data_dir) -> BoxSensors:
        return BoxSensors(data_dir, root=data_dir / "no-sysfs", kernel_clock_synchronised=lambda: self.synced,
                          throttled_bits=lambda: self.bits)


def test_no_money_until_the_clock_is_synchronised_nor_while_under_voltage(run_kiosk, tmp_path):
    clock, box = FakeClock(), Box()

    async def visit(k):
        await k.wait("idle")
        k.kiosk.box_health = BoxHealth(HealthSettings(enabled=True), box.sensors(tmp_path), k.kiosk.audit)
        clock.advance(k.kiosk.settings.readiness_every_s + 1)
        await k.wait("out_of_service")
        unsynced = k.kiosk.view.out_of_service_reason
        await k.do("place_card", card="resident-a")  # a resident tries anyway: no visit starts
        clock.advance(1)
        await k.kiosk.idle()
        during = k.kiosk.view.state.value, k.kiosk.visit.txn
        await k.do("lift_card")
        box.synced = True
        clock.advance(k.kiosk.settings.readiness_every_s + 1)
        await k.wait("idle")
        box.bits = 0x50005  # under-voltage now (and throttled)
        clock.advance(k.kiosk.settings.readiness_every_s + 1)
        await k.wait("out_of_service")
        brownout = k.kiosk.view.out_of_service_reason
        box.bits = 0x50000  # it happened since boot, not now
        clock.advance(k.kiosk.settings.readiness_every_s + 1)
        await k.wait("idle")
        return unsynced, during, brownout, [e for e in k.audit.recent if e["audit"] == "health.changed"]

    unsynced, during, brownout, changes = run_kiosk(visit, clock=clock)
    assert unsynced == "clock_not_synchronised"
    assert during[0] == "out_of_service" and during[1] is None  # no transaction, no money accepted
    assert brownout == "under_voltage"
    assert any(e["check"] == "under_voltage" and e["value"] == "yes" for e in changes)
    assert any(e["check"] == "clock_synchronised" and e["value"] == "yes" for e in changes)
