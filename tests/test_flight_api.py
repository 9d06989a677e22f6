"""The flight recorder armed from Python, as a service may do it itself (``minievent.recording.flight.arm``).

Each case runs in a child process: arming is once a process, and takes a signal."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from support import need_module, run_python

ARM_BADLY = """
import json, signal, sys
from minievent.recording import flight, watchdog
try:
    flight.arm(dir=sys.argv[1], {options})
except ValueError as e:
    error = [type(e).__name__, str(e)]
else:
    error = None
# nothing was armed: the signal is still the program's, no watchdog runs, arm() may be tried again
print(json.dumps({{
    "error": error,
    "signal_untouched": signal.getsignal(signal.SIGUSR2) is signal.SIG_DFL,
    "no_watchdog": watchdog.running() is None,
    "armed": flight._armed is not None,
}}))
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "options, says",
    [
        ("window=-1", "--window must be a finite number of seconds > 0"),
        ("window=float('inf')", "--window must be a finite number of seconds > 0"),
        ("window='30'", "--window must be a number of seconds"),
        ("stall=float('nan')", "--stall must be a finite number"),
        ("stall=0", "--stall must be a finite number of seconds > 0"),
        ("metrics_port=70000", "--metrics-port must be from 0 to 65535"),
        ("metrics_port=-1", "--metrics-port must be from 0 to 65535"),
        ("signal='SIGKILL'", "SIGKILL cannot be caught"),
        ("heartbeats=['']", "--heartbeat needs a lane name"),
    ],
)
def test_bad_options_from_python_raise_one_clear_value_error_and_arm_nothing(tmp_path, options, says):
    script = tmp_path / "arm.py"
    script.write_text(ARM_BADLY.format(options=options))
    out = run_python(str(script), str(tmp_path / "inc"), timeout=50)
    got = _last(out)
    assert got["error"] is not None and got["error"][0] == "ValueError", got
    assert says in got["error"][1] and "\n" not in got["error"][1], got
    assert got["signal_untouched"] and got["no_watchdog"] and not got["armed"], got


@pytest.mark.timeout(60)
def test_a_folder_it_cannot_write_is_refused_from_python(tmp_path):
    script = tmp_path / "arm.py"
    script.write_text(ARM_BADLY.format(options="window=30"))
    out = run_python(str(script), "/proc/self/incidents", timeout=50)
    got = _last(out)
    assert got["error"][0] == "ValueError" and "--dir /proc/self/incidents: cannot" in got["error"][1], got
    assert got["signal_untouched"] and got["no_watchdog"] and not got["armed"], got


def _last(out):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


SERVICE_ARMS_ITSELF = """
import json, os, sys, time, threading, warnings
from minievent.recording import flight
recorder = flight.arm(dir=sys.argv[1], stall=0.5, heartbeats=["report_state"], metrics_port=0)
armed_modules = sorted(m for m in sys.modules if m.split(".")[0] in ("logging", "eventlet", "gevent", "asyncio"))
import eventlet
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    eventlet.monkey_patch()
def report_state():
    while True:
        eventlet.sleep(0.05)
def _sync_power_states():
    end = time.monotonic() + 0.8
    while time.monotonic() < end:
        pass
eventlet.spawn(report_state)
eventlet.sleep(0.2)
eventlet.spawn(_sync_power_states)
eventlet.sleep(1.5)
print(json.dumps({
    "modules_at_arming": armed_modules,
    "patch_warnings": [str(w.message) for w in caught if "green" in str(w.message)],
    "threads": [t.name for t in threading.enumerate()],
    "metrics_url": recorder.metrics_url,
    "written": recorder.written,
}))
"""


@pytest.mark.timeout(60)
def test_a_service_arms_it_itself_and_it_writes_the_incident(tmp_path):
    need_module("eventlet", "pip install eventlet, or the compare extra")
    script, folder = tmp_path / "service.py", tmp_path / "incidents"
    script.write_text(textwrap.dedent(SERVICE_ARMS_ITSELF))
    got = _last(run_python(str(script), str(folder), timeout=50))
    # arming imported nothing the program's monkey_patch() must see first, and started no thread it can see
    assert got["modules_at_arming"] == [] and got["patch_warnings"] == [], got
    assert got["threads"] == ["MainThread"], got
    # the metrics endpoint listens on the loopback address unless told otherwise
    assert got["metrics_url"].startswith("http://127.0.0.1:"), got
    assert len(got["written"]) == 1 and os.path.dirname(got["written"][0]) == str(folder), got
    report = open(os.path.join(got["written"][0], "report.txt")).read()
    assert "WHAT HELD THE LOOP: _sync_power_states ran 0.8" in report and "report_state ran" in report, report


@pytest.mark.timeout(60)
def test_arming_twice_is_refused():
    out = run_python(
        "-c",
        "import tempfile\nfrom minievent.recording import flight\nd = tempfile.mkdtemp()\nflight.arm(dir=d)\n"
        "try:\n    flight.arm(dir=d)\nexcept RuntimeError as e:\n    print('refused:', e)\n",
        timeout=50,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "refused: the flight recorder is already armed in this process", out.stdout
