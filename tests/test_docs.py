"""The README's pictures say what the code shows: docs/trace_eventlet.png is made from docs/service.py."""

from __future__ import annotations

import json
import os

from support import ROOT, need_module, run_python


def test_the_trace_picture_s_program_shows_the_heartbeat_ready_from_its_due_time(tmp_path):
    need_module("eventlet")
    out = tmp_path / "trace.json"
    service = os.path.join(ROOT, "docs", "service.py")
    r = run_python("-W", "ignore", "-m", "minievent", "trace", "--trace", str(out), service, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    events = json.loads(out.read_text())["traceEvents"]
    lane = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    spans = [(lane[e["tid"]], e["name"], e["ts"] / 1e6, e["dur"] / 1e6) for e in events if e["ph"] == "X"]
    task = max((s for s in spans if s[0] == "long_task" and s[1] == "running"), key=lambda s: s[3])
    ready = max((s for s in spans if s[0] == "heartbeat" and s[1] == "ready"), key=lambda s: s[3])
    assert 0.9 <= task[3] <= 1.3, task
    # The heartbeat's timer falls due at 0.3 s, 50 ms after the task took the hub: ready from then
    # (the picture used to start it with the task), until the task ends.
    assert task[2] + 0.03 <= ready[2] <= task[2] + 0.1, (task, ready)
    assert abs((ready[2] + ready[3]) - (task[2] + task[3])) < 0.05, (task, ready)
