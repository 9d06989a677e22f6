"""Shared fixtures: every test gets a fresh hub; hub-level tests run under both pollers."""

from __future__ import annotations

import pytest

from minievent import hub as hubmod
from minievent.poller import POLLERS


@pytest.fixture(autouse=True)
def fresh_hub():
    """A new hub for each test, so one test's leftovers can't wake another's greenthreads."""
    hubmod.use_hub(None)
    yield
    h = hubmod.existing_hub()
    hubmod.use_hub(None)
    if h is not None:
        h.close()


@pytest.fixture(params=sorted(POLLERS))
def poller(request):
    """Parametrize a test over every poller: ``def test_x(poller): ...`` runs under each.

    The hub of the calling thread is replaced by one that uses that poller.
    """
    h = hubmod.Hub(POLLERS[request.param]())
    hubmod.use_hub(h)
    yield request.param


@pytest.fixture
def pair():
    """A connected pair of green sockets (AF_UNIX), closed after the test."""
    from minievent import greenio

    a, b = greenio.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def hub(poller):
    """This thread's hub, built on the parametrized poller."""
    return hubmod.get_hub()
