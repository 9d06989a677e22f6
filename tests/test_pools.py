"""minievent.pools: Pool and TokenPool lend a bounded number of items made on demand."""

from __future__ import annotations

import pytest

import minievent
from minievent import GreenletExit
from minievent.pools import Pool, Token, TokenPool


class Counter(Pool):
    made = 0

    def create(self) -> int:
        self.made += 1
        return self.made


def test_items_are_made_on_demand_and_reused():
    pool = Counter(max_size=2)
    assert pool.free() == 2 and pool.made == 0
    a, b = pool.get(), pool.get()
    assert (a, b) == (1, 2) and pool.free() == 0
    pool.put(a)
    assert pool.get() == 1 and pool.made == 2  # reused, not made again


def test_min_size_makes_items_at_once_and_create_argument():
    made = []
    pool = Pool(min_size=2, max_size=3, create=lambda: made.append(1) or len(made))
    assert made == [1, 1] and pool.free() == 3


def test_order_round_robin_or_stack():
    for stack, first in ((False, 1), (True, 2)):
        pool = Counter(min_size=2, max_size=2, order_as_stack=stack)
        x, y = pool.get(), pool.get()
        pool.put(x)
        pool.put(y)
        assert pool.get() == first


def test_get_waits_for_a_put_when_every_item_is_lent():
    pool = TokenPool(max_size=1)
    token = pool.get()
    assert isinstance(token, Token)
    waiter = minievent.spawn(pool.get)
    minievent.sleep(0)
    assert pool.waiting() == 1
    pool.put(token)
    assert waiter.wait() is token and pool.waiting() == 0


def test_getter_that_times_out_leaves_nothing_behind():
    pool = TokenPool(max_size=1)
    token = pool.get()
    with pytest.raises(minievent.Timeout), minievent.Timeout(0.01):
        pool.get()
    pool.put(token)
    assert pool.waiting() == 0 and pool.get() is token


def test_item_handed_to_a_killed_getter_passes_on():
    pool = TokenPool(max_size=1)
    token = pool.get()
    doomed, heir = minievent.spawn(pool.get), minievent.spawn(pool.get)
    minievent.sleep(0)
    doomed.throw_later(GreenletExit())  # the kill is queued first, then the token handed to it
    pool.put(token)
    with pytest.raises(GreenletExit):
        doomed.wait()
    assert heir.wait() is token


def test_item_context_manager_puts_back_on_error():
    pool = Counter(max_size=1)
    with pytest.raises(ZeroDivisionError), pool.item() as x:
        assert x == 1
        raise ZeroDivisionError
    assert pool.free() == 1 and pool.get() == 1


def test_create_that_raises_does_not_use_up_room():
    def broken():
        raise OSError("no connection")

    pool = Pool(max_size=1, create=broken)
    with pytest.raises(OSError):
        pool.get()
    assert pool.free() == 1


def test_resize_grows_for_waiters_and_shrinks_as_items_return():
    pool = Counter(max_size=1)
    a = pool.get()
    waiter = minievent.spawn(pool.get)
    minievent.sleep(0)
    pool.resize(2)
    assert waiter.wait() == 2  # made for the waiter at once
    pool.resize(1)
    pool.put(a)  # two exist, one may: this one goes
    assert pool.free() == 0 and pool.current_size == 1


def test_bad_sizes_and_no_create():
    with pytest.raises(TypeError):
        Pool(max_size="4")
    with pytest.raises(ValueError):
        Pool(min_size=3, max_size=2)
    with pytest.raises(ValueError):
        TokenPool().resize(-1)
    with pytest.raises(NotImplementedError):
        Pool().get()
