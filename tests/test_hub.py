"""The hub: timers, fd listeners, LoopExit, one hub per thread -- under every poller."""

from __future__ import annotations

import os
import threading
import time

import greenlet
import pytest

import minievent
from minievent import hub as hubmod
from minievent.poller import POLLERS, default_poller

pytestmark = pytest.mark.usefixtures("poller")


def test_repr_names_the_poller(poller):
    assert f"poller={poller}" in repr(minievent.get_hub())


def test_env_var_forces_the_poller(monkeypatch):
    monkeypatch.setenv("MINIEVENT_POLLER", "selectors")
    assert default_poller().name == "selectors"
    monkeypatch.setenv("MINIEVENT_POLLER", "nonsense")
    with pytest.raises(ValueError, match="MINIEVENT_POLLER"):
        default_poller()
    if "epoll" in POLLERS:
        monkeypatch.setenv("MINIEVENT_POLLER", "epoll")
        assert default_poller().name == "epoll"


def test_the_poller_watches_a_waited_fd_until_it_is_closed(hub, pair):
    a, b = pair
    before = hub.poller.watched()
    fd = a.fileno()
    reader = minievent.spawn(a.recv, 1)
    minievent.sleep(0)  # the reader waits: its fd is registered
    assert fd in hub.poller.watched() and fd not in before
    b.sendall(b"x")
    assert reader.wait() == b"x"
    a.close()
    assert hub.poller.watched() == before, "a closed fd stays registered with the kernel"


def test_schedule_call_runs_in_deadline_order(hub):
    order = []
    for delay, tag in [(0.03, "c"), (0.01, "a"), (0.02, "b"), (0.0, "first")]:
        hub.schedule_call(delay, order.append, tag)
    minievent.sleep(0.05)
    assert order == ["first", "a", "b", "c"]


def test_timers_fire_on_time_never_early(hub):
    fired = {}
    start = time.monotonic()
    for d in (0.01, 0.05, 0.1):
        hub.schedule_call(d, lambda d=d: fired.__setitem__(d, time.monotonic() - start))
    minievent.sleep(0.15)
    for d, t in fired.items():
        assert t >= d - 0.001, f"timer for {d}s fired early at {t}"
        assert t < d + 0.05, f"timer for {d}s fired {t - d:.3f}s late"
    assert sorted(fired) == [0.01, 0.05, 0.1]


def test_cancelled_timer_never_fires_and_does_not_pile_up(hub):
    fired = []
    timers = [hub.schedule_call(10, fired.append, i) for i in range(2000)]
    for t in timers:
        t.cancel()
    # cancelled entries are compacted away, not kept until their deadline
    assert len(hub.timers) < 1000
    t = hub.schedule_call(0.01, fired.append, "live")
    t2 = hub.schedule_call(0.005, fired.append, "dead")
    t2.cancel()
    minievent.sleep(0.03)
    assert fired == ["live"]
    assert t.called and not t.pending


def test_a_timer_made_by_hand_as_in_eventlet(hub):
    fired = []
    t = hubmod.Timer(0.005, fired.append, "a")
    assert (t.seconds, t.tpl, t.called, t.pending) == (0.005, (fired.append, ("a",), {}), False, True)
    twin = t.copy()
    assert twin is not t and (twin.seconds, twin.tpl) == (t.seconds, t.tpl)
    assert t.schedule() is t and hub.add_timer(twin) is twin
    with pytest.raises(RuntimeError):
        hub.add_timer(t)  # a timer is scheduled once
    minievent.sleep(0.02)
    assert fired == ["a", "a"] and t.called and not t.pending
    idle = hubmod.Timer(1, fired.append, "never")
    idle.cancel()  # cancelling one never scheduled is harmless, and it cannot be scheduled afterwards
    with pytest.raises(RuntimeError):
        idle.schedule()
    with pytest.raises(ValueError):
        hubmod.Timer(float("nan"), print).schedule()
    assert hub.timers_canceled == 0


