"""The hub's three single points (schedule, park, the resume), the wait queue, the instrument protocol."""

from __future__ import annotations

import gc
import time
import warnings

import greenlet
import pytest

import minievent
from minievent.hub import RESUMED, YIELD, describe
from minievent.instrument import Instrument
from minievent.waiter import TIMED_OUT, Waiter, WaitQueue

pytestmark = pytest.mark.usefixtures("poller")


# ---------------------------------------------------------------- only live timers count
def test_a_cancelled_timer_does_not_delay_loop_exit(hub):
    # The sleep(3) timer is cancelled by the Timeout; it must not keep the hub
    # waiting for its dead deadline before it sees that nothing can wake main.
    with minievent.Timeout(0.05, False):
        minievent.sleep(3)
    t = time.monotonic()
    with pytest.raises(minievent.LoopExit, match="Event"):
        minievent.Event().wait()
    assert time.monotonic() - t < 1.0, "LoopExit waited for a cancelled timer"


def test_a_cancelled_timer_does_not_wake_the_poll(hub):
    # Main waits on an fd for 0.3 s; a cancelled 0.05 s timer must not cut the poll short.
    polls = []

    class Polls(Instrument):
        def before_poll(self, timeout):
            polls.append(timeout)

    hub.schedule_call(0.05, lambda: None).cancel()
    hub.install(Polls())
    try:
        minievent.sleep(0.3)
    finally:
        hub.uninstall(hub.instrument)
    assert polls and all(t is None or t > 0.2 for t in polls[:1]), polls


# ---------------------------------------------------------------- the wait queue
def test_wait_queue_is_fifo_and_counts_the_living(hub):
    q = WaitQueue()
    got = []
    gts = [minievent.spawn(lambda i=i: got.append((i, q.wait(why=("test", i))))) for i in range(5)]
    minievent.sleep(0)
    assert len(q) == 5 and bool(q)
    assert q.wake_one("a") is not None
    assert q.wake_all("b") == 4
    assert not q and len(q) == 0
    for gt in gts:
        gt.wait()
    assert got == [(0, "a"), (1, "b"), (2, "b"), (3, "b"), (4, "b")]
    assert q.wake_one() is None and q.wake_all() == 0


def test_wait_queue_timeout_and_kill_leave_the_queue(hub):
    q = WaitQueue()
    assert q.wait(0.01) is TIMED_OUT
    assert len(q) == 0
    gt = minievent.spawn(q.wait)
    minievent.sleep(0)
    assert len(q) == 1
    gt.kill()
    assert len(q) == 0
    assert q.wake_one() is None, "a killed waiter was woken"


def _waiters_alive() -> int:
    gc.collect()
    return sum(type(o) is Waiter for o in gc.get_objects())


def test_wait_queue_sweeps_cancelled_waiters(hub):
    # Thousands of waiters that time out must not stay in memory (nor make wake_one slow).
    q = WaitQueue()
    before = _waiters_alive()
    gts = [minievent.spawn(q.wait, 0.001) for _ in range(2000)]
    for gt in gts:
        assert gt.wait() is TIMED_OUT
    assert len(q) == 0
    left = _waiters_alive() - before
    assert left <= 64, f"{left} dead waiters still held (by the queue)"


def test_wait_queue_hands_back_what_a_killed_waiter_was_given(hub):
    q, lost, parked = WaitQueue(), [], []

    def waiter():
        parked.append(greenlet.getcurrent())  # the greenlet under the greenthread
        return q.wait(None, None, lost.append)

    gt = minievent.spawn(waiter)
    minievent.sleep(0)

    def hand_over_then_kill():
        # One hub callback: the waiter is handed "item", then killed before its turn to take it
        # (thrown into at once: a kill would queue behind the resume that wake_one queued).
        q.wake_one("item")
        parked[0].throw(minievent.GreenletExit())

    hub.schedule_call(0, hand_over_then_kill)
    with pytest.raises(minievent.GreenletExit):
        gt.wait()
    assert lost == ["item"]


def test_wait_queue_carries_an_item_for_the_waker(hub):
    q = WaitQueue()
    minievent.spawn(q.wait, None, None, None, "parcel")
    minievent.sleep(0)
    w = q.wake_one()
    assert w is not None and w.item == "parcel"


def test_a_bad_timeout_never_joins_the_queue(hub):
    q = WaitQueue()
    with pytest.raises(ValueError):
        q.wait(float("nan"))
    assert len(q) == 0


# ---------------------------------------------------------------- park and describe
def test_park_reasons_are_worded_only_when_read():
    ev = minievent.Event()
    assert describe(("sleep", 0.5)) == "sleep(0.5)"
    assert describe(("read", 7)) == "read on fd 7"
    assert describe(("wait", ev)).startswith("an Event (id 0x")
    assert describe(YIELD) == "sleep(0)"
    assert describe(("something", "new")) == "something new"


