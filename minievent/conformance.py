"""Conformance: run CPython's own tests with ``monkey_patch()`` applied, and compare with an unpatched run.

A green module is only as good as the stdlib it replaces, and the stdlib's
own test suite is the strictest description of that behaviour there is
(gevent measures itself the same way). This runs the *running
interpreter's* ``test`` package -- nothing is copied into this repository::

    python -m minievent.conformance               # the 27 modules below
    python -m minievent.conformance --quick       # the small subset CI runs
    python -m minievent.conformance test_queue test_threading
    python -m minievent.conformance --lib gevent  # the same run, patched by gevent (or eventlet)

Each module runs in a subprocess of its own, twice: unpatched (the baseline,
cached per interpreter in ``.conformance/``) and with ``minievent.monkey_patch()``
done before the test module is imported (or gevent's ``patch_all()``, or
eventlet's ``monkey_patch()``: the same yardstick for its peers). A test that runs longer than
``--timeout`` seconds is a *hang*: ``faulthandler`` dumps its stack and ends
the child, and the parent starts a new child that carries on after it. A
child that dies any other way is a *crash*, charged to the test it was in.
The figure that counts: of the tests that pass unpatched, the share that
also pass patched.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import unittest

MODULES = [
    "test_socket",
    "test_selectors",
    "test_select",
    "test_socketserver",
    "test_httplib",
    "test_httpservers",
    "test_urllib2_localnet",
    "test_ftplib",
    "test_smtplib",
    "test_xmlrpc",
    "test_poplib",
    "test_telnetlib",
    "test_wsgiref",
    "test_asyncore",
    "test_asynchat",
    "test_time",
    "test_timeout",
    "test_queue",
    "test_threading",
    "test_subprocess",
]
#: What a service leans on beyond those: TLS, logging (its QueueListener), _thread itself, thread-locals,
#: signal handlers, and two more protocol clients/servers.
SERVICE = [
    "test_ssl",
    "test_logging",
    "test_thread",
    "test_threading_local",
    "test_signal",
    "test_imaplib",
    "test_docxmlrpc",
]
#: What CI runs: quick modules that still cover locks, queues, sockets, servers, timeouts, _thread and thread-locals.
QUICK = [
    "test_queue",
    "test_threading",
    "test_select",
    "test_selectors",
    "test_timeout",
    "test_socketserver",
    "test_httplib",
    "test_thread",
    "test_threading_local",
]
PASSED = ("pass", "xfail")  # an expected failure that fails as expected is a pass

# test.support resources: local servers and subprocesses yes; cpu-hogs and big files no
# (regrtest's default is none at all; outside regrtest it is all).
RESOURCES = ["network", "subprocess"]
#: How each library patches everything, done in the child before the test module is imported.
LIBS = {
    "minievent": "import minievent; minievent.monkey_patch()",
    "gevent": "from gevent import monkey; monkey.patch_all()",
    "eventlet": "import eventlet; eventlet.monkey_patch()",
}


# ---------------------------------------------------------------- the child: one module, one mode
class _Recorder(unittest.TestResult):
    """Writes one JSON line per test as it starts and as it ends, flushed, so a dead child loses nothing."""

    def __init__(self, out, timeout: float) -> None:
        super().__init__()
        self.out, self.timeout = out, timeout
        self.outcome: dict[str, tuple[str, str]] = {}

    def _write(self, **record) -> None:
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def startTest(self, test) -> None:
        import faulthandler

        super().startTest(test)
        self._write(start=test.id())
        faulthandler.dump_traceback_later(self.timeout, exit=True)  # the hang detector

    def stopTest(self, test) -> None:
        import faulthandler

        faulthandler.cancel_dump_traceback_later()
        outcome, detail = self.outcome.pop(test.id(), ("pass", ""))
        self._write(id=test.id(), outcome=outcome, detail=detail[-2000:])
        super().stopTest(test)

    def _set(self, test, outcome: str, detail: str = "") -> None:
        if self.outcome.get(test.id(), ("pass",))[0] in ("pass", "skip"):  # the first failure wins
            self.outcome[test.id()] = (outcome, detail)

    def addError(self, test, err) -> None:
        if isinstance(test, unittest.case._SubTest):
            test = test.test_case
        if not hasattr(test, "id") or isinstance(test, unittest.suite._ErrorHolder):
            self._write(id=str(test), outcome="error", detail=self._exc_info_to_string(err, test)[-2000:])
            return
        self._set(test, "error", self._exc_info_to_string(err, test))

    def addFailure(self, test, err) -> None:
        self._set(test, "fail", self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err) -> None:
        if err is not None:
            self._set(
                test,
                "fail" if issubclass(err[0], test.failureException) else "error",
                self._exc_info_to_string(err, test),
            )

    def addSkip(self, test, reason) -> None:
        self._set(test, "skip", reason)

    def addExpectedFailure(self, test, err) -> None:
        self._set(test, "xfail")

    def addUnexpectedSuccess(self, test) -> None:
        self._set(test, "fail", "unexpected success")


def _flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item


def child(module: str, lib: str | None, outfile: str, done: set[str], timeout: float) -> None:
    """Run ``test.<module>`` in this process (after ``lib``'s patch, if any), skipping ``done``."""
    # A process started from a background shell inherits SIGINT ignored, and Python then leaves it so:
    # test_signal and test_threading would fail for that. Python's own default, as in a terminal.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if lib:
        exec(LIBS[lib], {})
    import importlib

    from test import support

    support.use_resources = RESOURCES
    with open(outfile, "a") as out:
        result = _Recorder(out, timeout)
        try:
            mod = importlib.import_module(f"test.{module}")
            tests = [t for t in _flatten(unittest.defaultTestLoader.loadTestsFromModule(mod)) if t.id() not in done]
        except unittest.SkipTest as e:
            result._write(id=f"{module} (module)", outcome="skip", detail=str(e))
            return
        except Exception:
            import traceback

            result._write(id=f"{module} (import)", outcome="error", detail=traceback.format_exc()[-2000:])
            return
        unittest.TestSuite(tests).run(result)


# ---------------------------------------------------------------- the parent: one child after another
def run_module(module: str, lib: str | None, timeout: float, budget: float) -> dict[str, dict]:
    """Every test of ``module`` -> {"outcome": ..., "detail": ...}; restarts the child after a hang or crash."""
    results: dict[str, dict] = {}
    deadline = time.monotonic() + budget
    with tempfile.TemporaryDirectory(prefix=f"conformance-{module}-") as tmp:
        outfile, donefile = os.path.join(tmp, "results.jsonl"), os.path.join(tmp, "done.json")
        seen = 0
        while True:
            with open(donefile, "w") as f:
                json.dump(sorted(results), f)
            cmd = [
                sys.executable,
                "-X",
                "faulthandler",
                "-m",
                "minievent.conformance",
                "--child",
                module,
                f"--patch={lib or ''}",
                "--out",
                outfile,
                "--done",
                donefile,
                "--timeout",
                str(timeout),
            ]
            env = dict(
                os.environ,
                PYTHONPATH=os.pathsep.join(
                    [str(pathlib.Path(__file__).resolve().parent.parent)]
                    + [p for p in [os.environ.get("PYTHONPATH")] if p]
                ),
            )
            workdir = tempfile.mkdtemp(dir=tmp)  # tests write their TESTFN files into the cwd
            # Output goes to a file, not a pipe: a forked grandchild that hangs would hold a pipe open
            # forever. The child leads a process group of its own, which is killed at the end.
            with open(os.path.join(workdir, "output"), "w+") as output:
                proc = subprocess.Popen(
                    cmd,
                    cwd=workdir,
                    env=env,
                    stdout=output,
                    stderr=output,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    code: int | str = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    code = "budget"
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                output.seek(0)
                stderr = output.read()
            started = None
            with open(outfile) if os.path.exists(outfile) else open(os.devnull) as f:
                lines = f.readlines()
            for line in lines[seen:]:
                rec = json.loads(line)
                if "start" in rec:
                    started = rec["start"]
                else:
                    results[rec["id"]] = {"outcome": rec["outcome"], "detail": rec["detail"]}
                    started = None
            seen = len(lines)
            if code == 0 and started is None:
                return results
            if started is None:  # died between tests (module teardown, interpreter exit)
                results[f"{module} (exit {code})"] = {"outcome": "crash", "detail": stderr[-2000:]}
                return results
            hang = code == "budget" or "Timeout (" in stderr
            results[started] = {"outcome": "hang" if hang else "crash", "detail": stderr[-2000:]}
            if code == "budget":
                return results


def _cache_file(cache: pathlib.Path, module: str) -> pathlib.Path:
    tag = f"{sys.implementation.cache_tag}-{'.'.join(map(str, sys.version_info[:3]))}"
    return cache / f"{tag}-{module}-unpatched.json"


def compare(module: str, timeout: float, budget: float, cache: pathlib.Path | None, lib: str = "minievent") -> dict:
    cached = _cache_file(cache, module) if cache is not None else None
    if cached is not None and cached.exists():
        base = json.loads(cached.read_text())
    else:
        base = run_module(module, None, timeout, budget)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(base))
    green = run_module(module, lib, timeout, budget)
    must = sorted(t for t, r in base.items() if r["outcome"] in PASSED)
    lost = [t for t in must if green.get(t, {"outcome": "missing"})["outcome"] not in PASSED]
    count = {k: sum(1 for r in green.values() if r["outcome"] == k) for k in ("hang", "crash")}
    return {
        "module": module,
        "lib": lib,
        "base_pass": len(must),
        "green_pass": len(must) - len(lost),
        "lost": lost,
        "lost_detail": {t: green.get(t, {"outcome": "missing", "detail": ""}) for t in lost},
        **count,
    }


def _write(rows: list[dict], json_file: str | None, failures: str | None) -> None:
    if json_file:
        pathlib.Path(json_file).write_text(json.dumps(rows, indent=1))
    if failures:
        with open(failures, "w") as f:
            for r in rows:
                f.write(f"## {r['module']}: {r['green_pass']}/{r['base_pass']}\n")
                for t in r["lost"]:
                    d = r["lost_detail"][t]
                    last = [ln for ln in d.get("detail", "").strip().splitlines() if ln.strip()][-1:] or [""]
                    f.write(f"{t}  [{d['outcome']}]  {last[0][:200]}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m minievent.conformance", description=__doc__.split("\n\n")[0])
    p.add_argument("modules", nargs="*", help=f"test modules (default: all {len(MODULES + SERVICE)})")
    p.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    p.add_argument("--lib", choices=sorted(LIBS), default="minievent", help="whose monkey patching to measure")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds one test may run before it is a hang")
    p.add_argument("--budget", type=float, default=1200.0, help="seconds one module may run in all")
    p.add_argument("--cache", default=".conformance", help="where unpatched results are kept ('' for none)")
    p.add_argument("--json", help="write the full comparison here")
    p.add_argument("--failures", help="write the failing test ids per module, with their causes, here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--patch", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--done", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        with open(a.done) as f:
            child(a.child, a.patch or None, a.out, set(json.load(f)), a.timeout)
        return 0
    modules = a.modules or (QUICK if a.quick else MODULES + SERVICE)
    unknown = [m for m in modules if not m.startswith("test_")]
    if unknown:
        p.error(f"not a test module: {', '.join(unknown)}")
    cache = pathlib.Path(a.cache) if a.cache else None
    rows = []
    print(f"{'module':24} {'unpatched':>9} {a.lib:>9} {'%':>6} {'hang':>4} {'crash':>5}")
    for m in modules:
        r = compare(m, a.timeout, a.budget, cache, a.lib)
        rows.append(r)
        pct = 100.0 * r["green_pass"] / r["base_pass"] if r["base_pass"] else 100.0
        print(f"{m:24} {r['base_pass']:9} {r['green_pass']:9} {pct:6.1f} {r['hang']:4} {r['crash']:5}", flush=True)
        _write(rows, a.json, a.failures)  # after every module: a long run interrupted keeps what it has
    base, green = sum(r["base_pass"] for r in rows), sum(r["green_pass"] for r in rows)
    print(
        f"{'total':24} {base:9} {green:9} {100.0 * green / max(base, 1):6.1f} "
        f"{sum(r['hang'] for r in rows):4} {sum(r['crash'] for r in rows):5}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