def test_timer_cancelled_after_becoming_due_does_not_fire(hub):
    fired = []
    t1 = hub.schedule_call(0, lambda: t2.cancel())
    t2 = hub.schedule_call(0, fired.append, "x")
    minievent.sleep(0.01)
    assert t1.called and t2.cancelled and fired == []


def test_callback_error_is_printed_and_hub_goes_on(hub, capsys):
    done = []
    hub.schedule_call(0, lambda: 1 / 0)
    hub.schedule_call(0.001, done.append, True)
    minievent.sleep(0.01)
    assert done == [True]
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_trampoline_read_and_write_on_a_socketpair(hub, raw_pair):
    a, b = raw_pair
    a.setblocking(False)
    b.setblocking(False)
    minievent.trampoline(a, write=True, timeout=1)  # an empty socket is writable
    got = []

    def reader():
        minievent.trampoline(b.fileno(), read=True, timeout=1)
        got.append(b.recv(10))

    gt = minievent.spawn(reader)
    minievent.sleep(0.01)
    assert got == []  # parked: nothing to read yet
    a.send(b"hi")
    gt.wait()
    assert got == [b"hi"]
    assert hub.listeners() == []


def test_trampoline_on_data_already_there_returns(hub, raw_pair):
    # Data that arrived *before* the wait must still wake it (edge-triggered
    # pollers need a rearm for this).
    a, b = raw_pair
    a.send(b"x")
    minievent.sleep(0.01)
    minievent.trampoline(b, read=True, timeout=1)
    minievent.trampoline(b, read=True, timeout=1)  # still readable: no new edge needed
    assert b.recv(1) == b"x"


def test_trampoline_timeout_removes_listener(hub, raw_pair):
    a, b = raw_pair
    with pytest.raises(minievent.Timeout) as caught:  # eventlet's exception, naming the time
        minievent.trampoline(b, read=True, timeout=0.02)
    assert caught.value.seconds == 0.02 and hub.listeners() == []
    with pytest.raises(minievent.Timeout):
        minievent.trampoline(b, read=True, timeout=0.01, timeout_exc=minievent.Timeout())


def test_trampoline_bad_fds_raise_and_hub_keeps_running(hub):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError):
        minievent.trampoline(r, read=True, timeout=0.1)
    with pytest.raises(ValueError):
        minievent.trampoline(-1, read=True, timeout=0.1)
    with pytest.raises(ValueError):
        minievent.trampoline(0)  # neither read nor write
    with pytest.raises(TypeError):
        minievent.trampoline(object(), read=True)
    assert hub.listeners() == []
    assert minievent.spawn(lambda: 42).wait() == 42


def test_second_simultaneous_reader_gets_an_error(hub, raw_pair):
    a, b = raw_pair
    first = minievent.spawn(minievent.trampoline, b, read=True, timeout=1)
    minievent.sleep(0)
    with pytest.raises(RuntimeError, match="second simultaneous read"):
        minievent.trampoline(b, read=True, timeout=1)
    a.send(b"x")
    first.wait()


def test_notify_close_wakes_the_waiter(hub, raw_pair):
    a, b = raw_pair
    woke = []

    def reader():
        minievent.trampoline(b, read=True, timeout=5)
        woke.append(True)

    gt = minievent.spawn(reader)
    minievent.sleep(0.01)
    hub.notify_close(b.fileno())
    gt.wait()
    assert woke == [True]


def test_loop_exit_instead_of_hang(hub):
    ev = minievent.Event()
    with pytest.raises(minievent.LoopExit, match="Event"):
        ev.wait()
    # the hub survived and works
    assert minievent.spawn(lambda: "alive").wait() == "alive"


def test_loop_exit_names_the_greenthread_waited_for(hub):
    ev = minievent.Event()
    gt = minievent.spawn(ev.wait)
    gt.name = "stuck-worker"
    with pytest.raises(minievent.LoopExit, match="stuck-worker"):
        gt.wait()


def test_queue_get_with_nobody_to_put_is_loop_exit(hub):
    with pytest.raises(minievent.LoopExit, match="Queue"):
        minievent.Queue().get()


def test_no_loop_exit_while_a_timer_can_deliver(hub):
    ev = minievent.Event()
    hub.schedule_call(0.02, ev.send, "late")
    assert ev.wait() == "late"


