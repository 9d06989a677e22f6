"""A nova-compute-shaped service on the real oslo.service, and the same service on gevent and asyncio.

The shape is nova's, scaled down (every interval divided by 50):

* the heartbeat: nova's DB servicegroup driver joins a service by
  ``service.tg.add_timer_args(report_interval, self._report_state, args=[service], ...)``
  (nova/servicegroup/drivers/db.py, ``DbDriver.join``), a ``FixedIntervalLoopingCall``
  in the service's ``ThreadGroup``; ``report_interval`` is 10 s in nova, 0.2 s here;
* the periodic tasks: ``nova.service.Service.start`` adds
  ``self.tg.add_dynamic_timer(self.periodic_tasks, ..., periodic_interval_max=...)``,
  a ``DynamicLoopingCall`` that runs the manager's ``PeriodicTasks.run_periodic_tasks``
  (oslo_service/periodic_task.py): every due task in turn, one greenthread, ``time.sleep(0)``
  between them;
* ``_sync_power_states``: nova's compute manager declares it
  ``@periodic_task.periodic_task(spacing=CONF.sync_power_state_interval, run_immediately=True)``
  (nova/compute/manager.py); here it runs first after ``sync_interval`` and, its first
  ``stalls`` times, computes ``sync_seconds`` (1.5 s) in pure Python without yielding: each
  instance's power state worked out in ``_query_driver_power_state_and_sync``. The hub
  cannot run; the heartbeat is late; with ``service_down_time`` = 60 s scaled to 1.2 s
  the scheduler would call the service down.

Backends: ``eventlet`` (oslo.service's default, under ``eventlet.monkey_patch()`` as nova
ran), ``threading`` (oslo.service's threading backend, futurist threads: the same code,
and the heartbeat keeps its time), ``gevent`` and ``asyncio`` (the same service in their
own idioms: a greenlet or a task per loop, ``Event.wait(timeout)`` / ``asyncio.sleep``).

Each backend runs in a process of its own (one loop per process; eventlet's and gevent's
monkey patching are for the whole process)::

    python -m minievent.scenarios.nova_compute eventlet --duration 3
    nova-compute (eventlet): 12 reports in 3.0 s, longest gap 1.71 s: reported down ...

``run(...)`` starts that process and returns a :class:`ServiceRun`. Tests, the lesson and
the benchmarks all run the service this way; ``python -m minievent flight -m
minievent.scenarios.nova_compute eventlet`` runs it under the flight recorder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

__all__ = ["BACKENDS", "ServiceParams", "ServiceRun", "run", "main"]

BACKENDS = ("eventlet", "threading", "gevent", "asyncio")

clock = time.monotonic


@dataclass(frozen=True)
class ServiceParams:
    """One run's knobs, nova's own names where nova has one (scaled by 1/50)."""

    #: seconds between two report_state runs (nova: report_interval = 10 s)
    report_interval: float = 0.2
    #: the scheduler's threshold (nova: service_down_time = 60 s)
    service_down_time: float = 1.2
    #: spacing of _sync_power_states (nova: sync_power_state_interval = 600 s; shorter here)
    sync_interval: float = 1.0
    #: how long each of the first `stalls` runs of _sync_power_states computes without yielding
    sync_seconds: float = 1.5
    #: how many runs of _sync_power_states are long (the rest take a few microseconds)
    stalls: int = 1
    #: the DynamicLoopingCall's longest idle (nova: periodic_interval_max = 60 s)
    periodic_interval_max: float = 0.2
    #: how long the service runs before it stops itself
    duration: float = 3.0

    def check(self) -> None:
        """Refuse what cannot run, before a process starts (ValueError/TypeError, as the stdlib)."""
        for name in ("report_interval", "service_down_time", "sync_interval", "periodic_interval_max", "duration"):
            _positive(name, getattr(self, name))
        if not isinstance(self.sync_seconds, (int, float)) or not math.isfinite(self.sync_seconds):
            raise ValueError(f"sync_seconds must be a finite number, got {self.sync_seconds!r}")
        if self.sync_seconds < 0:
            raise ValueError(f"sync_seconds must be >= 0, got {self.sync_seconds!r}")
        if not isinstance(self.stalls, int) or isinstance(self.stalls, bool) or self.stalls < 0:
            raise ValueError(f"stalls must be an int >= 0, got {self.stalls!r}")


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass
class ServiceRun:
    """What the service did: when it reported, when _sync_power_states ran (monotonic seconds)."""

    backend: str
    params: ServiceParams
    started: float
    stopped: float
    reports: list[float] = field(default_factory=list)
    #: (start, end) of every _sync_power_states run
    syncs: list[tuple[float, float]] = field(default_factory=list)
    #: instances whose power state was worked out, every run together (the service's own work)
    synced: int = 0
    #: what the process printed on stdout and stderr, and its exit code (set by run())
    stdout: str = ""
    stderr: str = ""
    returncode: int = 0

    @property
    def gaps(self) -> list[float]:
        """Seconds between two reports (and from the start to the first, from the last to the stop)."""
        times = [self.started, *self.reports, self.stopped]
        return [b - a for a, b in zip(times, times[1:], strict=False)]

    @property
    def max_gap(self) -> float:
        return max(self.gaps)

    @property
    def down(self) -> bool:
        """Would nova's scheduler have seen the service down (a report older than service_down_time)?"""
        return self.max_gap > self.params.service_down_time

    def summary(self) -> str:
        verdict = "reported down" if self.down else "up"
        return (
            f"nova-compute ({self.backend}): {len(self.reports)} reports in {self.stopped - self.started:.1f} s, "
            f"longest gap {self.max_gap:.2f} s: {verdict} (service_down_time {self.params.service_down_time:g} s)"
        )

    def to_json(self) -> dict:
        return {
            "backend": self.backend,
            "params": asdict(self.params),
            "started": self.started,
            "stopped": self.stopped,
            "reports": self.reports,
            "syncs": self.syncs,
            "synced": self.synced,
        }

    @classmethod
    def from_json(cls, data: dict) -> ServiceRun:
        return cls(
            backend=data["backend"],
            params=ServiceParams(**data["params"]),
            started=data["started"],
            stopped=data["stopped"],
            reports=list(data["reports"]),
            syncs=[tuple(s) for s in data["syncs"]],
            synced=data.get("synced", 0),
        )


