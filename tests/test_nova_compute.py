"""The nova-shaped service on the real oslo.service (eventlet and threading backends), gevent and asyncio.

Each run is a child process of about 2 s. Bounds check behaviour only: a _sync_power_states
that computes 0.8 s without yielding delays a report by about that much on every loop that
runs the service's greenthreads or tasks in one thread; oslo's threading backend keeps time.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import need_module, run_child

from minievent.scenarios import nova_compute
from minievent.scenarios.nova_compute import ServiceParams

need_module("oslo_service", "pip install 'oslo.service[threading]', or the test extra")

P = ServiceParams(report_interval=0.1, service_down_time=0.6, sync_interval=0.5, sync_seconds=0.8, duration=1.6)
ONE_THREAD = ("eventlet", "gevent", "asyncio")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ONE_THREAD)
def test_a_yieldless_periodic_task_makes_the_heartbeat_late(backend):
    r = nova_compute.run(backend, P)
    assert len(r.syncs) >= 1
    long_start, long_end = r.syncs[0]
    assert long_end - long_start == pytest.approx(P.sync_seconds, abs=0.1)
    # no report while _sync_power_states held the loop, and the gap covers the whole run of it
    assert not [t for t in r.reports if long_start + 0.01 < t < long_end - 0.01], r.reports
    assert P.sync_seconds - 0.05 < r.max_gap < P.sync_seconds + 3 * P.report_interval, r.gaps
    assert r.down
    assert f"nova-compute ({backend}):" in r.stdout and "reported down" in r.stdout


@pytest.mark.timeout(60)
def test_oslo_threading_backend_keeps_the_heartbeat_on_time():
    r = nova_compute.run("threading", P)
    long_start, long_end = r.syncs[0]
    assert long_end - long_start == pytest.approx(P.sync_seconds, abs=0.2)
    # the GIL is handed over every switch interval (5 ms): report_state runs during the long task
    assert [t for t in r.reports if long_start < t < long_end]
    assert r.max_gap < 2 * P.report_interval, r.gaps
    assert not r.down


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ONE_THREAD)
def test_a_healthy_service_reports_every_interval(backend):
    r = nova_compute.run(backend, ServiceParams(report_interval=0.1, sync_interval=0.3, sync_seconds=0, duration=1.0))
    assert r.max_gap < 2 * 0.1, r.gaps
    assert len(r.reports) >= 8
    assert len(r.syncs) >= 2  # _sync_power_states did run, briefly


@pytest.mark.timeout(60)
def test_the_eventlet_service_runs_on_oslo_service_itself():
    """The lanes are oslo's: a FixedIntervalLoopingCall and a DynamicLoopingCall in a ThreadGroup."""
    seen = run_child(
        """
        import gc, json
        from minievent.scenarios import nova_compute as nc
        seen = set()
        original = nc._Work.report_state
        def report_state(self, service=None):
            import eventlet
            from oslo_service.backend._eventlet.loopingcall import LoopingCallBase
            seen.update(type(o).__name__ for o in gc.get_objects() if isinstance(o, LoopingCallBase))
            seen.add(type(eventlet.getcurrent()).__name__)
            original(self, service)
        nc._Work.report_state = report_state
        nc.serve(nc.ServiceParams(duration=0.3, sync_seconds=0), 'eventlet')
        print(json.dumps(sorted(seen)))
        """,
        timeout=50,
    )
    assert seen == ["DynamicLoopingCall", "FixedIntervalLoopingCall", "GreenThread"]


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("report_interval", 0, ValueError),
        ("duration", float("inf"), ValueError),
        ("sync_seconds", -1, ValueError),
        ("sync_seconds", float("nan"), ValueError),
        ("stalls", -1, ValueError),
        ("report_interval", "1", TypeError),
    ],
)
def test_bad_parameters_are_refused_before_a_process_starts(field, value, error):
    with pytest.raises(error, match=field):
        nova_compute.run("eventlet", ServiceParams(**{field: value}))


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        nova_compute.run("twisted", P)


@pytest.mark.timeout(30)
def test_the_command_refuses_bad_options_with_exit_2():
    out = subprocess.run(
        [sys.executable, "-m", "minievent.scenarios.nova_compute", "asyncio", "--duration", "-1"],
        capture_output=True,
        text=True,
        timeout=25,
    )
    assert out.returncode == 2
    assert "duration must be a finite number > 0" in out.stderr
