"""What recording costs a foreign loop: ``sleep(0)`` per second with ``minievent.record(loop=...)`` on and off.

    python -m benchmarks.record_cost            # eventlet, gevent, asyncio, each in its own process
    python -m benchmarks.record_cost asyncio    # one

In one process per library, runs of N yields alternate off and on (so a
loaded machine slows both alike), timed in CPU time of the process (a shared
machine's other work counts less); prints the median nanoseconds per yield
and the on/off ratio of yields per second (1.0: free).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import warnings

import minievent

N = 50_000
RUNS = 7
LOOPS = ("eventlet", "gevent", "asyncio")


def _yields(loop: str, n: int) -> float:
    """Seconds for ``n`` sleep(0) of one greenthread (or task) on ``loop``."""
    if loop == "asyncio":
        import asyncio

        async def body() -> float:
            t = time.process_time()
            for _ in range(n):
                await asyncio.sleep(0)
            return time.process_time() - t

        return asyncio.run(body())
    warnings.simplefilter("ignore")  # eventlet warns that it is deprecated
    lib = __import__(loop)
    out: list[float] = []

    def body() -> None:
        t = time.process_time()
        for _ in range(n):
            lib.sleep(0)
        out.append(time.process_time() - t)

    g = lib.spawn(body)
    g.join() if loop == "gevent" else g.wait()
    return out[0]


def measure(loop: str, n: int = N, runs: int = RUNS) -> tuple[float, float]:
    """Median ns per yield, (off, on)."""
    _yields(loop, n // 10)  # warm up
    off, on = [], []
    for _ in range(runs):
        off.append(_yields(loop, n))
        with minievent.record(loop=loop):
            on.append(_yields(loop, n))
    return statistics.median(off) / n * 1e9, statistics.median(on) / n * 1e9


def main(argv: list[str]) -> None:
    if argv:
        off, on = measure(argv[0])
        print(f"{argv[0]:<9} sleep(0): off {off:7.0f} ns, on {on:7.0f} ns per yield; on/off {off / on:.2f}")
        return
    for loop in LOOPS:
        subprocess.run([sys.executable, "-W", "ignore", "-m", "benchmarks.record_cost", loop], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
