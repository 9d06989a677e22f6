"""threading, _thread and queue after monkey_patch(): green between greenthreads, safe beside real threads.

Every case runs in a child interpreter (``run_child``): patching is for the
whole process, and this one must stay unpatched.
"""

from __future__ import annotations

import textwrap

import pytest
from support import beats_while_code, last_json, run_child, run_python

PRELUDE = textwrap.dedent("""
    import json, os, sys, threading, time, queue, _thread
    import minievent
    from minievent import patcher
    minievent.monkey_patch()
""") + beats_while_code("time.sleep")


def child(code: str, timeout: float = 60) -> dict:
    return run_child(PRELUDE + textwrap.dedent(code), timeout=timeout)


def test_lock_repro_from_the_issue_returns_at_once():
    out = child("""
        lock = threading.Lock()
        held = []
        def f(i):
            with lock:
                held.append(i)
                time.sleep(0.01)
                held.append(-i)
        t0 = time.monotonic()
        list(minievent.GreenPool().imap(f, range(2)))
        print(json.dumps({"elapsed": time.monotonic() - t0, "held": held, "free": not lock.locked()}))
    """)
    assert out["held"] == [0, 0, 1, -1] and out["free"]  # one at a time, in order
    assert out["elapsed"] < 2, out


def test_rlock_condition_semaphore_barrier_event_between_greenthreads():
    out = child("""
        rl, inside = threading.RLock(), []
        def reentrant(i):
            with rl:
                with rl:
                    inside.append(i)
                    time.sleep(0.005)
                    inside.append(i)
        list(minievent.GreenPool().imap(reentrant, range(3)))
        sem, now, peak = threading.BoundedSemaphore(2), [0], [0]
        def limited(i):
            with sem:
                now[0] += 1
                peak[0] = max(peak[0], now[0])
                time.sleep(0.01)
                now[0] -= 1
        list(minievent.GreenPool().imap(limited, range(8)))
        try:
            sem.release()
            bounded = "no error"
        except ValueError:
            bounded = "ValueError"
        barrier = threading.Barrier(3)
        parties = sorted(minievent.GreenPool().imap(lambda i: barrier.wait(timeout=5), range(3)))
        cond, items = threading.Condition(), []
        def consumer():
            with cond:
                assert cond.wait_for(lambda: items, timeout=5)
                return items.pop()
        gt = minievent.spawn(consumer)
        time.sleep(0.01)
        with cond:
            items.append("item")
            cond.notify()
        ev = threading.Event()
        minievent.spawn_after(0.02, ev.set)
        print(json.dumps({"inside": inside, "peak": peak[0], "bounded": bounded, "parties": parties,
                          "cond": gt.wait(), "event": ev.wait(5), "event_timeout": threading.Event().wait(0.01)}))
    """)
    assert out["inside"] == [0, 0, 1, 1, 2, 2]  # RLock excludes the other greenthreads
    assert out["peak"] == 2 and out["bounded"] == "ValueError"
    assert out["parties"] == [0, 1, 2] and out["cond"] == "item"
    assert out["event"] is True and out["event_timeout"] is False


def test_threading_local_is_per_greenthread_across_50():
    out = child("""
        ctx = threading.local()
        class Ctx(threading.local):
            def __init__(self, tag):
                self.tag = tag  # runs again in every greenthread that first touches it
        sub = Ctx("fresh")
        def request(i):
            ctx.request_id = i
            sub.tag = i
            time.sleep(0.01)  # all 50 interleave here
            return ctx.request_id, sub.tag, threading.get_ident(), threading.current_thread().name
        got = list(minievent.GreenPool(50).imap(request, range(50)))
        seen_fresh = minievent.spawn(lambda: (sub.tag, hasattr(ctx, "request_id"))).wait()
        print(json.dumps({"got": got, "fresh": seen_fresh, "main_is_current":
                          threading.main_thread() is threading.current_thread(),
                          "dummies_left": sum(isinstance(t, threading._DummyThread) for t in threading.enumerate())}))
    """)
    assert [g[0] for g in out["got"]] == list(range(50))
    assert [g[1] for g in out["got"]] == list(range(50))
    assert len({g[2] for g in out["got"]}) == 50  # get_ident() tells the greenthreads apart
    assert out["fresh"] == ["fresh", False]  # a new greenthread sees __init__'s value, not another's
    assert out["main_is_current"]
    assert out["dummies_left"] == 0  # the greenthreads' stand-in Thread objects left with them


