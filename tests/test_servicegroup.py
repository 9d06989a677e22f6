"""The nova story on a real database: the service writes its row, a scheduler process judges it."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from support import need_server, run_case

from minievent.scenarios import heartbeat, servicegroup
from minievent.scenarios.servicegroup import DbServiceGroup, is_up

# Scaled down: a beat every 0.2 s, down after 1.2 s of silence, a 2 s task.
RUN = {"interval": 0.2, "task_seconds": 2.0, "record": False}
DOWN = 6 * RUN["interval"]


def check_bookkeeping(r: servicegroup.ServiceGroupResult) -> None:
    # Every beat is one UPDATE of the row; the scheduler process saw the count grow to it.
    assert r.report_count == len(r.heartbeat.beats) > 3
    counts = [s.report_count for s in r.seen]
    assert counts == sorted(counts) and counts[-1] == r.report_count
    assert r.periodic_runs >= 3  # the periodic tasks queried the database too
    assert len(r.seen_while_running) > 10


def check_down(r: servicegroup.ServiceGroupResult) -> None:
    hb = r.heartbeat
    check_bookkeeping(r)
    assert r.reported_down and hb.down
    # The scheduler saw it down during the long task, once the last report was DOWN old...
    last_before = max(b for b in hb.beats if b <= hb.task_start)
    assert last_before + DOWN * 0.9 <= r.down_at <= hb.task_end + 0.5, (r.down_at, hb.task_start, hb.task_end)
    assert r.max_age > DOWN
    # ...and up again after it: the last look while running found a fresh report.
    assert r.seen_while_running[-1].up


def check_up(r: servicegroup.ServiceGroupResult) -> None:
    check_bookkeeping(r)
    assert not r.reported_down and not r.heartbeat.down, r.max_age
    gaps = sorted(r.heartbeat.gaps)
    assert gaps[len(gaps) // 2] < 1.5 * RUN["interval"], gaps  # the typical beat is on time


def test_the_long_task_gets_the_service_reported_down():
    check_down(servicegroup.run(**RUN))


@pytest.mark.parametrize("fix", ["sleep0", "tpool", "thread"])
def test_the_fixes_keep_it_up(fix):
    check_up(servicegroup.run(fix=fix, **RUN))


def test_on_mariadb():
    url = need_server("MINIEVENT_MYSQL_URL", "mariadb-server")
    r = servicegroup.run(url, **RUN)
    assert r.url.startswith("mysql+pymysql://")
    check_down(r)
    check_up(servicegroup.run(url, fix="sleep0", **RUN))


def test_under_monkey_patch():
    # As nova ran: the whole process patched (the scheduler's pipe, the waits, SQLAlchemy's pool).
    out = run_case("servicegroup")
    assert out["none"]["reported_down"] and out["none"]["max_age"] > DOWN
    assert not out["sleep0"]["reported_down"] and out["sleep0"]["max_age"] <= DOWN
    assert all(r["report_count"] == r["beats"] > 3 and r["url"] == "sqlite" for r in out.values())


def test_under_monkey_patch_on_mariadb():
    # nova's own stack: patched, SQLAlchemy's QueuePool, PyMySQL over TLS.
    url = need_server("MINIEVENT_MYSQL_URL", "mariadb-server")
    out = run_case("servicegroup", url)
    assert out["none"]["reported_down"] and out["none"]["max_age"] > DOWN
    assert not out["sleep0"]["reported_down"] and out["sleep0"]["max_age"] <= DOWN
    assert all(r["report_count"] == r["beats"] > 3 and r["url"] == "mysql+pymysql" for r in out.values())


def test_is_up_as_nova_judges():
    created = datetime(2026, 1, 1, 12, 0, 0)
    seen = created + timedelta(seconds=30)
    assert is_up(None, created, created + timedelta(seconds=60), 60)  # never reported: created_at counts
    assert not is_up(None, created, created + timedelta(seconds=60.5), 60)
    assert is_up(seen, created, seen + timedelta(seconds=59), 60)
    assert not is_up(seen, created, seen + timedelta(seconds=61), 60)
    assert is_up(seen, created, seen - timedelta(seconds=10), 60)  # a clock a little behind: abs()


def test_the_row_in_the_database():
    sg = DbServiceGroup()
    try:
        assert sg.url.startswith("sqlite:///") and os.path.exists(sg.url[len("sqlite:///") :])
        assert sg.report_count() == 0
        sg.report_state()
        sg.report_state()
        sg.periodic_task()
        assert sg.report_count() == 2 and len(sg.reports) == 2 and sg.periodic_runs == 1
        with sg.engine.connect() as conn:
            row = conn.execute(sg.services.select()).one()
        assert row.last_seen_up == row.updated_at and row.last_seen_up >= row.created_at
        assert (row.host, row.binary) == ("compute-1", "nova-compute")
    finally:
        sg.close()
    assert not os.path.exists(sg.url[len("sqlite:///") :])  # the temporary file is gone


def test_bad_input():
    with pytest.raises(ValueError, match="poll"):
        servicegroup.run(poll=0, **RUN)
    sg = DbServiceGroup()
    try:
        with pytest.raises(ValueError, match="minievent backend"):
            heartbeat.run(backend="threads", servicegroup=sg, **RUN)
    finally:
        sg.close()
