"""Pure assignment of changelog partitions to the readers of one restore group."""

from __future__ import annotations


def assign_partitions(n_partitions: int, readers: int) -> list[list[int]]:
    """Round-robin, like a range assignor over a sorted list: reader i gets i, i+R, i+2R, ...
    Readers beyond the partition count get nothing (a restore cannot split a partition)."""
    return [list(range(i, n_partitions, readers)) for i in range(min(readers, n_partitions))]