def test_current_thread_of_a_spawned_greenthread_is_a_thread_that_follows_it():
    out = child("""
        from minievent import tpool
        seen, done = {}, []
        def work():
            t = threading.current_thread()
            assert t is threading.current_thread()  # one object for the greenthread's whole life
            seen.update(cls=type(t).__name__, thread=isinstance(t, threading.Thread), name=t.name,
                        ident=t.ident == threading.get_ident() == id(minievent.getcurrent()), alive=t.is_alive(),
                        daemon=t.daemon, listed=t in threading.enumerate())
            t.name = "renamed"
            seen["renamed"] = t.name
            time.sleep(0.05)
            done.append(1)
        gt = minievent.spawn(work)
        time.sleep(0)
        t = threading._active[id(gt)]
        t.join(0.01)
        early = (t.is_alive(), done == [])
        t.join()  # waits green for the greenthread, as for a real thread
        after = (t.is_alive(), done == [1], t in threading.enumerate())
        real = patcher.original("threading")
        def name_in_real_thread():
            return threading.current_thread().name
        in_tpool = tpool.execute(name_in_real_thread)
        r = real.Thread(target=lambda: seen.update(real=name_in_real_thread()), name="real-one")
        r.start()
        r.join()
        print(json.dumps({**seen, "early": early, "after": after, "tpool": in_tpool,
                          "active": len(threading._active)}))
    """)
    assert out["cls"] == "_GreenThread" and out["thread"] and out["ident"] and out["listed"]
    assert out["name"].startswith("GreenThread-") and out["renamed"] == "renamed"
    assert out["alive"] and out["daemon"]
    assert out["early"] == [True, True]  # join(timeout) returned while it still ran
    assert out["after"] == [False, True, False]  # ended: not alive, gone from threading._active
    # An OS thread the patched module did not start is described by the module that did.
    assert out["tpool"].startswith("minievent.tpool-") and out["real"] == "real-one"
    assert out["active"] == 1  # the main thread only: nothing left behind


def test_queue_classes_between_greenthreads():
    out = child("""
        res = {}
        for cls in (queue.Queue, queue.LifoQueue, queue.PriorityQueue, queue.SimpleQueue):
            q = cls()
            def producer(q=q):
                for i in (3, 1, 2):
                    time.sleep(0.005)
                    q.put(i)
            minievent.spawn(producer)
            res[cls.__name__] = [q.get(timeout=5) for _ in range(3)]
        bounded = queue.Queue(maxsize=1)
        bounded.put("a")
        minievent.spawn_after(0.02, bounded.get)
        bounded.put("b", timeout=5)  # waits for the getter, green
        try:
            queue.Queue().get(timeout=0.01)
            empty = "no error"
        except queue.Empty:
            empty = "Empty"
        jq = queue.Queue()
        for i in range(3):
            jq.put(i)
        def worker():
            while True:
                jq.get()
                time.sleep(0.005)
                jq.task_done()
        minievent.spawn(worker)
        jq.join()
        print(json.dumps({"res": res, "bounded": bounded.get_nowait(), "empty": empty,
                          "simple": queue.SimpleQueue.__module__}))
    """)
    assert out["res"] == {
        "Queue": [3, 1, 2],
        "LifoQueue": [3, 1, 2],
        "PriorityQueue": [3, 1, 2],
        "_PySimpleQueue": [3, 1, 2],
    }  # each item is taken as soon as it is put
    assert out["bounded"] == "b" and out["empty"] == "Empty" and out["simple"] == "queue"


def test_thread_pool_executor_is_concurrent_and_thread_join_is_green():
    out = child("""
        from concurrent.futures import ThreadPoolExecutor
        def run():
            with ThreadPoolExecutor(10) as ex:
                return list(ex.map(lambda i: (time.sleep(0.15), i * i)[1], range(20)))
        t0 = time.monotonic()
        ticks, squares = beats_while(run)
        elapsed = time.monotonic() - t0
        t = threading.Thread(target=time.sleep, args=(0.2,), name="sleeper", daemon=True)
        t.start()
        alive = t.is_alive() and t in threading.enumerate()
        join_ticks, _ = beats_while(t.join)
        print(json.dumps({"squares": squares, "elapsed": elapsed, "ticks": ticks, "alive": alive,
                          "join_ticks": join_ticks, "dead": not t.is_alive(), "daemon": t.daemon}))
    """)
    assert out["squares"] == [i * i for i in range(20)]
    assert out["elapsed"] < 1.5, out  # two rounds of 0.15 s; one after another it would be 3 s
    assert out["ticks"] >= 5 and out["join_ticks"] >= 5  # the hub kept running meanwhile
    assert out["alive"] and out["dead"] and out["daemon"]


