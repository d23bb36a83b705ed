"""An update never interrupts a visit: offered while a resident's coins are in the kiosk, it waits until the visit
has ended, then the kiosk goes out of service ("updating") and the release installs.  The kiosk here is the real
headless firmware (its journal, its readiness tick, firmware/update_hold.py) on the same server; the release the
updater switches is the tiny stand-in app."""
from __future__ import annotations

import asyncio
import json
import sys

from tests.support.kiosk_session import KioskSession, kiosk_config_data
from tests.support.server_process import REPO, _env


def test_an_update_offered_while_a_visit_holds_money_waits_for_the_visit_to_end(rig):
    (rig.run / "app-answers-hold").unlink()  # the firmware answers the hold now, not the stand-in
    rig.restart_app()
    rig.publish("1.1.0")
    data = kiosk_config_data(rig.dev, rig.work / "visit", rig.server.url,
                             **{"updates.hold_dir": str(rig.run / "hold")})

    async def scenario():
        async with KioskSession(data, rig.work / "visit") as k:
            await k.wait("idle", 10)
            await k.to_payment()
            await k.do("insert_coin", value=100)  # 100 of 300 yen in: money is held
            txn = k.kiosk.visit.txn
            updater = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "firmware.update_cli", "--config", str(rig.kiosk_toml), "check",
                cwd=REPO, env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            await asyncio.sleep(6)  # longer than a readiness tick (5 s)
            assert (rig.run / "hold" / "request.json").exists()  # the update is waiting…
            assert not (rig.run / "hold" / "ready.json").exists()  # …and the kiosk has not said yes
            assert updater.returncode is None and k.kiosk.view.state.value == "paying"
            assert rig.current() == "1.0.0"
            for _ in range(2):
                await k.do("insert_coin", value=100)
            await k.wait("return_card")
            await k.do("lift_card")
            await k.wait("take_items")
            await k.do("take_document")
            await k.wait("idle")
            out, err = await asyncio.wait_for(updater.communicate(), 90)
            result = json.loads(out)
            await k.wait("idle", 15)  # the hold is released: back in service
            facts = (k.journal.outcome(txn), k.journal.is_open(txn), k.journal.balance(txn))
            return txn, result, err.decode(), facts, list(k.audit.recent)

    txn, result, err, (outcome, still_open, balance), audit = asyncio.run(scenario())
    assert result["outcome"] == "committed", result | {"stderr": err}
    assert rig.current() == "1.1.0" and rig.running()["release"] == "1.1.0"
    assert outcome is not None and not still_open
    assert balance.credited == 300 and balance.fee_collected == 300 and balance.unaccounted == 0
    ids = [r["audit"] for r in audit]
    visit_end = ids.index("visit.ended")
    updating = [i for i, r in enumerate(audit) if r["audit"] == "kiosk.out_of_service" and r["reason"] == "updating"]
    assert updating and min(updating) > visit_end  # out of service only after the visit ended
    assert not any(r["audit"] == "visit.timed_out" for r in audit)
    assert ids[-1] == "kiosk.in_service"
