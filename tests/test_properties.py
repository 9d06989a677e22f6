"""Property tests: random programs of spawn / sleep / kill / Timeout / Event / Queue / Semaphore.

Hypothesis writes the programs; the properties are the hub's promises:

- timers fire in deadline order (ties: in the order they were scheduled),
  never early, exactly once; a cancelled timer never fires;
- a sleeping greenthread is never woken early, with or without a Timeout;
- a Queue never loses nor duplicates an item, whatever mix of timeouts and
  kills hits its getters and putters;
- a Semaphore never lets more than N in, and ends with all N units back;
- when a program is over, nothing of it is left in the hub.

Delays are a few milliseconds so that a hundred programs take seconds.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import assert_hub_clean, pending_timers, spin

import minievent
from minievent import GreenletExit

pytestmark = pytest.mark.usefixtures("poller")

# The poller fixture's hub is shared by all the examples of one test: every
# example must leave it clean, which is one of the properties checked.
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

tiny = st.sampled_from([0.0, 0.0, 0.0005, 0.001, 0.002, 0.003])
maybe_timeout = st.one_of(st.none(), tiny)


# ----------------------------------------------------------------- timers
timer_spec = st.tuples(
    st.sampled_from([0.0, 0.001, 0.002, 0.004]),  # delay: few values, so many ties
    st.sampled_from([0.0, 0.0, 0.0, 0.00005]),  # how long its callback runs (holds up the others)
    st.sampled_from(["keep", "keep", "keep", "cancel_now", "cancel_from_timer"]),
)


@SETTINGS
@given(specs=st.lists(timer_spec, min_size=1, max_size=300))
def test_timers_fire_in_deadline_order_never_early_and_cancelled_never(specs):
    hub = minievent.get_hub()
    fired = []  # (deadline, seq, fired at)
    timers = []

    def cb(seq, seconds):
        fired.append((timers[seq].deadline, seq, time.monotonic()))
        spin(seconds)

    for seq, (delay, work, _) in enumerate(specs):
        timers.append(hub.schedule_call(delay, cb, seq, work))
    cancelled = set()
    for seq, (_, _, fate) in enumerate(specs):
        if fate == "cancel_now":
            timers[seq].cancel()
            cancelled.add(seq)
        elif fate == "cancel_from_timer":
            # cancelled by another timer with the same deadline that runs first: it may be due already
            hub.schedule_call(specs[seq][0], timers[seq].cancel)
    minievent.sleep(0.01)
    while pending_timers(hub):
        minievent.sleep(0.001)
    seqs = [f[1] for f in fired]
    assert len(seqs) == len(set(seqs)), "a timer fired twice"
    assert not cancelled & set(seqs), "a cancelled timer fired"
    for deadline, seq, at in fired:
        assert at >= deadline, f"timer {seq} fired {deadline - at:.6f}s early"
    for seq, t in enumerate(timers):
        assert t.called == (seq in set(seqs))
        if specs[seq][2] == "keep":
            assert t.called, f"timer {seq} never fired"
    order = [(f[0], f[1]) for f in fired]
    assert order == sorted(order), "timers fired out of deadline order"
    assert_hub_clean(hub)


def test_a_long_batch_of_due_timers_is_not_overtaken_by_later_ones():
    # More than 64 timers due at once, each
    # callback taking a moment; the hub cuts long batches into slices and used
    # to put timers that fell due meanwhile *in front of* the rest of the batch.
    hub = minievent.get_hub()
    order = []

    def cb(tag):
        order.append(tag)
        spin(0.0002)

    for i in range(300):
        hub.schedule_call(0.01, cb, (0, i))
    for i in range(50):
        hub.schedule_call(0.012, cb, (1, i))
    minievent.sleep(0.2)
    assert len(order) == 350
    assert order == sorted(order)


# ----------------------------------------------------------------- sleep and Timeout
sleeper_spec = st.tuples(
    tiny,  # start delay
    st.lists(tiny, min_size=1, max_size=4),  # sleeps
    maybe_timeout,  # a Timeout around them
    st.booleans(),  # spin on sleep(0) first (a Timeout may land while in sleep(0))
)


@SETTINGS
@given(specs=st.lists(sleeper_spec, min_size=1, max_size=20), kills=st.lists(st.integers(0, 19), max_size=5))
def test_sleep_is_never_early_and_timeouts_never_early(specs, kills):
    hub = minievent.get_hub()
    early = []

    def sleeper(sleeps, timeout, spin):
        t0 = time.monotonic()
        try:
            with minievent.Timeout(timeout):
                if spin:
                    for _ in range(20):
                        minievent.sleep(0)
                for s in sleeps:
                    t = time.monotonic()
                    minievent.sleep(s)
                    if time.monotonic() - t < s:
                        early.append(("sleep", s, time.monotonic() - t))
        except minievent.Timeout:
            if time.monotonic() - t0 < timeout:
                early.append(("timeout", timeout, time.monotonic() - t0))
            return "timed out"
        return "slept"

    gts = [minievent.spawn_after(start, sleeper, sleeps, timeout, spin) for start, sleeps, timeout, spin in specs]
    minievent.sleep(0.001)
    for k in kills:
        if k < len(gts):
            gts[k].kill()
    for gt in gts:
        try:
            assert gt.wait() in ("slept", "timed out")
        except GreenletExit:
            pass
    assert early == []
    assert_hub_clean(hub)


# ----------------------------------------------------------------- Queue
queue_op = st.one_of(
    st.tuples(st.just("put"), tiny, maybe_timeout),
    st.tuples(st.just("get"), tiny, maybe_timeout),
    st.tuples(st.just("put_nowait"), st.just(0), st.just(None)),
    st.tuples(st.just("get_nowait"), st.just(0), st.just(None)),
    st.tuples(st.just("kill"), st.integers(0, 40), st.just(None)),
    st.tuples(st.just("sleep"), tiny, st.just(None)),
    st.tuples(st.just("main_get_under_timeout"), tiny, st.just(None)),
)


@SETTINGS
# maxsize None: unbounded; 0: a channel (a put waits for a getter)
@given(maxsize=st.sampled_from([None, 0, 1, 2, 3]), ops=st.lists(queue_op, min_size=1, max_size=40))
def test_queue_never_loses_nor_duplicates_an_item(maxsize, ops):
    hub = minievent.get_hub()
    q = minievent.Queue(maxsize)
    next_item = iter(range(10**6))
    put_ok, put_refused, put_killed = set(), set(), set()
    got = []
    gts = []

    def putter(item, delay, timeout):
        minievent.sleep(delay)
        try:
            q.put(item, timeout=timeout)
        except minievent.Full:
            put_refused.add(item)
            return
        except GreenletExit:
            put_killed.add(item)  # may or may not have gone in
            raise
        put_ok.add(item)

    def getter(delay, timeout):
        minievent.sleep(delay)
        try:
            got.append(q.get(timeout=timeout))
        except minievent.Empty:
            pass

    for kind, arg, timeout in ops:
        if kind == "put":
            gts.append(minievent.spawn(putter, next(next_item), arg, timeout))
        elif kind == "get":
            gts.append(minievent.spawn(getter, arg, timeout))
        elif kind == "put_nowait":
            item = next(next_item)
            try:
                q.put_nowait(item)
                put_ok.add(item)
            except minievent.Full:
                put_refused.add(item)
        elif kind == "get_nowait":
            try:
                got.append(q.get_nowait())
            except minievent.Empty:
                pass
        elif kind == "kill":
            if gts:
                gts[arg % len(gts)].kill()
        elif kind == "sleep":
            minievent.sleep(arg)
        else:
            try:
                with minievent.Timeout(arg):
                    got.append(q.get())
            except minievent.Timeout:
                pass
    # End the program: let timeouts run out, then kill whoever still waits.
    minievent.sleep(0.005)
    for gt in gts:
        gt.kill()
    for gt in gts:
        try:
            gt.wait()
        except GreenletExit:
            pass
    left = []
    while q.qsize():
        left.append(q.get_nowait())
    everything = got + left
    assert len(everything) == len(set(everything)), f"duplicated: {sorted(everything)}"
    assert put_ok <= set(everything), f"lost: {put_ok - set(everything)}"
    assert not put_refused & set(everything), "a refused put went in"
    assert set(everything) <= put_ok | put_killed
    assert q.unfinished_tasks == len(everything)
    assert (q.getting(), q.putting()) == (0, 0)
    assert_hub_clean(hub)


# ----------------------------------------------------------------- Semaphore
sem_op = st.one_of(
    st.tuples(st.just("acquire"), tiny, maybe_timeout, tiny),
    st.tuples(st.just("kill"), st.integers(0, 40), st.just(None), st.just(0)),
    st.tuples(st.just("sleep"), tiny, st.just(None), st.just(0)),
)


@SETTINGS
@given(n=st.integers(1, 3), ops=st.lists(sem_op, min_size=1, max_size=30))
def test_semaphore_never_over_admits_and_gets_every_unit_back(n, ops):
    hub = minievent.get_hub()
    sem = minievent.Semaphore(n)
    inside = [0]
    peak = [0]
    gts = []

    def user(delay, timeout, hold):
        minievent.sleep(delay)
        if not sem.acquire(timeout=timeout):
            return
        inside[0] += 1
        peak[0] = max(peak[0], inside[0])
        try:
            minievent.sleep(hold)
        finally:
            inside[0] -= 1
            sem.release()

    for kind, arg, timeout, hold in ops:
        if kind == "acquire":
            gts.append(minievent.spawn(user, arg, timeout, hold))
        elif kind == "kill":
            if gts:
                gts[arg % len(gts)].kill()
        else:
            minievent.sleep(arg)
    for gt in gts:
        try:
            gt.wait()
        except GreenletExit:
            pass
    assert peak[0] <= n
    assert inside[0] == 0
    assert sem.statistics() == (n, 0)  # (counter, waiting)
    assert_hub_clean(hub)


# ----------------------------------------------------------------- everything together
program_op = st.one_of(
    st.tuples(st.just("spawn_sleep"), tiny),
    st.tuples(st.just("spawn_event_wait"), maybe_timeout),
    st.tuples(st.just("spawn_queue_get"), maybe_timeout),
    st.tuples(st.just("spawn_timeout_nest"), tiny),
    st.tuples(st.just("spawn_wait_other"), st.integers(0, 40)),
    st.tuples(st.just("kill"), st.integers(0, 40)),
    st.tuples(st.just("send"), st.none()),
    st.tuples(st.just("put"), st.none()),
    st.tuples(st.just("sleep"), tiny),
)


@SETTINGS
@given(ops=st.lists(program_op, min_size=1, max_size=40))
def test_random_programs_leave_nothing_behind(ops):
    hub = minievent.get_hub()
    ev = minievent.Event()
    q = minievent.Queue()
    gts = []

    def nest(t):
        with minievent.Timeout(t * 2, False):
            with minievent.Timeout(t, False):
                minievent.sleep(t * 3)
            ev.wait()

    for kind, arg in ops:
        if kind == "spawn_sleep":
            gts.append(minievent.spawn(minievent.sleep, arg))
        elif kind == "spawn_event_wait":
            gts.append(minievent.spawn(ev.wait, arg))
        elif kind == "spawn_queue_get":
            gts.append(minievent.spawn(lambda t=arg: q.get(timeout=t) if t is None or t > 0 else None))
        elif kind == "spawn_timeout_nest":
            gts.append(minievent.spawn(nest, arg))
        elif kind == "spawn_wait_other":
            if gts:
                gts.append(minievent.spawn(gts[arg % len(gts)].wait))
        elif kind == "kill":
            if gts:
                gts[arg % len(gts)].kill()
        elif kind == "send":
            if not ev.ready():
                ev.send("go")
        elif kind == "put":
            q.put("item")
        else:
            minievent.sleep(arg)
    # End it: wake every kind of waiter, then kill the rest.
    if not ev.ready():
        ev.send("end")
    for _ in range(len(gts)):
        q.put("end")
    minievent.sleep(0.01)
    for gt in reversed(gts):
        gt.kill()
    for gt in gts:
        assert gt.dead
    assert (ev.statistics().waiting, q.getting()) == (0, 0)
    assert [gt.statistics().waiting for gt in gts] == [0] * len(gts)
    assert_hub_clean(hub)