def test_socketserver_shutdown_from_a_greenthread():
    out = child("""
        import socketserver, socket
        class Echo(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.sendall(self.request.recv(100).upper())
        srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
        t.start()
        with socket.create_connection(srv.server_address, timeout=5) as c:
            c.sendall(b"hi")
            reply = c.recv(100).decode()
        t0 = time.monotonic()
        minievent.spawn(srv.shutdown).wait()
        t.join(5)
        srv.server_close()
        print(json.dumps({"reply": reply, "shutdown": time.monotonic() - t0, "stopped": not t.is_alive()}))
    """)
    assert out["reply"] == "HI" and out["stopped"]
    assert out["shutdown"] < 3, out


def test_socketserver_and_subprocess_imported_before_patching_wait_green():
    # Each picked its selector class at import (socketserver._ServerSelector, subprocess._PopenSelector):
    # the stdlib's classes themselves are made green, so what they picked early waits green too.
    out = run_child(
        """
        import json, socket, socketserver, subprocess, sys, threading, time
        import minievent
        minievent.monkey_patch()
        class Echo(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.sendall(self.request.recv(100).upper())
        srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
        server = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.5})
        ticks, done = [], []
        def tick():
            while not done:
                time.sleep(0.01)
                ticks.append(1)
        ticker = minievent.spawn(tick)
        server.start()
        with socket.create_connection(srv.server_address, timeout=5) as c:
            c.sendall(b"hi")
            reply = c.recv(100).decode()
        t0 = time.monotonic()
        srv.shutdown()  # (serve_forever looks at the flag every poll_interval)
        server.join(10)
        stopped = time.monotonic() - t0
        srv.server_close()
        slow = [sys.executable, "-c", "import sys, time; time.sleep(0.3); print('late'); print('err', file=sys.stderr)"]
        before = len(ticks)
        proc = subprocess.Popen(slow, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()  # two pipes: the stdlib's selector path
        done.append(True)
        ticker.wait()
        print(json.dumps({"reply": reply, "stopped": stopped, "alive": server.is_alive(),
                          "out": [out.decode(), err.decode()], "ticks": len(ticks) - before}))
    """,
        timeout=60,
    )
    assert out["reply"] == "HI" and not out["alive"] and out["stopped"] < 2, out
    assert out["out"] == ["late\n", "err\n"]
    assert out["ticks"] >= 10, out  # the hub ran while communicate() waited for the child


def test_real_threads_and_greenthreads_mixed():
    out = child("""
        real_threading = patcher.original("threading")
        ev, lock = threading.Event(), threading.Lock()
        # 1. A real OS thread sets a green Event the main greenlet waits on (no timeout, nothing else to do).
        real_threading.Thread(target=lambda: (time.sleep(0.05), ev.set())).start()
        t0 = time.monotonic()
        woke = ev.wait()
        event_delay = time.monotonic() - t0
        # 2. A real thread holds a green lock; a greenthread waits for it, green: the hub keeps ticking.
        held = real_threading.Event()
        def holder():
            with lock:
                held.set()
                time.sleep(0.2)  # the real sleep: this is an OS thread
        real_threading.Thread(target=holder).start()
        held.wait(5)
        ticks, got = beats_while(lambda: lock.acquire(timeout=5))
        lock.release()
        # 3. A tpool worker and a greenthread both wait for a lock a greenthread holds: the hand-overs
        #    cross OS threads both ways (each through the receiving hub's doorbell).
        order = []
        minievent.tpool.execute(len, "")  # the pool's 20 threads started first: that blocks the hub a while
        def in_worker():
            with lock:
                order.append("worker")
        def in_green(tag, hold):
            with lock:
                order.append(tag)
                time.sleep(hold)
        g1 = minievent.spawn(in_green, "g1", 0.2)
        time.sleep(0.01)
        w = minievent.spawn(minievent.tpool.execute, in_worker)
        time.sleep(0.05)  # the worker is parked on the lock now
        g2 = minievent.spawn(in_green, "g2", 0)
        for g in (g1, w, g2):
            g.wait()
        # 4. tpool and original() keep real threads.
        idents = {minievent.tpool.execute(threading.get_ident), threading.get_ident()}
        real_ident = real_threading.Thread is not threading.Thread
        print(json.dumps({"woke": woke, "event_delay": event_delay, "got": got, "ticks": ticks, "order": order,
                          "two_idents": len(idents) == 2, "real_class": real_ident}))
    """)
    assert out["woke"] and out["event_delay"] < 2
    assert out["got"] is True and out["ticks"] >= 5
    assert out["order"] == ["g1", "worker", "g2"]  # first come, first served, across threads
    assert out["two_idents"] and out["real_class"]


