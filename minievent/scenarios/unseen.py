"""Services a learner has not seen: lesson 6's "do" exercise names their culprit from a recording alone.

Each variant is a small service of greenthreads named the way nova names its work (a heartbeat,
an RPC worker, periodic tasks): one of them holds the hub once, for a while, without yielding. The
others are decoys a careless reading falls for: one runs more in total, in many short turns; one
waits the longest; the hub itself. ``record(variant)`` runs one in this thread under
``minievent.record()`` and returns the recording with the answer, so that a checking cell can
tell a culprit read from the recording from a name that was guessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import minievent
from minievent.recording import Timeline

__all__ = ["VARIANTS", "Unseen", "record"]

clock = time.monotonic


@dataclass(frozen=True)
class Unseen:
    """One variant: which greenthread holds the hub, how long, and the names of the rest."""

    culprit: str
    hold: float
    busy: str  # runs the most in total, in short turns (a decoy)
    idle: str  # waits the longest (a decoy)


VARIANTS = (
    Unseen("_poll_unconfirmed_resizes", 0.45, "rpc_worker", "_cleanup_running_deleted_instances"),
    Unseen("_instance_usage_audit", 0.35, "_heal_instance_info_cache", "_run_image_cache_manager_pass"),
    Unseen("_reclaim_queued_deletes", 0.55, "rpc_worker", "_check_instance_build_time"),
)


def _compute(seconds: float) -> None:
    end = clock() + seconds
    while clock() < end:  # pure Python, never yields
        sum(range(200))


def record(variant: int) -> tuple[Timeline, Unseen]:
    """Run variant ``variant`` (an index into ``VARIANTS``) and return its recording and its answer."""
    if not isinstance(variant, int) or isinstance(variant, bool):
        raise TypeError(f"variant must be an int, not {type(variant).__name__}")
    if not 0 <= variant < len(VARIANTS):
        raise ValueError(f"variant must be in 0..{len(VARIANTS) - 1}, got {variant}")
    v = VARIANTS[variant]
    stop = minievent.Event()

    def report_state() -> None:
        while not stop.ready():
            minievent.sleep(0.02)

    def busy() -> None:  # more running in total than the culprit, but 5 ms at a time
        for _ in range(round(1.6 * v.hold / 0.005)):
            _compute(0.005)
            minievent.sleep(0)

    def idle() -> None:  # the longest wait of all
        minievent.sleep(0.9)

    def culprit() -> None:
        minievent.sleep(0.1)
        _compute(v.hold)

    with minievent.record() as tl:
        threads = []
        for name, fn in ((v.culprit, culprit), (v.busy, busy), (v.idle, idle), ("report_state", report_state)):
            gt = minievent.spawn(fn)
            gt.name = name
            threads.append(gt)
        for gt in threads[:3]:
            gt.wait()
        stop.send()
        threads[3].wait()
    return tl, v
