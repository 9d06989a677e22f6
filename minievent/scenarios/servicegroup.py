"""The late heartbeat on a real database, judged by another process, as nova's DB servicegroup does it.

nova's DB servicegroup driver (``nova/servicegroup/drivers/db.py``, openstack/nova
at 00a030403f67) works in two halves that never meet:

* in the service, ``_report_state`` runs every ``report_interval`` (10 s) and does
  ``service_ref.report_count += 1; service_ref.save()``: an UPDATE of the service's
  row in the ``services`` table. The ORM stamps ``updated_at``, and ``service_update``
  in ``nova/db/main/api.py`` stamps ``last_seen_up = utcnow()`` whenever
  ``report_count`` grew;
* elsewhere (the scheduler, ``nova service-list``), ``is_up`` reads the row and
  says up when ``abs(utcnow() - (last_seen_up or created_at)) <= service_down_time``
  (60 s). Older releases read ``updated_at`` the same way.

So "down" is not something the service says about itself: it is what another
process concluded from a timestamp in the database. Here the service is
``scenarios.heartbeat``'s, with a ``DbServiceGroup`` plugged in: every beat
writes the row through SQLAlchemy, and the periodic tasks run real queries.
The judge is a separate scheduler process (``python -m
minievent.scenarios.servicegroup``) that polls the table and applies
``service_down_time``. The database is a SQLite file by default (embedded, no
server), or any SQLAlchemy URL, e.g. MariaDB through PyMySQL. The service's
process is not monkey patched here: sqlite3 is C and PyMySQL's socket is then a
real one, so each query holds the hub for its (sub-millisecond) duration, as
nova's C driver did.

    >>> r = run(interval=0.2, task_seconds=2.0)
    >>> r.reported_down, r.heartbeat.down
    (True, True)
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import heartbeat

__all__ = ["DbServiceGroup", "ServiceGroupResult", "Seen", "is_up", "run", "start_scheduler"]


def utcnow() -> datetime:
    """Naive UTC, as nova keeps its timestamps."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _tables(sa: Any) -> tuple[Any, Any, Any]:
    # DATETIME(6) on MySQL/MariaDB: the scaled-down intervals need microseconds
    # (nova's own columns have whole seconds, enough for 10 s and 60 s).
    from sqlalchemy.dialects import mysql

    stamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    md = sa.MetaData()
    services = sa.Table(
        "services",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("binary", sa.String(255), nullable=False),
        sa.Column("report_count", sa.Integer, nullable=False, default=0),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("updated_at", stamp),
        sa.Column("last_seen_up", stamp),
    )
    instances = sa.Table(
        "instances",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("power_state", sa.Integer, nullable=False),
        sa.Column("updated_at", stamp),
    )
    return md, services, instances


def is_up(last_seen_up: datetime | None, created_at: datetime, now: datetime, service_down_time: float) -> bool:
    """nova's ``DbDriver.is_up``: the last report (or the creation) is at most ``service_down_time`` old."""
    last = last_seen_up or created_at
    return abs((now - last).total_seconds()) <= service_down_time


class DbServiceGroup:
    """One service's row in a real database: ``report_state`` writes it, ``periodic_task`` queries.

    ``url`` is a SQLAlchemy URL; None makes a SQLite file in a temporary
    directory (removed by ``close``). Each instance starts from fresh tables.
    """

    def __init__(self, url: str | None = None, host: str = "compute-1", binary: str = "nova-compute") -> None:
        import sqlalchemy as sa

        self.sa = sa
        self._tmp = None
        if url is None:
            self._tmp = tempfile.mkdtemp(prefix="minievent-servicegroup-")
            url = f"sqlite:///{os.path.join(self._tmp, 'nova.sqlite')}"
        self.url = url
        self.host, self.binary = host, binary
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            # WAL: the scheduler process reads while this one writes, neither waits.
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        md, self.services, self.instances = _tables(sa)
        md.drop_all(self.engine)
        md.create_all(self.engine)
        with self.engine.begin() as conn:
            self.id = conn.execute(
                self.services.insert().values(host=host, binary=binary, report_count=0, created_at=utcnow())
            ).inserted_primary_key[0]
            conn.execute(self.instances.insert(), [{"host": host, "power_state": 1} for _ in range(20)])
        #: wall-clock time (time.time()) of every report written
        self.reports: list[float] = []
        self.periodic_runs = 0

    def report_state(self) -> None:
        """nova's ``_report_state``: report_count += 1, and the row's timestamps say now."""
        s = self.services
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                s.update()
                .where(s.c.id == self.id)
                .values(report_count=s.c.report_count + 1, updated_at=now, last_seen_up=now)
            )
        self.reports.append(time.time())

    def periodic_task(self) -> None:
        """A power-state sync, in small: read this host's instances, write one back."""
        i = self.instances
        with self.engine.begin() as conn:
            rows = conn.execute(self.sa.select(i.c.id, i.c.power_state).where(i.c.host == self.host)).all()
            first = rows[self.periodic_runs % len(rows)]
            conn.execute(i.update().where(i.c.id == first.id).values(updated_at=utcnow()))
        self.periodic_runs += 1

    def report_count(self) -> int:
        """The count in the database (each beat added one)."""
        with self.engine.connect() as conn:
            return conn.execute(
                self.sa.select(self.services.c.report_count).where(self.services.c.id == self.id)
            ).scalar_one()

    def close(self) -> None:
        self.engine.dispose()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