def test_deadlock_between_greenthreads_is_an_error_not_a_hang():
    out = child(
        """
        lock = threading.Lock()
        lock.acquire()
        try:
            lock.acquire()  # nothing else can release it: no greenthread, no OS thread
            what = "acquired?!"
        except minievent.LoopExit as e:
            what = "LoopExit: " + str(e)
        print(json.dumps({"what": what}))
    """,
        timeout=30,
    )
    assert out["what"].startswith("LoopExit") and "lock" in out["what"]


def test_bad_input_gets_the_stdlib_exceptions():
    out = child("""
        errors = {}
        lock = threading.Lock()
        cases = {
            "nonblocking_timeout": lambda: lock.acquire(False, 1),
            "negative_timeout": lambda: lock.acquire(True, -2),
            "huge_timeout": lambda: lock.acquire(True, 1e300),
            "release_unlocked": lock.release,
            "not_callable": lambda: _thread.start_new_thread(1, ()),
            "args_not_tuple": lambda: _thread.start_new_thread(print, []),
            "kwargs_not_dict": lambda: _thread.start_new_thread(print, (), []),
            "local_args": lambda: threading.local(1),
            "rlock_unowned": threading.RLock().release,
            "queue_timeout": lambda: queue.Queue().get(timeout=-1),
            "mysqldb": lambda: minievent.monkey_patch(MySQLdb=True),
            "unknown_flag": lambda: minievent.monkey_patch(nosuch=True),
        }
        for name, fn in cases.items():
            try:
                fn()
                errors[name] = None
            except Exception as e:
                errors[name] = type(e).__name__
        # the hub still runs afterwards
        errors["after"] = minievent.spawn(lambda: 42).wait()
        print(json.dumps(errors))
    """)
    assert out == {
        "nonblocking_timeout": "ValueError",
        "negative_timeout": "ValueError",
        "huge_timeout": "OverflowError",
        "release_unlocked": "RuntimeError",
        "not_callable": "TypeError",
        "args_not_tuple": "TypeError",
        "kwargs_not_dict": "TypeError",
        "local_args": "TypeError",
        "rlock_unowned": "RuntimeError",
        "queue_timeout": "ValueError",
        "mysqldb": "ValueError",
        "unknown_flag": "TypeError",
        "after": 42,
    }


def test_no_fd_or_thread_leaks():
    out = child("""
        import gc, socketserver
        from concurrent.futures import ThreadPoolExecutor
        def fds():
            gc.collect()
            return len(os.listdir("/proc/self/fd"))
        def round_trip():
            with ThreadPoolExecutor(4) as ex:
                list(ex.map(time.sleep, [0.001] * 8))
            q = queue.Queue()
            ts = [threading.Thread(target=q.put, args=(i,)) for i in range(20)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            srv = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01})
            t.start()
            srv.shutdown()
            t.join()
            srv.server_close()
        round_trip()  # warm up (the hub's own fds, imports)
        before, threads_before = fds(), threading.active_count()
        for _ in range(5):
            round_trip()
        print(json.dumps({"before": before, "after": fds(), "threads_before": threads_before,
                          "threads_after": threading.active_count()}))
    """)
    assert out["after"] == out["before"], out
    assert out["threads_after"] == out["threads_before"], out


def test_thread_count_is_the_programs_not_the_runtimes():
    # A green DNS lookup starts tpool's OS threads: they are the runtime's, as the hub is, and
    # _thread._count() (what test helpers wait on to see "all threads gone") does not count them.
    out = child("""
        import socket
        before = _thread._count()
        minievent.spawn(socket.getaddrinfo, "localhost", 80).wait()  # (in a greenthread: resolved in tpool)
        after = _thread._count()
        t = threading.Thread(target=time.sleep, args=(0.05,))
        t.start()
        during = _thread._count()
        t.join()
        pool = [t for t in patcher.original("threading").enumerate() if t.name.startswith("minievent.tpool-")]
        print(json.dumps({"before": before, "after": after, "pool": len(pool), "during": during,
                          "joined": _thread._count()}))
    """)
    assert out["pool"] > 0, out
    assert out["before"] == out["after"] == out["joined"], out