# ---------------------------------------------------------------- what the service does
class _Work:
    """The service's own work, the same on every backend: reports counted, power states computed."""

    def __init__(self, p: ServiceParams) -> None:
        self.p = p
        self.reports: list[float] = []
        self.syncs: list[tuple[float, float]] = []
        self.synced = 0
        self.instances = [f"instance-{i:04d}" for i in range(64)]

    def report_state(self, service: object = None) -> None:
        """The heartbeat: nova's driver bumps service_ref.report_count and saves it."""
        self.reports.append(clock())

    def _sync_power_states(self) -> None:
        """Align power states: long and yieldless for the first `stalls` runs."""
        start = clock()
        long_run = len(self.syncs) < self.p.stalls
        deadline = start + (self.p.sync_seconds if long_run else 0.0)
        done = 0
        while True:
            for instance in self.instances:
                _query_driver_power_state_and_sync(instance)
                done += 1
            if clock() >= deadline:
                break
        self.syncs.append((start, clock()))
        self.synced += done

    def _heal_instance_info_cache(self) -> None:
        """A short periodic task, as most of nova's are."""
        _query_driver_power_state_and_sync(self.instances[0])


def _query_driver_power_state_and_sync(instance: str) -> int:
    """Stands for asking the hypervisor and comparing with the database: pure Python, no yield."""
    h = 0
    for i in range(300):
        h = (h * 31 + i + len(instance)) & 0xFFFFFFFF
    return h


