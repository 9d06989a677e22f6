"""Side-by-side benchmarks: minievent against eventlet, gevent, asyncio, uvloop and threads.

``python -m benchmarks`` (``--quick`` for a short run) measures, in one run,
the numbers a learner asks first of an event loop: how fast it switches and
spawns, how late its timers fire, how many echo round trips it serves, how
much memory an idle greenthread and an idle connection cost, and whether a
heartbeat stays on time with 10,000 connections open (C10K).

Modules, in the order a reader may want them:

* ``plan``    -- what is measured, at which sizes, and the project's goals;
* ``worker``  -- one measurement in one fresh process, for every library;
* ``client``  -- the load generator, a separate process;
* ``runner``  -- interleaves the runs, repeats them, collects the medians;
* ``report``  -- the terminal table, the README table and the chart.

Nothing here is imported by ``minievent``: the package is the project's own
measuring stick, not part of the library.
"""
