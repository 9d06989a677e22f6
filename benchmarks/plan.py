"""What is measured: the libraries, the sizes, the metrics and the goals.

Kept apart from the code that runs things so that a learner can read, in
one place, exactly which numbers the table holds and how big each run is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Every library, and the module whose absence means it is skipped.
LIBRARIES: dict[str, str] = {
    "minievent": "minievent",
    "minievent+rec": "minievent",  # minievent inside `with minievent.record():`
    "greenlet": "greenlet",  # two bare greenlets: the ceiling for sleep(0)
    "eventlet": "eventlet",
    "gevent": "gevent",
    "asyncio": "asyncio",
    "uvloop": "uvloop",
    "threads": "threading",
}

LABELS = {
    "greenlet": "greenlet ceiling",
    "minievent+rec": "minievent, recording",
}

#: The scenarios, in the order they run; each is one kind of worker subprocess.
SCENARIOS = ["switch", "spawn", "timers", "echo", "memory", "c10k"]

GREEN = ["minievent", "eventlet", "gevent"]
ASYNC = ["asyncio", "uvloop"]

#: Sizes. ``full`` is what the README shows; ``quick`` is for development;
#: ``tiny`` only checks that everything runs (the pytest smoke test).
#: Native threads get smaller counts where 100,000 of them would not be sane.
SIZES: dict[str, dict] = {
    "full": {
        "switch": {"n": 200_000},
        "spawn": {"n": 100_000},
        "spawn.threads": {"n": 5_000},
        "timers": {"n": 10_000, "spread": 0.5},
        "echo": [(10, 5_000), (100, 500), (1_000, 50)],  # (connections, round trips each)
        "memory": {"n": 100_000},
        "memory.threads": {"n": 10_000},
        "c10k": {"conns": 10_000, "seconds": 3.0},
    },
    "quick": {
        "switch": {"n": 50_000},
        "spawn": {"n": 20_000},
        "spawn.threads": {"n": 2_000},
        "timers": {"n": 10_000, "spread": 0.5},
        "echo": [(10, 500), (100, 50), (1_000, 5)],
        "memory": {"n": 20_000},
        "memory.threads": {"n": 5_000},
        "c10k": {"conns": 2_000, "seconds": 1.0},
    },
    "tiny": {
        "switch": {"n": 2_000},
        "spawn": {"n": 1_000},
        "spawn.threads": {"n": 100},
        "timers": {"n": 200, "spread": 0.05},
        "echo": [(2, 20), (5, 10), (10, 5)],
        "memory": {"n": 1_000},
        "memory.threads": {"n": 100},
        "c10k": {"conns": 50, "seconds": 0.2},
    },
}

#: Runs per measurement when --runs is not given.
DEFAULT_RUNS = {"full": 3, "quick": 1, "tiny": 1}

#: (library, scenario) pairs that run once even when the others run N times,
#: for a measurement that takes minutes. Empty since the C10K client stopped
#: closing its 10,000 connections before the server exits (with native
#: threads, 10,000 handlers waking to say goodbye took minutes of GIL storm).
RUN_ONCE: set[tuple[str, str]] = set()


@dataclass
class Metric:
    """One row of the table and one panel of the chart."""

    id: str
    scenario: str
    title: str
    unit: str
    better: str  # "higher" or "lower"
    libs: list[str]
    note: str = ""


@dataclass
class Job:
    """One subprocess: ``python -m benchmarks.worker lib scenario params``."""

    scenario: str
    params: dict
    libs: list[str]
    metrics: list[str] = field(default_factory=list)


def metrics_for(size: str) -> list[Metric]:
    s = SIZES[size]
    echo = s["echo"]
    mid = echo[len(echo) // 2][0]
    conns = s["c10k"]["conns"]
    all_libs = GREEN + ASYNC + ["threads"]
    out = [
        Metric(
            "switch",
            "switch",
            "sleep(0) switch rate",
            "switches per CPU s",
            "higher",
            ["greenlet", "minievent", "minievent+rec"] + GREEN[1:] + ASYNC,
            "two greenthreads calling sleep(0) in turn; the greenlet ceiling is half the bare switch rate;"
            " per CPU second of the process, so that other processes on the machine do not count",
        ),
        Metric(
            "spawn",
            "spawn",
            "spawn + wait",
            "per CPU s",
            "higher",
            all_libs,
            f"spawn {s['spawn']['n']:,} trivial functions, then wait for each (threads: {s['spawn.threads']['n']:,})",
        ),
        Metric(
            "timers_p50",
            "timers",
            f"{s['timers']['n']:,} sleepers: p50 lateness",
            "ms",
            "lower",
            all_libs,
            f"each sleeps a random 0..{s['timers']['spread']} s; lateness = woke up minus due",
        ),
        Metric("timers_p99", "timers", f"{s['timers']['n']:,} sleepers: p99 lateness", "ms", "lower", all_libs),
    ]
    for c, m in echo:
        libs = ["minievent"] + (["minievent+rec"] if c == mid else []) + GREEN[1:] + ASYNC + ["threads"]
        out.append(
            Metric(
                f"echo{c}",
                "echo",
                f"echo, {c:,} connections",
                "round trips/s",
                "higher",
                libs,
                f"64-byte messages, {m:,} sequential round trips per connection, client in another process",
            )
        )
    for c, _ in echo:
        libs = ["minievent"] + (["minievent+rec"] if c == mid else []) + GREEN[1:] + ASYNC + ["threads"]
        out.append(
            Metric(
                f"echo{c}_cpu",
                "echo",
                f"echo, {c:,} connections: server CPU",
                "µs per round trip",
                "lower",
                libs,
                "CPU time of the server process / round trips (steadier than the rate)",
            )
        )
    out += [
        Metric(
            "mem_thread",
            "memory",
            "memory per idle greenthread",
            "KiB",
            "lower",
            all_libs,
            f"RSS growth / {s['memory']['n']:,} greenthreads parked on an event"
            f" (threads: {s['memory.threads']['n']:,})",
        ),
        Metric(
            "mem_conn",
            "c10k",
            "memory per idle connection",
            "KiB",
            "lower",
            all_libs,
            f"RSS growth / {conns:,} accepted connections, each with a handler parked in recv",
        ),
        Metric(
            "c10k_hb_p99",
            "c10k",
            f"C10K: heartbeat p99 lateness, {conns:,} idle connections",
            "ms",
            "lower",
            all_libs,
            "a 10 ms sleep loop while every connection is open and idle",
        ),
        Metric(
            "c10k_burst_ms",
            "c10k",
            f"C10K: all {conns:,} connections echo once",
            "ms",
            "lower",
            all_libs,
            "client sends 64 bytes on every connection at once; time until the last echo",
        ),
        Metric("c10k_burst_hb_max", "c10k", "C10K: heartbeat max lateness during that burst", "ms", "lower", all_libs),
    ]
    return out


def jobs_for(size: str, libs: list[str]) -> list[Job]:
    """The subprocesses of one round, in order; each job lists the libraries that run it."""
    s = SIZES[size]
    metrics = metrics_for(size)

    def libs_of(*ids: str) -> list[str]:
        wanted = {lib for m in metrics if m.id in ids for lib in m.libs}
        return [lib for lib in libs if lib in wanted]

    jobs = [
        Job("switch", s["switch"], libs_of("switch"), ["switch"]),
        Job("spawn", s["spawn"], libs_of("spawn"), ["spawn"]),
        Job("timers", s["timers"], libs_of("timers_p50"), ["timers_p50", "timers_p99"]),
    ]
    for c, m in s["echo"]:
        jobs.append(Job("echo", {"conns": c, "msgs": m}, libs_of(f"echo{c}"), [f"echo{c}", f"echo{c}_cpu"]))
    jobs.append(Job("memory", s["memory"], libs_of("mem_thread"), ["mem_thread"]))
    jobs.append(
        Job("c10k", s["c10k"], libs_of("mem_conn"), ["mem_conn", "c10k_hb_p99", "c10k_burst_ms", "c10k_burst_hb_max"])
    )
    return [j for j in jobs if j.libs]


def params_for(job: Job, lib: str, size: str) -> dict:
    """Native threads get their own, smaller counts where the plan says so."""
    return SIZES[size].get(f"{job.scenario}.{lib}", job.params)


# ---------------------------------------------------------------- goals
#: (metric, peer, minimum advantage, text). Advantage is "how many times
#: better minievent is": minievent/peer for rates, peer/minievent for
#: lateness and memory. The peer "minievent" compares recording on with off.
GOALS = [
    ("switch", "gevent", 1.5, "switch >= 1.5x gevent"),
    ("switch", "uvloop", 1.0, "switch >= 1.0x uvloop"),
    ("switch", "eventlet", 3.0, "switch >= 3x eventlet"),
    ("spawn", "gevent", 2.0, "spawn >= 2x gevent"),
    ("echo100", "gevent", 1.15, "echo at 100 connections >= 1.15x gevent"),
    ("echo100", "eventlet", 1.15, "echo at 100 connections >= 1.15x eventlet"),
    ("echo100_cpu", "gevent", 1.15, "(same, by server CPU per round trip) >= 1.15x gevent"),
    ("echo100_cpu", "eventlet", 1.15, "(same, by server CPU per round trip) >= 1.15x eventlet"),
    ("timers_p99", "gevent", 1.0, "timers p99 no worse than gevent"),
    ("mem_thread", "eventlet", 1.0, "memory per idle greenthread <= eventlet"),
    ("mem_conn", "eventlet", 1.0, "memory per idle connection <= eventlet"),
]
#: (metric, maximum, text): absolute limits on minievent's own figure.
LIMITS = [("c10k_hb_p99", 5.0, "C10K heartbeat p99 lateness <= 5 ms")]
#: (metric, minimum recording-on / recording-off, text)
RECORDING = [
    ("echo100", 0.9, "recording on: echo >= 0.9x of off"),
    ("echo100_cpu", 0.9, "(same, by server CPU per round trip)"),
    ("switch", 0.8, "recording on: switch >= 0.8x of off"),
]
