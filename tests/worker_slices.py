"""The order that gives each parallel worker its share of the long tests.

pytest-xdist's `worksteal` hands each worker a contiguous slice of the collection at the start
(len // n to the first, then len // (n - 1) of the rest, ...), and later moves tests from the
end of the longest queue to an idle worker. Sorted longest first, the first worker held every
long test and ran them one after another while the others ran the quick ones and then stole
from its end. Here the long tests are dealt to the slices longest first, each to the slice
with the least long work so far, and the quick ones fill the slices in their own order.

Tests that share a module-scoped fixture (a 3-node Ray, a 3-broker cluster) move together: in
one slice they start it once, spread over three they would start it three times.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")


def slice_sizes(count: int, workers: int) -> list[int]:
    """What worksteal sends each worker first, in order."""
    sizes, left = [], count
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    return sizes


def dealt(items: Sequence[T], workers: int, seconds: Callable[[T], float],
          unit: Callable[[T], Hashable]) -> list[T]:
    """items, sorted longest first, reordered into `workers` consecutive slices. seconds: how
    long a test takes (0: quick); unit: tests with the same key stay in one slice."""
    units: dict[Hashable, list[T]] = {}
    for item in items:
        units.setdefault(unit(item), []).append(item)
    long = sorted((u for u in units.values() if sum(map(seconds, u))),
                  key=lambda u: -sum(map(seconds, u)))
    quick = [u for u in units.values() if not sum(map(seconds, u))]
    slices: list[list[T]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for group in long:
        i = min(range(workers), key=lambda w: (load[w], w))
        slices[i] += group
        load[i] += sum(map(seconds, group))
    sizes = slice_sizes(len(items), workers)
    i = 0
    for group in quick:   # in order; a slice that is full passes the rest on
        while i < workers - 1 and len(slices[i]) >= sizes[i]:
            i += 1
        slices[i] += group
    return [item for s in slices for item in s]