# ---------------------------------------------------------------- oslo.service (eventlet or threading)
def _serve_oslo(p: ServiceParams, backend: str) -> tuple[_Work, float, float]:
    """The service on the real oslo.service, as nova builds it."""
    if backend == "eventlet":
        import eventlet

        eventlet.monkey_patch()  # nova/monkey_patch.py does this before anything else
    from oslo_service import backend as oslo_backend

    oslo_backend.init_backend(
        oslo_backend.BackendType.EVENTLET if backend == "eventlet" else oslo_backend.BackendType.THREADING
    )
    from oslo_config import cfg
    from oslo_service import periodic_task, threadgroup

    work = _Work(p)

    class ComputeManager(periodic_task.PeriodicTasks):
        """nova.compute.manager.ComputeManager's periodic side, two of its tasks."""

        def __init__(self) -> None:
            super().__init__(cfg.ConfigOpts())

        def periodic_tasks(self, context: object, raise_on_error: bool = False) -> float:
            return self.run_periodic_tasks(context, raise_on_error=raise_on_error)

        @periodic_task.periodic_task(spacing=p.sync_interval)
        def _sync_power_states(self, context: object) -> None:
            work._sync_power_states()

        @periodic_task.periodic_task(spacing=p.report_interval, run_immediately=True)
        def _heal_instance_info_cache(self, context: object) -> None:
            work._heal_instance_info_cache()

    class DbDriver:
        """nova.servicegroup.drivers.db.DbDriver: join adds the heartbeat to the service's group."""

        def join(self, service: ComputeService) -> None:
            service.tg.add_timer_args(p.report_interval, self.report_state, args=[service])

        def report_state(self, service: ComputeService) -> None:
            work.report_state(service)

    class ComputeService:
        """nova.service.Service: a ThreadGroup, the manager's periodic tasks, the servicegroup's heartbeat."""

        def __init__(self) -> None:
            self.tg = threadgroup.ThreadGroup()
            self.manager = ComputeManager()

        def start(self) -> None:
            DbDriver().join(self)
            self.tg.add_dynamic_timer(self.periodic_tasks, periodic_interval_max=p.periodic_interval_max)

        def periodic_tasks(self, raise_on_error: bool = False) -> float:
            return self.manager.periodic_tasks(None, raise_on_error=raise_on_error)

    service = ComputeService()
    started = clock()
    service.start()
    time.sleep(p.duration)  # a green sleep under monkey_patch(); the main thread's under threading
    stopped = clock()
    service.tg.stop()
    return work, started, stopped


# ---------------------------------------------------------------- gevent
def _serve_gevent(p: ServiceParams) -> tuple[_Work, float, float]:
    """The same service in gevent's idioms: a greenlet per loop, Event.wait(timeout) to idle."""
    from gevent import monkey

    monkey.patch_all()
    import gevent
    import gevent.event

    work = _Work(p)
    stop = gevent.event.Event()

    def fixed_interval(func, interval: float) -> None:
        while not stop.is_set():
            start = clock()
            func()
            stop.wait(max(0.0, interval - (clock() - start)))

    def periodic_tasks() -> None:
        tasks = [
            ("_heal_instance_info_cache", p.report_interval, work._heal_instance_info_cache),
            ("_sync_power_states", p.sync_interval, work._sync_power_states),
        ]
        last = {"_heal_instance_info_cache": -math.inf, "_sync_power_states": clock()}
        while not stop.is_set():
            idle = p.periodic_interval_max
            for name, spacing, task in tasks:
                due = last[name] + spacing - clock()
                if due > 0:
                    idle = min(idle, due)
                    continue
                last[name] = clock()
                task()
                gevent.sleep(0)
            stop.wait(idle)

    started = clock()
    heartbeat = gevent.spawn(fixed_interval, work.report_state, p.report_interval)
    heartbeat.name = "report_state"
    tasks = gevent.spawn(periodic_tasks)
    tasks.name = "periodic_tasks"
    gevent.sleep(p.duration)
    stopped = clock()
    stop.set()
    gevent.joinall([heartbeat, tasks], timeout=p.sync_seconds + 5)
    return work, started, stopped


