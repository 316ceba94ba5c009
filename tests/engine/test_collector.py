"""FullCollections (mediacore/engine/collector.py): what survives a full collection is frozen,
so the next one walks only what is newer; cycles through frozen objects wait for the sweep;
leaving puts the collector back as it was."""

import gc
import weakref

import pytest

from mediacore.engine.collector import FullCollections


@pytest.fixture(autouse=True)
def only_our_collections():
    """No automatic collection meanwhile (another thread's, say): the counts are ours."""
    gc.disable()
    yield
    gc.enable()


class Node:
    """A collectable object that can join a cycle and be watched by a weak reference."""

    def __init__(self) -> None:
        self.other = None


def cycle() -> tuple[Node, weakref.ref]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


def tracked(obj) -> bool:
    """Whether the collector still walks `obj` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_what_survives_a_full_collection_is_frozen_and_what_comes_later_is_not():
    with FullCollections(sweep_s=None) as collections:
        assert FullCollections.installed() is collections
        survivor = Node()
        assert tracked(survivor)
        gc.collect()
        assert not tracked(survivor)  # frozen: no later collection walks it
        assert gc.get_freeze_count() > 0
        newer = Node()
        assert tracked(newer)
        assert collections.count == 2  # the one entering ran, and this one
        assert 0 < collections.last_s <= collections.longest_s
    assert gc.get_freeze_count() == 0
    assert tracked(survivor) and tracked(newer)
    assert FullCollections.installed() is None


def test_new_cycles_are_still_collected():
    with FullCollections(sweep_s=None):
        gc.collect()
        node, alive = cycle()
        del node
        gc.collect(0)  # an ordinary young collection finds it
        assert alive() is None


def test_a_cycle_through_a_frozen_object_waits_for_the_sweep():
    clock = Clock()
    with FullCollections(sweep_s=60.0, clock=clock) as collections:
        node, alive = cycle()
        gc.collect()  # both nodes frozen
        del node      # now garbage, but frozen: only a sweep can free it
        gc.collect()
        assert alive() is not None
        clock.now += 59.0
        gc.collect()
        assert alive() is not None and collections.sweeps == 0
        clock.now += 1.0
        gc.collect()  # the sweep: walks everything
        assert alive() is None
        assert collections.sweeps == 1
        later = Node()
        gc.collect()
        assert not tracked(later)  # frozen again after the sweep


def test_without_freeze_it_only_times_full_collections():
    with FullCollections(freeze=False) as collections:
        node, alive = cycle()
        gc.collect()
        assert tracked(node) and gc.get_freeze_count() == 0
        del node
        gc.collect()
        assert alive() is None
        assert collections.count == 2 and collections.longest_s > 0


def test_young_collections_are_not_counted():
    with FullCollections(sweep_s=None) as collections:
        before = collections.count
        gc.collect(0)
        gc.collect(1)
        assert collections.count == before


def test_one_per_process():
    with FullCollections(sweep_s=None):
        with pytest.raises(RuntimeError, match="installed already"):
            with FullCollections():
                pass
    assert FullCollections.installed() is None


@pytest.mark.parametrize("sweep_s", [0, -1.0, float("nan")])
def test_the_sweep_interval_must_be_positive(sweep_s):
    with pytest.raises(ValueError, match="sweep_s must be positive"):
        FullCollections(sweep_s=sweep_s)