def test_thread_count_lock_repr_and_a_threads_uncaught_exception_as_the_stdlibs():
    out = child("""
        gate = _thread.allocate_lock()
        gate.acquire()
        started, caught = [], []
        sys.unraisablehook = caught.append
        def task():
            started.append(_thread._count())
            with gate:
                raise ValueError("task failed")
        before = _thread._count()
        _thread.start_new_thread(task, ())
        time.sleep(0.01)
        running, locked = _thread._count(), repr(gate)
        gate.release()
        time.sleep(0.01)
        u = caught[0]
        print(json.dumps({"counts": [before, started[0], running, _thread._count()],
                          "repr": [locked, repr(gate)], "hook": [str(u.exc_value), u.err_msg, u.object is task]}))
    """)
    assert out["counts"] == [0, 1, 1, 0]  # a running greenthread of start_new_thread is a thread
    assert out["repr"][0].startswith("<locked ") and out["repr"][1].startswith("<unlocked ")
    assert out["hook"] == ["task failed", "Exception ignored in thread started by", True]  # as _thread reports it


def test_interrupt_main_from_a_thread_and_the_stdlibs_dummy_thread():
    out = child("""
        t = threading.Thread(target=_thread.interrupt_main)
        try:
            t.start()
            t.join()
            interrupted = "no"
        except KeyboardInterrupt:  # in the main thread, as a Ctrl-C there would be
            interrupted = threading.current_thread() is threading.main_thread()
        t.join()
        seen = []
        tid = _thread.start_new_thread(lambda: seen.append(threading.current_thread()), ())
        time.sleep(0.01)
        try:
            type(threading.Lock())()
            made = True
        except TypeError:  # as _thread's lock type: threading.Lock() makes them
            made = False
        class Service:
            make_lock = threading.Lock  # (a class attribute: called through an instance, it gets no self)
        made = [made, repr(Service().make_lock()).startswith("<unlocked ")]
        dummy = [type(seen[0]).__name__, threading._active.get(tid) is seen[0], seen[0].is_alive()]
        print(json.dumps({"interrupted": interrupted, "made": made, "dummy": dummy}))
    """)
    # A thread of _thread.start_new_thread gets the stdlib's _DummyThread, kept and "alive", as the stdlib keeps it.
    assert out == {"interrupted": True, "made": [False, True], "dummy": ["_DummyThread", True, True]}


def test_os_read_and_write_on_a_pipe_wait_green():
    out = child("""
        r, w = os.pipe()
        def later():
            time.sleep(0.2)
            os.write(w, b"hello")
        minievent.spawn(later)
        ticks, got = beats_while(lambda: os.read(r, 100))  # before patching: the hub stops until the write
        full = 0
        os.set_blocking(w, False)
        try:
            while True:
                full += os.write(w, b"x" * 65536)
        except BlockingIOError:  # a non-blocking fd keeps the stdlib's error
            os.set_blocking(w, True)
        def drain():
            time.sleep(0.2)
            return len(os.read(r, full + 10))
        reader = minievent.spawn(drain)
        wticks, wrote = beats_while(lambda: os.write(w, b"y"))  # the pipe is full: it waits for room
        os.close(w)
        drained = reader.wait() >= full
        errors = []
        for call, args in ((os.write, (r, b"x")), (os.read, (w, 1)), (os.read, ("0", 1))):
            try:  # the wrong end of a pipe is never ready: the stdlib's error at once, not a wait
                call(*args)
            except (OSError, TypeError) as e:
                errors.append(type(e).__name__)
        print(json.dumps({"got": got.decode(), "ticks": ticks, "wrote": wrote, "wticks": wticks, "errors": errors,
                          "drained": drained, "rest": os.read(r, 10).decode(), "eof": os.read(r, 10).decode()}))
    """)
    assert out["got"] == "hello" and out["ticks"] >= 10, out
    assert out["errors"] == ["OSError", "OSError", "TypeError"]
    assert out["wrote"] == 1 and out["wticks"] >= 10 and out["drained"] and (out["rest"], out["eof"]) == ("y", "")