# ---------------------------------------------------------------- the scheduler process
def scheduler_main(url: str, service_id: int, service_down_time: float, poll: float) -> None:
    """The judge: every ``poll`` s read the row, print what ``is_up`` says, until stdin closes.

    One JSON line per look: wall time, the report's age in seconds, up or not,
    report_count. The first line is ``"ready"``.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    _, services, _ = _tables(sa)
    query = sa.select(services.c.last_seen_up, services.c.created_at, services.c.report_count).where(
        services.c.id == service_id
    )
    print('"ready"', flush=True)
    while True:
        with engine.connect() as conn:
            row = conn.execute(query).one()
        now = utcnow()
        age = (now - (row.last_seen_up or row.created_at)).total_seconds()
        up = is_up(row.last_seen_up, row.created_at, now, service_down_time)
        print(json.dumps({"t": time.time(), "age": age, "up": up, "report_count": row.report_count}), flush=True)
        if select.select([sys.stdin], [], [], poll)[0] and not sys.stdin.read(1):
            break  # the service closed our stdin: the run is over
    engine.dispose()


# ---------------------------------------------------------------- a run
@dataclass
class Seen:
    """One look of the scheduler: ``t`` in seconds since the service started."""

    t: float
    age: float
    up: bool
    report_count: int


@dataclass
class ServiceGroupResult:
    """The service's own account (``heartbeat``) and what the scheduler process saw."""

    heartbeat: heartbeat.HeartbeatResult
    url: str
    service_down_time: float
    seen: list[Seen] = field(default_factory=list)
    #: report_count in the database at the end
    report_count: int = 0
    periodic_runs: int = 0

    @property
    def seen_while_running(self) -> list[Seen]:
        """The looks from the service's start to its end (before and after, no beat was due)."""
        end = self.heartbeat.service_end or self.heartbeat.duration
        return [s for s in self.seen if 0 <= s.t <= end]

    @property
    def reported_down(self) -> bool:
        """Whether the scheduler ever saw the running service down."""
        return not all(s.up for s in self.seen_while_running)

    @property
    def down_at(self) -> float | None:
        """When the scheduler first saw it down (seconds since the service started)."""
        return next((s.t for s in self.seen_while_running if not s.up), None)

    @property
    def max_age(self) -> float:
        """The oldest report the scheduler saw while the service ran."""
        return max(s.age for s in self.seen_while_running)


def start_scheduler(url: str, service_id: int, service_down_time: float, poll: float) -> subprocess.Popen:
    """Start the scheduler process on the service's row; closing its stdin ends it (it prints what it saw)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minievent.scenarios.servicegroup",
            url,
            str(service_id),
            repr(service_down_time),
            repr(poll),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != '"ready"':
        proc.kill()
        _, err = proc.communicate()
        raise RuntimeError(f"the scheduler process did not start:\n{err[-2000:]}")
    return proc


def run(
    url: str | None = None,
    interval: float = 1.0,
    task_seconds: float = 3.0,
    kind: str = "cpu",
    fix: str | None = None,
    service_down_time: float | None = None,
    poll: float | None = None,
    **kwargs: Any,
) -> ServiceGroupResult:
    """Run ``scenarios.heartbeat``'s service on a real database, with a scheduler process watching.

    ``url``: SQLAlchemy URL (None: a SQLite file). ``poll``: how often the
    scheduler looks (default a tenth of the interval). Other keywords go to
    ``heartbeat.run`` (``duration``, ``task_at``, ``record``).
    """
    if service_down_time is None:
        service_down_time = 6 * interval
    if poll is None:
        poll = interval / 10
    if not isinstance(poll, (int, float)) or not 0 < poll < float("inf"):
        raise ValueError(f"poll must be a positive number of seconds, not {poll!r}")
    sg = DbServiceGroup(url)
    try:
        scheduler = start_scheduler(sg.url, sg.id, service_down_time, poll)
        try:
            hb = heartbeat.run(
                interval=interval,
                task_seconds=task_seconds,
                kind=kind,
                fix=fix,
                service_down_time=service_down_time,
                servicegroup=sg,
                **kwargs,
            )
        finally:
            out, err = scheduler.communicate("", timeout=60)  # closing stdin ends it
        if scheduler.returncode != 0:
            raise RuntimeError(f"the scheduler process failed:\n{err[-2000:]}")
        # The beats are in the service's clock (seconds since it started), the
        # scheduler's looks in wall time: the reports, stamped in both, line them up.
        offset = min(w - b for w, b in zip(sg.reports, hb.beats, strict=True))
        seen = [Seen(d["t"] - offset, d["age"], d["up"], d["report_count"]) for d in map(json.loads, out.splitlines())]
        return ServiceGroupResult(
            heartbeat=hb,
            url=sg.url,
            service_down_time=float(service_down_time),
            seen=seen,
            report_count=sg.report_count(),
            periodic_runs=sg.periodic_runs,
        )
    finally:
        sg.close()


if __name__ == "__main__":
    _url, _id, _down, _poll = sys.argv[1:]
    scheduler_main(_url, int(_id), float(_down), float(_poll))
