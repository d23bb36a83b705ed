"""The kiosk controller: one visit at a time, driven by events.

Everything that happens reaches the controller as one item on one queue — a device event, a resident's intent,
the outcome of an operation (card, server, printer), or a clock tick — and the controller handles the items one
by one, so a visit's state never changes under its feet.  Long operations run as tasks and report back with the
visit number and an epoch: an outcome that arrives after its visit was aborted is dropped, never applied to
whatever came next (the 2023 Yokohama incident printed the next applicant's file after a timeout).

The steps live beside it: sign-in and choice in :mod:`firmware.visit_signin`, money in
:mod:`firmware.visit_payment`, service checks in :mod:`firmware.visit_service`, reminders in
:mod:`firmware.visit_attention`.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

from certs import wire
from hal.card import CardRemoved
from hal.events import DeviceEvent
from hal.coins import CoinCounterMoved, CoinCredited, CoinEventsLost
from hal.notes import NoteCredited, NoteNeedsReconciliation
from hal.voice.contract import DEFAULT_VOLUME
from firmware.audit import AuditLog
from firmware.clock import Clock
from firmware.opening_hours import OUT_OF_HOURS, POLL_S as OPENING_POLL_S, OpeningHours
from firmware.recovery import SettlementKind
from firmware.result_outbox import ResultOutbox
from firmware.signin_nonce import NonceKeeper
from firmware.server_client import ServerUnavailable
from firmware.visit import (Visit, RESIDENT_STATES, EnterPin, Intent, MemberView, OfferView, VisitState,
                            VisitView)
from firmware import visit_table
from firmware.visit_actions import TableActions
from firmware.visit_application import ApplicationSteps
from firmware.visit_attention import CARD_LEFT, AttentionSteps
from firmware.visit_payment import PaymentSteps
from firmware.visit_refund import RefundSteps
from firmware.visit_service import ServiceSteps
from firmware.visit_signin import SigninSteps

log = logging.getLogger("kiosk.controller")
S = VisitState
RECONCILIATION_HOLD = "reconciliation_needed"
STOP_TIMEOUT_S = 10.0  # how long stop() waits for the controller's own tasks after cancelling them
"""Out-of-service reason after a start-up recovery that flagged something for a count."""
MONEY_EVENTS = (NoteCredited, CoinCredited, NoteNeedsReconciliation, CoinEventsLost, CoinCounterMoved)
"""Events the cashier journals inside the device sink, before the device acknowledges them.  An escrowed note is
not money yet: the controller decides on it from its own loop, so a driver is never asked to stack from inside
its own sink call."""


@dataclass(frozen=True)
class OperationDone:
    visit: int
    epoch: int
    name: str
    result: Any = None
    error: BaseException | None = None


@dataclass(frozen=True)
class Tick:
    pass


@dataclass(frozen=True)
class KioskSettings:
    kiosk_id: str
    timeouts: Mapping[str, float]
    warn_before_timeout_s: float = 15.0
    max_copies: int = 5
    language: str = "ja"
    tick_s: float = 0.2
    readiness_every_s: float = 5.0
    applications: bool = False  # ask the server for its e-application forms after sign-in ([kiosk] applications)


class Kiosk(TableActions, SigninSteps, PaymentSteps, RefundSteps, ServiceSteps, AttentionSteps, ApplicationSteps):
    def __init__(self, settings: KioskSettings, devices, server, journal, cashier, trusted_keys, clock: Clock,
                 audit: AuditLog | None = None):
        self.settings, self.devices, self.server, self.journal = settings, devices, server, journal
        self.cashier, self.trusted_keys, self.clock = cashier, trusted_keys, clock
        self.audit = audit or AuditLog()
        self.state = S.IDLE
        self.language = settings.language
        self.visit = Visit(0)
        self._visits = 0
        self._epoch = 0
        self._queue: asyncio.Queue = asyncio.Queue()
        self._listeners: list[Callable[[VisitView], None]] = []
        self._tasks: set[asyncio.Task] = set()
        self._runner: asyncio.Task | None = None
        self._deadline: float | None = None
        self._entered_at = clock.now()
        self._next_readiness = 0.0
        self.out_of_service_reason: str | None = None
        self.update_hold = None  # firmware.update_hold.UpdateHold, when [updates] hold_dir is configured
        self.held_by_staff: str | None = None  # maintenance / staff_hold: out of service until staff release it
        self.staff_card_check: Callable[[str | None], bool] | None = None  # set by firmware.maintenance
        self.link_check: Callable[[], bool] | None = None  # the tunnel is up (firmware.network.VpnState; assembly)
        self.view = VisitView(S.IDLE)
        self.heartbeat = time.monotonic()  # when the controller's loop last finished a turn (the watchdog's pulse)
        self.results = ResultOutbox(journal, server, clock, self.audit)
        version_2 = getattr(server, "protocol", 1) >= 2  # docs/kiosk-server-protocol.md, "Protocol version 2"
        self.nonces = NonceKeeper(server, clock) if version_2 else None  # a sign-in nonce ready before the card
        self.quote_at_confirm = version_2  # the quote, asked at Confirm, is the server-link check before money
        self._unstarted: list = []  # devices that failed to start: out of service, tried again at each readiness
        # what the step mixins share beyond the visit itself (self.visit holds the visit's own data)
        self._fault_after_visit: str | None = None  # the reason to go out of service once this visit has ended
        self._reminder_level = 0  # forgotten card/certificate/change: 0 voice, 1 buzzer, 2 beacon
        self._card_voice_at = 0.0  # when the card-left reminder last spoke
        self.opening_hours = OpeningHours()  # kiosk-wide hours from the server (firmware/opening_hours.py)
        self.screens_speak = False  # a screen says what it shows (Speak): the state's fixed prompt is left out
        self.voice_volume, self.voice_slow = DEFAULT_VOLUME, False  # the keypad's voice keys, for this visit
        self.refund_alarm = False  # a refund is owed that staff have not acknowledged: the beacon stays on
        self.slip_key = None  # the device key that signs refund slips (set by the assembly)
        self.background: list[tuple[str, Callable[[], Awaitable]]] = []  # more tasks to run (telemetry; assembly)
        self.event_taps: list[Callable[[DeviceEvent], None]] = []  # see every device event (telemetry; assembly)
        self._background_tasks: set[asyncio.Task] = set()

    # ---- life cycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        # the devices first: what they say as they start (a note in the stacker, coins counted while the kiosk
        # was down) is what recovery needs to settle a crashed visit without a guess
        self.cashier.restore_from_journal()  # the acceptor's counter and the hoppers' coins, before they start
        self._unstarted = await self.devices.start_each(self.device_sink)
        for device in self._unstarted:
            self.audit.emit("device.fault", device=device.name, state="not_started")
        settlements = self.journal.recover(found=self.cashier.found_at_start)
        for s in settlements:
            self.audit.emit("recovery.settled", txn=s.transaction_id, settlement=s.kind.value,
                            refund_owed=s.refund_owed, reprint_owed=s.kind is SettlementKind.REPRINT_OWED)
        self.audit.emit("kiosk.started", kiosk=self.settings.kiosk_id, recovered=len(settlements))
        if any(s.refund_owed for s in settlements):
            self.refund_alarm = True  # money is owed to someone who has gone: staff must see it
            self.devices.signals.set_beacon(True)
        if any(s.reconciliation_needed for s in settlements):
            # a note, a payout or a page whose outcome the power cut took: nothing is sold until staff have
            # counted (maintenance puts it back in service)
            self.held_by_staff = self.held_by_staff or RECONCILIATION_HOLD
            self.devices.signals.set_beacon(True)
        self._spawn_forever(self.results.run(), "result-outbox")  # first what recovery and earlier runs queued
        if self.nonces is not None:
            self._spawn_forever(self.nonces.run(), "signin-nonce")
        for name, job in self.background:
            self._background_tasks.add(asyncio.create_task(job(), name=name))
        if hasattr(self.server, "opening_hours"):
            self._spawn_forever(self._watch_opening_hours(), "opening-hours")
        self._runner = asyncio.create_task(self._run(), name="kiosk-controller")
        self._spawn_forever(self._ticker(), "kiosk-ticker")
        await self._queue.put(Tick())

    async def stop(self) -> None:
        for task in self._background_tasks:  # telemetry: given 2 s to end, never waited for beyond (a network
            task.cancel()                     # call cut mid-flight must not hold the kiosk's stop)
        if self._background_tasks:
            await asyncio.wait(self._background_tasks, timeout=2.0)
        tasks = list(self._tasks) + ([self._runner] if self._runner else [])
        for task in tasks:
            task.cancel()
        if tasks:  # bounded too: a task that swallowed its cancellation is logged, not waited for forever
            _, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
            for task in stuck:
                log.error("kiosk task %s did not stop within %g s", task.get_name(), STOP_TIMEOUT_S)
        await self.devices.stop_all()
        self.audit.emit("kiosk.stopped")

    async def _watch_opening_hours(self) -> None:
        while True:
            try:
                answer = await self.server.opening_hours()
            except Exception as e:  # (a server that is down: the other checks see it)
                log.info("opening hours not fetched: %s", type(e).__name__)
            else:
                self.opening_hours.update(answer, self.clock.now())
                self._next_readiness = 0.0
            await self.clock.sleep(OPENING_POLL_S)

    def subscribe(self, listener: Callable[[VisitView], None]) -> None:
        self._listeners.append(listener)
        listener(self.view)

    def send(self, intent: Intent) -> None:
        """A resident's intent, from a screen, a keypad or a scenario."""
        self._queue.put_nowait(intent)

    async def device_sink(self, event: DeviceEvent) -> None:
        """Every device event enters here.  Credits are journalled before this returns, so the device only
        acknowledges what is on disk; everything else is queued for the controller."""
        if isinstance(event, MONEY_EVENTS):
            await self.cashier.on_event(event)
        for tap in self.event_taps:
            try:
                tap(event)
            except Exception:
                log.exception("an event tap failed on %s", type(event).__name__)
        await self._queue.put(event)

    async def idle(self) -> None:
        """Wait until every queued item has been handled (for tests and scenarios)."""
        while True:
            await asyncio.sleep(0)
            if self._queue.empty() and not any(t for t in self._tasks if t.get_name().startswith("op:")):
                await asyncio.sleep(0)
                if self._queue.empty():
                    return
            await asyncio.sleep(0.001)

    async def _ticker(self) -> None:
        while True:
            await self.clock.sleep(self.settings.tick_s)
            await self._queue.put(Tick())

    async def _run(self) -> None:
        """The controller's loop.  Supervised: no exception in a step ends it.  A step that fails is logged and
        handled as a fault (money settled, kiosk out of service); if even that fails, :meth:`_last_resort` closes
        the transaction with every yen in a bucket.  Each finished turn moves :attr:`heartbeat`."""
        while True:
            item = await self._queue.get()
            try:
                await self._handle(item)
            except Exception:  # a bug must not leave money in limbo: log it and stop taking money
                log.exception("controller failed handling %s", type(item).__name__)
                try:
                    await self._fault("internal_error")
                except Exception:
                    log.exception("the fault handling failed too")
                    await self._last_resort("internal_error")
            try:
                self._publish()
            except Exception:
                log.exception("publishing the view failed")
            self.heartbeat = time.monotonic()

    def alive(self, max_age_s: float = 5.0) -> bool:
        """Whether the loop turned within ``max_age_s`` (it turns at least every tick)."""
        return self._runner is not None and not self._runner.done() and \
            time.monotonic() - self.heartbeat <= max_age_s

    async def _last_resort(self, reason: str) -> None:
        """The fault path itself failed: close the transaction from the journal alone (what was not paid back is
        owed; a payout under way is of unknown outcome), end the visit and stay out of service.  Each step is
        guarded on its own, so whatever still works is done."""
        self._abandon_operations()
        txn = self.visit.txn
        steps = [lambda: self.journal.record_reconciliation("controller_fault", txn=txn)
                 if txn and self.journal.is_open(txn) else None,
                 lambda: self._last_resort_settle(txn),
                 lambda: self.devices.signals.set_beacon(True)]
        for step in steps:
            try:
                step()
            except Exception:
                log.exception("last-resort step failed")
        for device in (self.devices.notes, self.devices.coins):
            try:
                await asyncio.wait_for(device.disable(), 2.0)
            except Exception:
                log.warning("could not disable %s", getattr(device, "name", "device"))
        self.visit = Visit(self.visit.number)
        self._fault_after_visit = None
        self.held_by_staff = self.held_by_staff or "controller_fault"
        self.out_of_service_reason = "controller_fault"
        self.state = S.OUT_OF_SERVICE
        self._deadline = None

    def _last_resort_settle(self, txn: str | None) -> None:
        if txn and self.journal.is_open(txn):
            self.journal.settle(txn, reason="controller_fault")
            self.results.wake()

    # ---- dispatch: the visit table (firmware.visit_table) -------------------------------------------------

    async def _handle(self, item: object) -> None:
        if isinstance(item, OperationDone):
            if item.visit != self.visit.number or item.epoch != self._epoch:
                log.info("dropped a late %s outcome of an earlier visit or step", item.name)
                return
            self.visit.busy = False
        try:
            await self._dispatch(visit_table.event_name(item), item)
        finally:
            if isinstance(item, EnterPin) and item.pin is not None:
                item.pin.wipe()  # handled or dropped, the intent's digits go (a sign-in holds its own copy)

    async def _dispatch(self, event: str, item: object) -> None:
        """Run the first row of the visit table for (state, event) whose guard holds; no row: nothing happens."""
        for row in visit_table.rows_for(self.state, event):
            if row.guard and not visit_table.GUARDS[row.guard](self, item):
                continue
            action = getattr(self, row.action)
            outcome = action(item.result, item.error) if isinstance(item, OperationDone) else action(item)
            if inspect.isawaitable(outcome):
                await outcome
            return

    # ---- states --------------------------------------------------------------------------------------------

    def _enter(self, state: VisitState, message: str | None = None) -> None:
        self.state = state
        self.visit.message = message
        self._entered_at = self.clock.now()
        self._arm_deadline()
        self._on_enter_attention(state)

    def _arm_deadline(self) -> None:
        timeout = self.settings.timeouts.get(self.state.value)
        self._deadline = None if timeout is None else self.clock.now() + timeout

    def _activity(self) -> None:
        if self.state in RESIDENT_STATES:
            self._arm_deadline()

    def _spawn(self, name: str, coro: Awaitable) -> None:
        visit, epoch = self.visit.number, self._epoch
        self.visit.busy = True

        async def run():
            try:
                result = await coro
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # reported to the controller, which decides
                await self._queue.put(OperationDone(visit, epoch, name, error=exc))
            else:
                await self._queue.put(OperationDone(visit, epoch, name, result=result))

        task = asyncio.create_task(run(), name=f"op:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn_forever(self, coro: Awaitable, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cancel(self, item: object = None) -> None:
        """The resident cancelled, or lifted the card while paying (then the card is not asked for again)."""
        if isinstance(item, CardRemoved):
            self.audit.emit("visit.card_lifted", visit=self.visit.number, state=self.state.value)
        self.audit.emit("visit.cancelled", visit=self.visit.number, state=self.state.value)
        self._abandon_operations()
        if self.state is S.PAYING:
            await self._refund_and_close("cancelled")
            self.visit.outcome = "cancelled"
            await self._return_card("cancelled_refunded")
        else:
            self.visit.outcome = "cancelled"
            await self._return_card("cancelled")

    def _abandon_operations(self) -> None:
        """Whatever the card, the server or the printer answers now belongs to no one."""
        self._epoch += 1
        self.visit.busy = False

    async def _on_tick(self, item: object = None) -> None:
        now = self.clock.now()
        if self.state in (S.IDLE, S.OUT_OF_SERVICE) and now >= self._next_readiness:
            self._next_readiness = now + self.settings.readiness_every_s
            await self._start_unstarted()
            reason = await self._readiness()
            if reason is None and self.update_hold is not None:  # asked to hold for an update (never in a visit)
                reason = self.update_hold.reason(self.journal)
            if reason and (self.state is S.IDLE or reason != self.out_of_service_reason):
                await self._go_out_of_service(reason)  # (out of service already: the reason may have changed)
            elif not reason and self.state is S.OUT_OF_SERVICE:
                self._back_in_service()
        await self._attention_tick(now)
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            await self._dispatch("deadline", None)

    async def _start_unstarted(self) -> None:
        for device in list(self._unstarted):
            try:
                await asyncio.wait_for(device.start(self.device_sink), 30.0)
            except Exception as e:
                log.info("%s still does not start: %s", device.name, e)
            else:
                self._unstarted.remove(device)
                log.info("%s started", device.name)

    async def _on_resident_timeout(self, item: None) -> None:
        """No input before the state's deadline: the whole visit aborts (refunded if money was taken)."""
        state = self.state
        self.audit.emit("visit.timed_out", visit=self.visit.number, state=state.value)
        self._abandon_operations()
        self.visit.outcome = "timed_out"
        if state is S.PAYING:
            await self._refund_and_close("timed_out")
            await self._return_card("timeout_refunded")
        else:
            await self._return_card("timeout")

    async def _on_delivery_timeout(self, item: None) -> None:
        """The server or the printer took longer than its state allows: settle where it stopped."""
        self.audit.emit("visit.timed_out", visit=self.visit.number, state=self.state.value)
        await self._abort_after_payment("timeout_" + self.state.value)

    async def _end_visit(self, outcome: str | None = None) -> None:
        visit = self.visit
        if visit.session is not None:
            self._spawn_forever(self._sign_out(visit.session), "sign-out")
        if self.nonces is not None:
            self.nonces.refill()  # the next resident's nonce, fetched while nobody waits for it
        self.audit.emit("visit.ended", visit=visit.number, outcome=outcome or visit.outcome)
        self._attention_off()
        self.visit = Visit(visit.number)  # drop everything the visit held
        self.language = self.settings.language  # the next resident starts in the kiosk's language
        if (self.voice_volume, self.voice_slow) != (DEFAULT_VOLUME, False):  # and with the usual voice
            self.voice_volume, self.voice_slow = DEFAULT_VOLUME, False
            self.devices.voice.set_volume(DEFAULT_VOLUME)
            self.devices.voice.set_slow(False)
        self._enter(S.IDLE)
        self._deadline = None
        self._next_readiness = 0.0
        if outcome != "staff_card" and self.devices.card_reader.card_kind() is not None:
            self._fault_after_visit = self._fault_after_visit or CARD_LEFT  # never idle with a card on the reader
        if self._fault_after_visit:
            reason, self._fault_after_visit = self._fault_after_visit, None
            self.devices.signals.set_beacon(True)
            await self._go_out_of_service(reason)

    async def _sign_out(self, session: wire.Session) -> None:
        try:
            await self.server.sign_out(session)
        except (ServerUnavailable, wire.ServerRefused, wire.ProtocolError):
            pass  # the session expires on the server by itself

    # ---- the view ------------------------------------------------------------------------------------------

    def _publish(self) -> None:
        v = self.visit
        now = self.clock.now()
        warn = (self._deadline is not None and self.state in RESIDENT_STATES
                and self._deadline - now <= self.settings.warn_before_timeout_s)
        offers = tuple(OfferView(o.certificate.value, o.available, o.reason.value if o.reason else None, o.fee,
                                 min(o.max_copies, self.settings.max_copies), o.options, o.window_fee,
                                 o.option_details)
                       for o in v.offers)
        household = tuple(MemberView(m.member_ref, m.name, m.relationship) for m in v.household)
        self.view = VisitView(
            state=self.state, visit=v.number, language=self.language, message=v.message, busy=v.busy,
            tries_left=v.tries_left, offers=offers, certificate=v.certificate, options=dict(v.options),
            copies=v.copies, fee=v.quote.total_fee if v.quote else v.expected_fee,
            paid=self.cashier.paid() if v.txn else 0,
            change_due=v.change_paid, refund_owed=v.refund_owed, refund_reference=v.refund_reference,
            pages_total=v.pages_total,
            pages_printed=v.pages_printed, timeout_warning=warn, items_to_take=tuple(sorted(v.items)),
            out_of_service_reason=self.out_of_service_reason, reminder_level=self._reminder_level,
            voice_volume=self.voice_volume, voice_slow=self.voice_slow, household=household,
            opens_at=self.opening_hours.opens_at if self.out_of_service_reason == OUT_OF_HOURS else None,
            **self._application_view())
        for listener in self._listeners:
            listener(self.view)