def test_queue_listener_over_a_multiprocessing_queue():
    # Services log this way: handlers run in a listener thread fed by a multiprocessing.Queue, whose reads
    # are os.read on a pipe.
    out = child(
        """
        import logging, logging.handlers, multiprocessing
        records = []
        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())
        q = multiprocessing.Queue()
        listener = logging.handlers.QueueListener(q, Keep())
        listener.start()
        log = logging.getLogger("service")
        log.addHandler(logging.handlers.QueueHandler(q))
        log.propagate = False
        for i in range(5):
            log.warning("beat %d", i)
        listener.stop()
        q.close()
        q.join_thread()
        print(json.dumps(records))
    """,
        timeout=30,
    )
    assert out == [f"beat {i}" for i in range(5)]


def test_a_fork_from_a_thread_read_back_through_a_pipe():
    # CPython's test_thread.TestForkInThread: a thread forks while the main thread reads the child's pipe.
    # _thread.start_new_thread does not wait for the thread to run, so the read comes first; it waits green,
    # and the thread runs. Before os.read was green it blocked the hub, and the thread never forked: a hang.
    out = child(
        """
        r, w = os.pipe()
        codes = []
        def fork_and_wait():
            pid = os.fork()
            if pid == 0:  # the child: it reports and leaves at once
                os.write(w, b"from the child")
                os._exit(0)
            codes.append(os.waitpid(pid, 0)[1])
        _thread.start_new_thread(fork_and_wait, ())
        got = os.read(r, 100)
        while not codes:
            time.sleep(0.01)
        print(json.dumps({"got": got.decode(), "codes": codes}))
    """,
        timeout=30,
    )
    assert out == {"got": "from the child", "codes": [0]}


def test_monkey_patch_takes_eventlets_arguments():
    code = """
        import json, threading, socket, os, sys
        import minievent
        from minievent import patcher
        minievent.monkey_patch({args})
        names = ("socket", "select", "time", "thread", "os", "subprocess", "psycopg", "MySQLdb", "builtins")
        flags = [n for n in names if patcher.is_monkey_patched(n)]
        assert sorted(patcher.already_patched) == sorted(flags), patcher.already_patched  # eventlet's record of it
        print(json.dumps(flags + ["green-lock" if "green" in type(threading.Lock()).__module__ else "real-lock"]))
    """
    everything = ["socket", "select", "time", "thread", "os", "subprocess", "green-lock"]
    assert run_child(code.format(args="")) == everything
    assert run_child(code.format(args="all=True")) == everything
    assert run_child(code.format(args="all=False")) == ["real-lock"]
    assert run_child(code.format(args="thread=False")) == ["socket", "select", "time", "os", "subprocess", "real-lock"]
    assert run_child(code.format(args="thread=True")) == ["thread", "green-lock"]
    assert run_child(code.format(args="all=False, socket=True")) == ["socket", "real-lock"]


def test_import_patched_and_original():
    out = run_child("""
        import json, socket, threading
        import minievent
        from minievent import patcher
        green_http = patcher.import_patched("http.client")
        green_threading = patcher.import_patched("threading")
        unpatched_after = socket.socket is not minievent.GreenSocket and not patcher.is_monkey_patched("socket")
        minievent.monkey_patch()
        real = patcher.original("threading")
        seen = []
        t = real.Thread(target=lambda: seen.append(real.get_ident()))
        t.start()
        t.join()
        print(json.dumps({
            "http_socket_green": green_http.socket.socket is minievent.GreenSocket,
            "green_lock": "green" in type(green_threading.Lock()).__module__,
            "unpatched_after": unpatched_after,
            "original_thread_real": seen[0] != threading.get_ident() and real.Lock is not threading.Lock,
            "original_time": patcher.original("time").sleep is not minievent.sleep,
            "module_object": patcher.is_monkey_patched(threading),
        }))
    """)
    assert all(out.values()), out


