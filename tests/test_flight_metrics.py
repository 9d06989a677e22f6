"""The flight recorder's metrics: counted in the program's process, exposed in the sidecar's."""

from __future__ import annotations

import random

from support import need_module

from minievent.recording.metrics import LATENCY_BUCKETS, Metrics, families

need_module("prometheus_client", "pip install prometheus_client, or the test extra")


def test_counting_many_at_once_counts_as_one_at_a_time():
    rng = random.Random(7)
    values = [rng.choice([rng.uniform(0, 80), *LATENCY_BUCKETS]) for _ in range(5_000)] + [-0.5, 0.0, 1e9]
    one, many = Metrics(), Metrics()
    for v in values:
        one.observe_latency("report_state", v)
    many.observe_latency_many("report_state", list(values))
    assert one.snapshot() == many.snapshot()
    held = [v for v in values if v >= 0.01]
    for v in held:
        one.observe_held(v)
    many.observe_held_many(list(held))
    assert one.snapshot() == many.snapshot()


def test_the_exposition_parses_with_prometheus_clients_own_parser():
    from prometheus_client.exposition import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    m = Metrics()
    for v in (0.0004, 0.001, 0.3, 2.0):  # (0.001 is a bucket's bound: counted in it)
        m.observe_latency("FixedIntervalLoopingCall(report_state)", v)
    m.observe_held(1.5)
    m.incident("stall")

    class Collector:
        def collect(self):
            return families(m.snapshot())

    parsed = {f.name: f for f in text_string_to_metric_families(generate_latest(Collector()).decode())}
    buckets = {
        s.labels["le"]: s.value
        for s in parsed["minievent_schedule_latency_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["lane"] == "FixedIntervalLoopingCall(report_state)"
    }
    assert (buckets["0.0005"], buckets["0.001"], buckets["0.25"], buckets["0.5"], buckets["+Inf"]) == (1, 2, 2, 3, 4)
    counts = {s.name: s.value for s in parsed["minievent_loop_held_seconds"].samples if not s.labels.get("le")}
    assert counts == {"minievent_loop_held_seconds_count": 1, "minievent_loop_held_seconds_sum": 1.5}
    incidents = {s.labels["reason"]: s.value for s in parsed["minievent_incidents"].samples}
    assert incidents == {"stall": 1, "late": 0, "signal": 0}