def test_loop_exit_names_what_main_parked_for(hub):
    q = minievent.Queue()
    with pytest.raises(minievent.LoopExit, match="an item from an empty Queue"):
        q.get()


# ---------------------------------------------------------------- the instrument protocol
class Counting(Instrument):
    def __init__(self):
        self.calls = {"scheduled": 0, "resumed": 0, "parked": 0, "before_poll": 0, "after_poll": 0}
        self.why = []

    def scheduled(self, entry):
        self.calls["scheduled"] += 1

    def resumed(self, entry):
        self.calls["resumed"] += 1

    def parked(self, g, why):
        self.calls["parked"] += 1
        self.why.append(why)

    def before_poll(self, timeout):
        self.calls["before_poll"] += 1

    def after_poll(self, events):
        self.calls["after_poll"] += 1


def test_the_hub_calls_every_hook(hub):
    inst = Counting()
    hub.install(inst)
    try:
        ev = minievent.Event()
        gt = minievent.spawn(ev.wait)  # scheduled (spawn)
        minievent.sleep(0.01)  # parked (sleep), a poll, resumed (its timer)
        ev.send(1)  # scheduled (the waiter)
        gt.wait()
    finally:
        hub.uninstall(inst)
    assert all(n > 0 for n in inst.calls.values()), inst.calls
    assert ("sleep", 0.01) in inst.why
    assert any(type(w) is tuple and w[0] == "wait" and w[1] is ev for w in inst.why)


def test_a_bare_yield_is_one_parked_call(hub):
    inst = Counting()
    minievent.spawn(lambda: None).wait()  # a worker ready for reuse
    hub.install(inst)
    try:
        minievent.sleep(0)
    finally:
        hub.uninstall(inst)
    assert inst.calls["parked"] == 1 and inst.calls["scheduled"] == 0 and inst.calls["resumed"] == 0
    assert inst.why == [YIELD]


def test_only_one_instrument_at_a_time(hub):
    hub.install(Instrument())
    try:
        with pytest.raises(RuntimeError, match="already installed"):
            hub.install(Instrument())
    finally:
        hub.uninstall(hub.instrument)
    assert hub.instrument is None


@pytest.mark.parametrize("hook", ["scheduled", "resumed", "parked", "before_poll", "after_poll"])
def test_a_failing_hook_is_removed_with_a_warning_and_the_program_goes_on(hub, hook, capsys):
    class Broken(Instrument):
        pass

    def boom(*args):
        raise ZeroDivisionError("broken instrument")

    inst = Broken()
    setattr(inst, hook, boom)
    done = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hub.install(inst)
        gt = minievent.spawn(lambda: (minievent.sleep(0.01), done.append(1)))
        gt.wait()
    assert done == [1], "the program stopped"
    assert hub.instrument is None, "the failing instrument was not removed"
    assert any(issubclass(w.category, RuntimeWarning) and hook in str(w.message) for w in caught)
    assert "exception in hub callback" not in capsys.readouterr().err, "reported as a callback error"


def test_the_cheap_hooks_are_appends_to_the_switch_log_until_it_is_full(hub):
    class Log(Instrument):
        def __init__(self):
            self.switch_log, self.switch_log_limit = [], 3 * 4
            self.parked_calls, self.resumed_calls = [], []

        def parked(self, g, why):
            self.parked_calls.append(why)

        def resumed(self, entry):
            self.resumed_calls.append(entry)

    inst = Log()
    hub.install(inst)
    try:
        gt = minievent.spawn(lambda: [minievent.sleep(0) for _ in range(5)])
        gt.wait()
    finally:
        hub.uninstall(inst)
    log = inst.switch_log
    assert len(log) == 12, "three slots a record, up to the limit"
    times, middles, lasts = log[0::3], log[1::3], log[2::3]
    assert times == sorted(times) and all(isinstance(t, float) for t in times)
    # main parks to wait; the hub resumes the spawn (a record, no call); the greenthread yields
    # twice (a bare switch resumes a yield: no resume record for those) ...
    assert middles[0] is minievent.getcurrent() and lasts[0] == ("greenthread", gt)
    assert middles[1] is RESUMED and getattr(lasts[1], "__self__", None) is gt
    assert middles[2:] == [gt, gt] and lasts[2:] == [YIELD, YIELD]
    # ... and once the log is full the hub calls the hooks again: three more yields, and the
    # resume of main's waiter when the greenthread ends.
    assert inst.parked_calls[:3] == [YIELD] * 3
    assert [type(e).__name__ for e in inst.resumed_calls] == ["Waiter"]
