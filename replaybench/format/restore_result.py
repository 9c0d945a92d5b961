"""What a restore reader hands back when it is done: per partition, how far it read and when,
and the state it folded. The judges (verdicts/restore_verification.py) read it; the readers
(roles/restore_reader.py) write it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PartitionRestore:
    partition: int
    start_offset: int
    end_offset: int          # the target: the end offset captured when the restore began
    records: int = 0
    bytes: int = 0
    started_ns: int = 0      # wall clock
    done_ns: int = 0         # wall clock; 0 while still reading
    first_offset: int = -1   # of the first record read; -1: none
    keys: int = 0            # foreign: distinct keys in the partition
    dead_keys: int = 0       # foreign: keys whose last record is a tombstone


@dataclass
class RestoreResult:
    """What a reader hands back when it is done: its partitions, its state and its counters."""
    name: str
    partitions: dict[int, PartitionRestore]
    versions: np.ndarray | None      # None: foreign (no record format, so no versions)
    live: np.ndarray | None
    counters: dict[str, int]         # FOLD_COUNTERS, or FOREIGN_COUNTERS when foreign
    caught_up_ns: int        # wall clock; 0: never caught up
    client: str = "native"   # restore_batches: which consumer took the batches
    foreign: bool = False