def test_import_patched_reimports_submodules_and_dependencies_and_leaves_sys_modules_as_found(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from .sub import which_socket\nimport helper\n")
    (tmp_path / "pkg" / "sub.py").write_text("import socket\ndef which_socket():\n    return socket\n")
    (tmp_path / "helper.py").write_text("import socket\n")
    out = run_child(f"""
        import http, json, socket, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from minievent import patcher
        from minievent.green import socket as green
        patcher.import_patched("json")  # (the green modules a copy sees: imported here once, as any import)
        import pkg.sub  # imported first, unpatched: its copy in sys.modules must not be what the patched one uses
        sys.modules.pop("helper")  # (not imported yet when import_patched runs)
        real_sub = sys.modules["pkg.sub"]
        before = dict(sys.modules)
        patched = patcher.import_patched("pkg")
        server = patcher.import_patched("http.server")  # socketserver and http.client: first imported here
        after = dict(sys.modules)
        import helper, socketserver, http.client
        print(json.dumps({{
            "patched_sub": patched.which_socket() is green, "dependency": patched.helper.socket is green,
            "original": pkg.which_socket() is socket and sys.modules["pkg.sub"] is real_sub,
            "private": sys.modules["pkg"] is pkg and patched is not pkg,
            "copies_green": server.socketserver.socket is green,
            "sys_modules_as_found": sorted(after.keys() ^ before.keys()) or after == before,
            "imported_later_unpatched": [helper.socket is socket, socketserver.socket is socket,
                                         http.client.socket is socket],
        }}))
    """)
    # A module the copy was the first to import was imported seeing the green modules: it stays the copy's own,
    # and an import after it is the stdlib's, as if import_patched had never run.
    assert out == {
        "patched_sub": True,
        "dependency": True,
        "original": True,
        "private": True,
        "copies_green": True,
        "sys_modules_as_found": True,
        "imported_later_unpatched": [True, True, True],
    }


def test_greenthreads_and_their_threads_live_on_in_a_forked_child():
    out = child("""
        done = []
        t = threading.Thread(target=lambda: (time.sleep(0.1), done.append(os.getpid())))
        t.start()
        time.sleep(0)
        pid = os.fork()
        if pid == 0:  # the child: t runs here too, and threading still says so
            alive = t.is_alive() and t in threading.enumerate()
            t.join()
            os._exit(0 if alive and done == [os.getpid()] and threading.current_thread() is threading.main_thread()
                     else 1)
        _, status = os.waitpid(pid, 0)
        t.join()
        print(json.dumps({"child": os.waitstatus_to_exitcode(status), "parent": done == [os.getpid()]}))
    """)
    assert out == {"child": 0, "parent": True}


def test_rlocks_made_before_patching_become_green():
    code = textwrap.dedent("""
        import json, logging, threading, time
        handler = logging.StreamHandler()  # logging's module lock and the handler's: made before patching
        logging.getLogger("early").addHandler(handler)
        loose = logging.StreamHandler()  # on no logger: collected at exit, its weakref callback takes logging's lock
        class Service:
            lock = threading.RLock()
        table = {"locks": [0, threading.RLock()]}
        class Conn:
            pass
        conn = Conn()
        conn.lock = threading.RLock()
        held = threading.RLock()
        held.acquire()  # held: it stays as it was
        kept = (threading.RLock(),)  # in a tuple: nothing can rewrite it
        import minievent
        minievent.monkey_patch()
        order = []
        def use(name, lock):
            with lock:
                order.append(name + " in")
                time.sleep(0.02)  # a C RLock would let the other greenthread in here (same OS thread)
                order.append(name + " out")
        for lock in (Service.lock, table["locks"][1], conn.lock, handler.lock):
            a, b = minievent.spawn(use, "a", lock), minievent.spawn(use, "b", lock)
            a.wait(), b.wait()
        green = lambda lock: isinstance(lock, threading._PyRLock)
        logging.getLogger("early").warning("logged through the green locks")
        print(json.dumps({"green": [green(lock) for lock in (logging._lock, handler.lock, Service.lock,
                                                               table["locks"][1], conn.lock)],
                          "left": [green(held), green(kept[0])], "order": order}))
    """)
    proc = run_python("-c", code)
    out = last_json(proc)
    assert out["green"] == [True] * 5 and out["left"] == [False, False]
    assert out["order"] == ["a in", "a out", "b in", "b out"] * 4  # they exclude greenthreads now
    # The green logging lock is still taken at interpreter exit (weakref callbacks), after greenlet's own end.
    assert proc.stderr == "logged through the green locks\n", proc.stderr


def test_subprocess_wait_is_green():
    out = child("""
        import subprocess
        slow = [sys.executable, "-c", "import time; time.sleep(0.3)"]
        ticks, code = beats_while(lambda: subprocess.Popen(slow).wait())
        out = subprocess.run([sys.executable, "-c", "print('hi')"], capture_output=True, text=True, timeout=30)
        # One pipe and no timeout: the stdlib's communicate() would read it straight, blocking the hub.
        one_pipe, printed = beats_while(lambda: subprocess.check_output(slow[:2] + [slow[2] + "; print('late')"]))
        print(json.dumps({"ticks": ticks, "code": code, "out": out.stdout, "one_pipe": one_pipe,
                          "printed": printed.decode(), "green_popen": subprocess.Popen.__module__}))
    """)
    assert out["code"] == 0 and out["out"] == "hi\n" and out["printed"] == "late\n"
    assert out["ticks"] >= 10 and out["one_pipe"] >= 10, out  # the hub ran while the child process lived
    assert out["green_popen"] == "minievent.green.subprocess"


def test_communicate_with_a_lone_stdin_pipe_waits_green():
    # One pipe, no timeout: the stdlib writes the input straight, which blocks the hub while the child
    # leaves more than a pipe's buffer (64 KiB) unread; here the child reads nothing for 0.3 s.
    out = child("""
        import subprocess
        reader = [sys.executable, "-c",
                  "import sys, time; time.sleep(0.3); sys.exit(len(sys.stdin.buffer.read()) != 1_000_000)"]
        proc = subprocess.Popen(reader, stdin=subprocess.PIPE)
        ticks, got = beats_while(lambda: proc.communicate(b"x" * 1_000_000))
        text = subprocess.Popen(reader, stdin=subprocess.PIPE, encoding="utf-8")
        tticks, _ = beats_while(lambda: text.communicate("\u00e9" * 500_000))  # (1,000,000 bytes in UTF-8)
        print(json.dumps({"ticks": ticks, "got": got, "code": proc.returncode, "text": [tticks, text.returncode]}))
    """)
    assert out["got"] == [None, None] and out["code"] == 0 and out["text"][1] == 0, out
    assert out["ticks"] >= 10 and out["text"][0] >= 10, out  # the hub ran while the child did not read


def test_green_subprocess_and_os_without_monkey_patch():
    out = run_child("""
        import json, os, subprocess, sys, time
        import minievent
        from minievent import patcher
        from minievent.green import os as green_os, subprocess as green_subprocess
        def lateness(call):
            # How late a 50 ms sleep of another greenthread woke while call() waited for a 0.3 s child.
            t0 = time.monotonic()
            sleeper = minievent.spawn(lambda: (minievent.sleep(0.05), time.monotonic() - t0 - 0.05)[1])
            return call(), sleeper.wait()
        slow = [sys.executable, "-c", "import time; time.sleep(0.3); print('done')"]
        code, waited = lateness(lambda: green_subprocess.Popen(slow).wait())
        pipes = green_subprocess.Popen(slow, stdout=green_subprocess.PIPE, stderr=green_subprocess.PIPE)
        (got, _), communicated = lateness(pipes.communicate)  # two pipes: it waits in a (green) selector
        print(json.dumps({"code": code, "waited": waited, "communicated": communicated, "out": got.decode(),
                          "stdlib_untouched": subprocess.Popen is not green_subprocess.Popen
                                              and os.waitpid is not green_os.waitpid
                                              and not patcher.is_monkey_patched("os"),
                          "full_os": green_os.getpid() == os.getpid() and green_os.path is os.path}))
    """)
    assert out["code"] == 0 and out["out"] == "done\n"
    assert out["waited"] < 0.2 and out["communicated"] < 0.2, out  # the hub ran meanwhile, both times
    assert out["stdlib_untouched"] and out["full_os"]


@pytest.mark.parametrize("flag", ["psycopg", "builtins"])
def test_what_cannot_be_green_is_an_error_when_asked_for(flag):
    out = run_child(f"""
        import json, minievent
        try:
            minievent.monkey_patch({flag}=True)
            print(json.dumps("patched?!"))
        except ValueError as e:
            print(json.dumps(str(e)))
    """)
    assert "cannot make it green" in out and "tpool" in out


def test_a_polling_loop_in_a_thread_does_not_starve_the_others():
    # asyncore-style servers (test_ftplib's, test_poplib's) poll in a loop that select()
    # answers at once: the GIL used to preempt that thread, a greenthread must yield.
    out = child(
        """
        import select, socket
        a, b = socket.socketpair()
        stop, rounds = [], [0]
        def poller():
            while not stop:
                select.select([], [b], [], 0.1)  # b is always writable
                rounds[0] += 1
        t = threading.Thread(target=poller, daemon=True)
        t.start()
        t0 = time.monotonic()
        time.sleep(0.05)
        slept = time.monotonic() - t0
        stop.append(1)
        t.join(5)
        print(json.dumps({"slept": slept, "rounds": rounds[0], "stopped": not t.is_alive()}))
    """,
        timeout=30,
    )
    assert out["stopped"] and out["rounds"] > 0
    assert out["slept"] < 2, out
