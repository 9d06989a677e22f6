"""The hub's three single points (schedule, park, the resume), the wait queue, the instrument protocol."""

from __future__ import annotations

import gc
import time
import warnings

import greenlet
import pytest

import minievent
from minievent.hub import YIELD
from minievent.instrument import Instrument
from minievent.waiter import TIMED_OUT, Waiter, WaitQueue
from minievent.wording import why_text

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
    hub.add_instrument(Polls())
    try:
        minievent.sleep(0.3)
    finally:
        hub.remove_instrument(hub.instruments[0])
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


# ---------------------------------------------------------------- park and its words
def test_park_reasons_are_worded_only_when_read():
    ev = minievent.Event()
    assert why_text(("sleep", 0.5)) == "sleep(0.5)"
    assert why_text(("read", 7)) == "read on fd 7"
    assert why_text(("wait", ev)).startswith("an Event (id 0x")
    assert why_text(YIELD) == "sleep(0)"
    assert why_text(("something", "new")) == "something new"


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
    hub.add_instrument(inst)
    try:
        ev = minievent.Event()
        gt = minievent.spawn(ev.wait)  # scheduled (spawn)
        minievent.sleep(0.01)  # parked (sleep), a poll, resumed (its timer)
        ev.send(1)  # scheduled (the waiter)
        gt.wait()
    finally:
        hub.remove_instrument(inst)
    assert all(n > 0 for n in inst.calls.values()), inst.calls
    assert ("sleep", 0.01) in inst.why
    assert any(type(w) is tuple and w[0] == "wait" and w[1] is ev for w in inst.why)


def test_a_bare_yield_is_one_parked_call(hub):
    inst = Counting()
    minievent.spawn(lambda: None).wait()  # a worker ready for reuse
    hub.add_instrument(inst)
    try:
        minievent.sleep(0)
    finally:
        hub.remove_instrument(inst)
    assert inst.calls["parked"] == 1 and inst.calls["scheduled"] == 0 and inst.calls["resumed"] == 0
    assert inst.why == [YIELD]


def a_little_of_everything(pair):
    """Spawns, a timer, a waiter woken, a yield, an fd's wait: every hook has something to see."""
    ev = minievent.Event()
    gt = minievent.spawn(ev.wait)
    minievent.sleep(0.01)
    ev.send(1)
    gt.wait()
    minievent.sleep(0)
    a, b = pair
    reader = minievent.spawn(a.recv, 1)
    minievent.sleep(0)
    b.sendall(b"x")
    assert reader.wait() == b"x"


def test_two_instruments_both_see_every_switch(hub, pair):
    first, second = Counting(), Counting()
    hub.add_instrument(first)
    hub.add_instrument(second)
    hub.add_instrument(first)  # (installed already: nothing changes, as trio's)
    try:
        assert hub.instruments == (first, second)
        a_little_of_everything(pair)
    finally:
        hub.remove_instrument(first)
        hub.remove_instrument(second)
    assert all(n > 0 for n in first.calls.values()), first.calls
    assert first.calls == second.calls and first.why == second.why
    assert hub.instruments == ()
    with pytest.raises(KeyError):
        hub.remove_instrument(first)  # not installed any more


def test_one_removed_the_other_stays(hub, pair):
    staying, leaving = Counting(), Counting()
    hub.add_instrument(staying)
    hub.add_instrument(leaving)
    try:
        minievent.sleep(0)
        hub.remove_instrument(leaving)
        seen = dict(leaving.calls)
        a_little_of_everything(pair)
    finally:
        hub.remove_instrument(staying)
    assert leaving.calls == seen, "a removed instrument was still called"
    assert all(n > 0 for n in staying.calls.values()), staying.calls
    assert hub.instruments == ()


def test_a_failing_hook_removes_its_instrument_and_the_others_keep_going(hub, pair):
    class Broken(Counting):
        def parked(self, g, why):
            raise ZeroDivisionError("broken instrument")

    healthy, broken, later = Counting(), Broken(), Counting()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for inst in (healthy, broken, later):
            hub.add_instrument(inst)
        try:
            a_little_of_everything(pair)
        finally:
            hub.remove_instrument(healthy)
            hub.remove_instrument(later)
    assert hub.instruments == (), "the failing instrument was not removed"
    assert [str(w.message).splitlines()[0] for w in caught if issubclass(w.category, RuntimeWarning)] == [
        f"minievent: instrument {broken!r} raised in parked(), so it was removed:"
    ]
    assert all(n > 0 for n in healthy.calls.values()), healthy.calls
    assert YIELD in healthy.why and ("sleep", 0.01) in healthy.why
    assert later.calls == healthy.calls and later.why == healthy.why, "the one after the failing one missed hooks"


@pytest.mark.parametrize("hook", ["parked", "resumed"])
def test_a_switch_hook_failing_under_a_warnings_error_filter_raises_that_warning(hub, hook):
    # Park and the run phase call one hook directly; with several, one that calls each. Warnings made
    # errors, the warning of a failing hook is what gets out -- the same with one instrument or several.
    def boom(self, *args):
        raise ZeroDivisionError("broken instrument")

    broken = type("Broken", (Counting,), {hook: boom})
    for others in (0, 1):
        installed = [Counting() for _ in range(others)] + [broken()]
        for inst in installed:
            hub.add_instrument(inst)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                gt = minievent.spawn(minievent.sleep, 0.001)
                with pytest.raises(RuntimeWarning, match=f"raised in {hook}"):
                    gt.wait()
            assert hub.instruments == tuple(installed[:-1]), "the failing instrument was not removed"
        finally:
            for inst in hub.instruments:
                hub.remove_instrument(inst)


def test_only_the_hooks_an_instrument_overrides_are_called(hub, pair, monkeypatch):
    # The base class's no-op hooks, made to count: an instrument that overrides only parked
    # must cost the hub nothing at the other points (it does not call them at all).
    called = []
    for name in ("scheduled", "resumed", "before_poll", "after_poll"):
        monkeypatch.setattr(Instrument, name, lambda self, *args, name=name: called.append(name))

    class ParksOnly(Instrument):
        def __init__(self):
            self.why = []

        def parked(self, g, why):
            self.why.append(why)

    inst = ParksOnly()
    hub.add_instrument(inst)
    try:
        a_little_of_everything(pair)
    finally:
        hub.remove_instrument(inst)
    assert called == [], f"hooks the instrument does not override were called: {sorted(set(called))}"
    assert YIELD in inst.why and ("sleep", 0.01) in inst.why


@pytest.mark.parametrize("hook", ["scheduled", "resumed", "parked", "before_poll", "after_poll"])
def test_a_failing_hook_is_removed_with_a_warning_and_the_program_goes_on(hub, hook, capsys):
    def boom(self, *args):
        raise ZeroDivisionError("broken instrument")

    inst = type("Broken", (Instrument,), {hook: boom})()
    done = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hub.add_instrument(inst)
        gt = minievent.spawn(lambda: (minievent.sleep(0.01), done.append(1)))
        gt.wait()
    assert done == [1], "the program stopped"
    assert inst not in hub.instruments, "the failing instrument was not removed"
    assert any(issubclass(w.category, RuntimeWarning) and hook in str(w.message) for w in caught)
    assert "exception in hub callback" not in capsys.readouterr().err, "reported as a callback error"