# ---------------------------------------------------------------- asyncio
def _serve_asyncio(p: ServiceParams) -> tuple[_Work, float, float]:
    """The same service in asyncio's idioms: a task per loop, asyncio.sleep to idle."""
    import asyncio

    work = _Work(p)

    async def report_state() -> None:
        while True:
            start = clock()
            work.report_state()
            await asyncio.sleep(max(0.0, p.report_interval - (clock() - start)))

    async def periodic_tasks() -> None:
        tasks = [
            ("_heal_instance_info_cache", p.report_interval, work._heal_instance_info_cache),
            ("_sync_power_states", p.sync_interval, work._sync_power_states),
        ]
        last = {"_heal_instance_info_cache": -math.inf, "_sync_power_states": clock()}
        while True:
            idle = p.periodic_interval_max
            for name, spacing, task in tasks:
                due = last[name] + spacing - clock()
                if due > 0:
                    idle = min(idle, due)
                    continue
                last[name] = clock()
                task()
                await asyncio.sleep(0)
            await asyncio.sleep(idle)

    async def service() -> tuple[float, float]:
        started = clock()
        running = [
            asyncio.create_task(report_state(), name="report_state"),
            asyncio.create_task(periodic_tasks(), name="periodic_tasks"),
        ]
        await asyncio.sleep(p.duration)
        stopped = clock()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        return started, stopped

    started, stopped = asyncio.run(service())
    return work, started, stopped


def serve(p: ServiceParams, backend: str) -> ServiceRun:
    """Run the service in this process (it patches the process for eventlet and gevent)."""
    p.check()
    if backend in ("eventlet", "threading"):
        work, started, stopped = _serve_oslo(p, backend)
    elif backend == "gevent":
        work, started, stopped = _serve_gevent(p)
    elif backend == "asyncio":
        work, started, stopped = _serve_asyncio(p)
    else:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return ServiceRun(backend, p, started, stopped, work.reports, work.syncs, work.synced)


# ---------------------------------------------------------------- the command, and run() around it
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minievent.scenarios.nova_compute",
        description="A nova-compute-shaped service: report_state every report_interval, "
        "periodic tasks in a DynamicLoopingCall, _sync_power_states computing without yielding.",
    )
    parser.add_argument("backend", choices=BACKENDS)
    defaults = ServiceParams()
    for name in ("report_interval", "service_down_time", "sync_interval", "sync_seconds", "periodic_interval_max"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    parser.add_argument("--duration", type=float, default=defaults.duration)
    parser.add_argument("--stalls", type=int, default=defaults.stalls)
    parser.add_argument("--json", metavar="PATH", help="also write what the service did to PATH as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fields = {k: v for k, v in vars(args).items() if k not in ("backend", "json")}
    p = ServiceParams(**fields)
    try:
        p.check()
    except (TypeError, ValueError) as e:
        print(f"nova_compute: {e}", file=sys.stderr)
        return 2
    result = serve(p, args.backend)
    print(result.summary(), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result.to_json(), f)
    return 0


def command(backend: str, p: ServiceParams, json_path: str | None = None) -> list[str]:
    """The argument list that runs the service (after ``python``, or after ``python -m minievent flight``)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    p.check()
    argv = ["-m", __name__, backend]
    for name, value in asdict(p).items():
        argv += ["--" + name.replace("_", "-"), repr(value)]
    if json_path:
        argv += ["--json", json_path]
    return argv


def run(
    backend: str = "eventlet",
    params: ServiceParams | None = None,
    *,
    under: Sequence[str] = (),
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> ServiceRun:
    """Run the service in a child process (``under``: arguments between ``python`` and the service,
    such as ``["-m", "minievent", "flight", "--dir", d]``) and return what it did."""
    import tempfile

    p = params or ServiceParams()
    with tempfile.TemporaryDirectory(prefix="nova-compute-") as tmp:
        out = os.path.join(tmp, "run.json")
        argv = [sys.executable, *under, *command(backend, p, out)]
        long_runs = min(p.stalls, int(p.duration / p.sync_interval) + 1)  # (no more runs fit in its duration)
        limit = timeout if timeout is not None else p.duration + p.sync_seconds * max(1, long_runs) + 60
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=limit, env=env, cwd=cwd)
        if proc.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"the service exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        with open(out) as f:
            result = ServiceRun.from_json(json.load(f))
    result.stdout, result.stderr, result.returncode = proc.stdout, proc.stderr, proc.returncode
    return result


if __name__ == "__main__":
    sys.exit(main())
