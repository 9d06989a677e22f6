"""scenarios.unseen: the services of lesson 6's "do" exercise say truly who held the hub."""

from __future__ import annotations

import pytest

import minievent
from minievent.scenarios import unseen


def test_the_answer_is_what_the_recording_shows_and_the_decoys_are_decoys():
    tl, answer = unseen.record(1)
    try:
        spans = tl.spans()
        running = [s for s in spans if s.state == "running" and s.lane != "hub"]
        longest = max(running, key=lambda s: s.duration)
        assert longest.lane == answer.culprit and abs(longest.duration - answer.hold) < 0.25 * answer.hold
        total = {lane: sum(s.duration for s in running if s.lane == lane) for lane in {s.lane for s in running}}
        assert total[answer.busy] > total[answer.culprit], "the busy decoy runs more in total"
        waits = [s for s in spans if s.state == "waiting" and s.lane not in ("main", "hub")]
        assert max(waits, key=lambda s: s.duration).lane == answer.idle, "the idle decoy waits the longest"
        assert {answer.culprit, answer.busy, answer.idle, "report_state"} <= set(tl.lanes)
    finally:
        minievent.get_hub().close()
        minievent.hub.use_hub(None)


@pytest.mark.parametrize("bad, error", [(3, ValueError), (-1, ValueError), ("0", TypeError), (True, TypeError)])
def test_a_variant_that_does_not_exist_is_refused(bad, error):
    with pytest.raises(error):
        unseen.record(bad)