def test_blocking_call_inside_the_hub_is_an_error(hub, capsys):
    hub.schedule_call(0, minievent.sleep, 1)
    minievent.sleep(0.01)
    err = capsys.readouterr().err
    assert "BlockingSwitchOutError" in err and "inside the hub" in err


def test_sleep_0_inside_the_hub_returns_at_once(hub, capsys):
    # sleep(0) is a hint (let the others run), not a wait: library code that says it cooperatively
    # may run in a hub callback, where there is nothing to yield to. It returns, as eventlet's does.
    ran = []
    hub.schedule_call(0, lambda: (minievent.sleep(0), ran.append("after")))
    minievent.sleep(0.01)
    assert ran == ["after"] and capsys.readouterr().err == ""
    assert not hub.ready or all(e is not hub.greenlet.switch for e in hub.ready), "no resume left for the hub"


def test_one_hub_per_thread(hub):
    seen = {}

    def in_thread(name):
        h = minievent.get_hub()
        gt = minievent.spawn(lambda: minievent.sleep(0.01) or name)
        seen[name] = (h, gt.wait(), threading.get_ident() == h.thread_id)

    threads = [threading.Thread(target=in_thread, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    hubs = {id(v[0]) for v in seen.values()} | {id(hub)}
    assert len(hubs) == 4
    assert [seen[i][1] for i in range(3)] == [0, 1, 2]
    assert all(v[2] for v in seen.values())
    for v in seen.values():
        v[0].close()


def test_call_threadsafe_wakes_a_hub_blocked_in_poll(hub):
    ev = minievent.Event()
    hub.keepalive += 1  # as tpool does: something outside will deliver
    try:
        t = threading.Thread(target=lambda: (time.sleep(0.05), hub.call_threadsafe(ev.send, "from thread")))
        t.start()
        assert ev.wait(timeout=5) == "from thread"
        t.join()
    finally:
        hub.keepalive -= 1


def test_call_threadsafe_reaches_a_hub_kept_busy_by_sleep0_loops(hub):
    # Two greenthreads that only ever sleep(0) keep the ready queue non-empty every turn; a call from
    # another OS thread (a tpool result, call_threadsafe) must still come in, not wait for them to stop.
    delivered = []

    def spin():
        give_up = time.monotonic() + 5
        while not delivered and time.monotonic() < give_up:
            minievent.sleep(0)

    spinners = [minievent.spawn(spin) for _ in range(2)]
    t = threading.Thread(target=lambda: (time.sleep(0.02), hub.call_threadsafe(delivered.append, "from thread")))
    t.start()
    for gt in spinners:
        gt.wait()
    t.join()
    assert delivered == ["from thread"]  # (the spinners stopped because it came, not because they gave up)


def test_keyboard_interrupt_in_greenthread_reaches_main(hub):
    def boom():
        raise KeyboardInterrupt

    gt = minievent.spawn(boom)
    with pytest.raises(KeyboardInterrupt):
        minievent.sleep(0.01)
    with pytest.raises(KeyboardInterrupt):
        gt.wait()
    assert minievent.spawn(lambda: 1).wait() == 1


def test_hub_runs_in_its_own_greenlet(hub):
    assert hub.greenlet is not greenlet.getcurrent()
    assert hub.greenlet.parent is greenlet.getcurrent()
    inside = []
    hub.schedule_call(0, lambda: inside.append(greenlet.getcurrent()))
    minievent.sleep(0.001)
    assert inside == [hub.greenlet]


def test_use_hub_replaces_the_thread_hub():
    h = hubmod.Hub()
    hubmod.use_hub(h)
    assert minievent.get_hub() is h
    hubmod.use_hub(None)
    assert minievent.get_hub() is not h
    h.close()


class CountingHub(hubmod.Hub):
    made = 0

    def __init__(self) -> None:
        CountingHub.made += 1
        super().__init__()


@pytest.mark.parametrize("how", ["class", "module", "name"])
def test_use_hub_takes_what_makes_a_hub_and_makes_it_on_next_use(how, monkeypatch):
    if how == "class":
        hubmod.use_hub(CountingHub)
        made = CountingHub.made
        hub = minievent.get_hub()
        assert type(hub) is CountingHub and CountingHub.made == made + 1
    elif how == "module":
        monkeypatch.setattr(hubmod, "Hub", CountingHub)  # a module whose Hub is ours
        hubmod.use_hub(hubmod)
        assert type(minievent.get_hub()) is CountingHub
    else:
        hubmod.use_hub("selectors")
        assert minievent.get_hub().poller.name == "selectors"
    assert minievent.get_hub() is minievent.get_hub()  # made once
    minievent.sleep(0.001)  # and it runs
    minievent.get_hub().close()
    hubmod.use_hub(None)  # back to the default
    assert type(minievent.get_hub()) is hubmod.Hub


def test_use_hub_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="selectors"):
        hubmod.use_hub("kqueue-of-dreams")


def test_abort_hands_control_to_main_and_the_loop_carries_on(hub):
    assert not hub.running  # (this hub has not run yet)
    ticks = []
    minievent.spawn(lambda: [ticks.append(minievent.sleep(0.005)) for _ in range(3)])
    minievent.sleep(0)
    assert hub.running
    hub.abort(wait=True)
    assert not hub.running
    minievent.sleep(0.05)  # waiting again carries the loop on: nothing was lost
    assert hub.running and len(ticks) == 3


def test_abort_from_a_callback_ends_mains_wait_at_once(hub):
    hub.schedule_call(0.001, hub.abort)
    later = []
    hub.schedule_call(0.002, later.append, True)
    start = time.monotonic()
    hub.park()  # nothing else would ever resume main
    assert not hub.running and later == [] and time.monotonic() - start < 1
    minievent.sleep(0.01)
    assert later == [True]


def test_abort_from_a_greenthread_stops_at_the_next_turn_but_cannot_wait(hub):
    def stopper():
        with pytest.raises(RuntimeError):
            hub.abort(wait=True)
        hub.abort()

    minievent.spawn(stopper)
    minievent.sleep(5)  # cut short by the abort
    assert not hub.running


def test_main_sleep0_resume_is_not_left_behind_by_abort(hub):
    minievent.sleep(0)
    hub.abort()  # at the next turn
    minievent.sleep(0)  # that turn: main resumes once, by the abort
    woken = []
    hub.schedule_call(0.01, woken.append, True)
    hub.schedule_call(0.01, hub.abort)
    hub.park()  # a stale sleep(0) resume would return from here before the timers ran
    assert woken == [True]


def test_set_timer_exceptions_silences_callback_errors(hub, capsys):
    hub.set_timer_exceptions(False)
    hub.schedule_call(0, lambda: 1 / 0)
    minievent.sleep(0.001)
    assert "ZeroDivisionError" not in capsys.readouterr().err
    hub.set_timer_exceptions(True)
    hub.schedule_call(0, lambda: 1 / 0)
    minievent.sleep(0.001)
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_set_debug_listeners_records_where_listeners_were_added(hub, raw_pair):
    from minievent import debug

    a, b = raw_pair
    try:
        hub.set_debug_listeners(True)
        reader = minievent.spawn(minievent.trampoline, a, read=True)
        minievent.sleep(0)
        assert "trampoline" in debug.format_hub_listeners()
        b.send(b"x")
        reader.wait()
    finally:
        hub.set_debug_listeners(False)


def test_an_error_in_the_loop_itself_reaches_main_and_the_loop_survives(hub):
    # Not a greenthread's error: the poller itself fails (say, EBADF from select).
    real_poll = hub.poller.poll
    calls = []

    def failing_poll(timeout):
        if not calls:
            calls.append(timeout)
            raise OSError(9, "poller broke")
        return real_poll(timeout)

    hub.poller.poll = failing_poll
    loop_greenlet = hub.greenlet
    with pytest.raises(OSError, match="poller broke"):
        minievent.sleep(0.01)
    assert not loop_greenlet.dead and hub.greenlet is loop_greenlet
    assert minievent.spawn(lambda: minievent.sleep(0.01) or "still running").wait() == "still running"
