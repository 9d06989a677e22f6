"""Everything that watches a loop: captures, the timeline's analysis, the watchdog, the flight recorder.

Built on the core, never imported by it. (The recording code moves here from ``minievent/``; until then
this package holds the flight recorder's own pieces.)
"""
