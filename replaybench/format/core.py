"""The per-record core, compiled (ext/core.pyx) or in Python (fallback.py), behind small classes.

`implementation()` picks the compiled core and falls back, with a warning, only when it is not
built. Everything takes the implementation explicitly so tests can run both side by side.
"""

from __future__ import annotations

import functools
import types
import warnings
from dataclasses import dataclass, field

import numpy as np

from replaybench.format import records
from replaybench.format.counters import FOLD_COUNTERS, FOREIGN_COUNTERS
from replaybench.format.histograms import LatencyHistogram


@functools.cache
def implementation() -> types.ModuleType:
    try:
        from replaybench import _core
    except ImportError:
        warnings.warn("replaybench's compiled core is not built (pip install -e .); using the "
                      "pure-Python fallback, which is more than 10x slower", RuntimeWarning,
                      stacklevel=2)
        from replaybench.format import fallback
        return fallback
    return _core


class Columns:
    """Per-message fields of one batch, filled by fold(); rows beyond the batch are stale."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.offset = np.zeros(capacity, np.int64)
        self.partition = np.zeros(capacity, np.int32)
        self.key_id = np.zeros(capacity, np.int64)        #: -1: key is not 8 bytes
        self.key_version = np.zeros(capacity, np.int64)
        self.intended_send_ns = np.zeros(capacity, np.int64)
        self.value_size = np.zeros(capacity, np.int32)    #: -1: tombstone
        self.status = np.zeros(capacity, np.uint8)        #: records.STATUS_*

    def set_row(self, i, offset, partition, key_id, version, intended, size, status) -> None:
        self.offset[i], self.partition[i], self.key_id[i] = offset, partition, key_id
        self.key_version[i], self.intended_send_ns[i] = version, intended
        self.value_size[i], self.status[i] = size, status

    def as_dict(self, n: int) -> dict[str, np.ndarray]:
        return {name: getattr(self, name)[:n].copy() for name in
                ("offset", "partition", "key_id", "key_version", "intended_send_ns",
                 "value_size", "status")}


class StateTable:
    """A restored state: key id -> last version and presence, plus per-partition offset tracking
    and the fold counters (see counters.FOLD_COUNTERS)."""

    counter_names = FOLD_COUNTERS

    def __init__(self, n_keys: int, n_partitions: int, impl: types.ModuleType | None = None):
        self.impl = impl or implementation()
        self.versions = np.zeros(n_keys, np.int64)   # 0: never seen
        self.live = np.zeros(n_keys, np.uint8)
        self.next_offset = np.full(n_partitions, -1, np.int64)
        self.counters = np.zeros(len(FOLD_COUNTERS), np.int64)

    def fold(self, messages: list, now_ns: int = 0, latency: LatencyHistogram | None = None,
             columns: Columns | None = None) -> None:
        """Decode, verify and fold one consume() batch; with `latency`, record now - intended."""
        self.impl.fold_messages(messages, self.versions, self.live, self.next_offset,
                                self.counters, now_ns,
                                latency.hist if latency else None,
                                latency.counts if latency else None, columns)

    def fold_buffer(self, data, starts, lengths, key_ids, partitions, offsets) -> None:
        self.impl.fold_buffer(data, starts, lengths, key_ids, partitions, offsets,
                              self.versions, self.live, self.next_offset, self.counters)

    def counts(self) -> dict[str, int]:
        return dict(zip(FOLD_COUNTERS, self.counters.tolist()))

    def errors(self) -> int:
        return int(self.counters[FOLD_COUNTERS.index("errors")])

    @staticmethod
    def record_bytes(columns: Columns, rows: np.ndarray) -> np.ndarray:
        """Key (8) + value bytes of these rows; a tombstone's value_size is -1."""
        return 8 + np.maximum(columns.value_size[rows], 0)

    @property
    def corrupt(self) -> int:
        c = self.counts()
        return sum(c[k] for k in ("truncated", "bad_magic", "bad_version", "bad_checksum",
                                  "bad_key", "key_out_of_range"))


def record_latencies(latency: LatencyHistogram, values_ns: np.ndarray,
                     counters: np.ndarray, impl: types.ModuleType | None = None) -> None:
    """Record an int64 array of latencies (ns) into an HDR histogram in one call."""
    (impl or implementation()).record_values(
        latency.hist, latency.counts, np.ascontiguousarray(values_ns, np.int64), counters)


class ForeignState:
    """What a restore of a topic replaybench did not write can count exactly: records, bytes,
    tombstones, distinct keys and keys whose last record is a tombstone (per partition too),
    and the offsets with no record (counters.FOREIGN_COUNTERS). Keys are told apart by a
    64-bit hash of partition and key bytes: two keys collide with odds ~n^2 / 2^65 (3e-4 at
    100 M keys)."""

    counter_names = FOREIGN_COUNTERS

    def __init__(self, n_partitions: int, impl: types.ModuleType | None = None,
                 initial_slots: int = 1 << 16):
        self.impl = impl or implementation()
        self.table = np.zeros(initial_slots, np.uint64)
        self.dead = np.zeros(initial_slots, np.uint8)
        self.next_offset = np.full(n_partitions, -1, np.int64)
        #: per partition, where the restore stops: later records of a topic still being
        #: written are not counted (set_limits)
        self.limits = np.full(n_partitions, np.iinfo(np.int64).max, np.int64)
        self.partition_keys = np.zeros(n_partitions, np.int64)
        self.partition_dead_keys = np.zeros(n_partitions, np.int64)
        self.counters = np.zeros(len(FOREIGN_COUNTERS), np.int64)

    def fold(self, messages: list, columns: Columns | None = None) -> None:
        distinct = self.counters[FOREIGN_COUNTERS.index("distinct_keys")]
        # Keep the open-addressing table at most half full, even if every key is new.
        while 2 * (distinct + len(messages)) > len(self.table):
            table, dead = (np.zeros(2 * len(self.table), t) for t in (np.uint64, np.uint8))
            self.impl.keyset_rehash(self.table, self.dead, table, dead)
            self.table, self.dead = table, dead
        self.impl.fold_foreign(messages, self.table, self.dead, self.next_offset, self.limits,
                               self.partition_keys, self.partition_dead_keys, self.counters,
                               columns)

    def set_limits(self, ends: dict[int, int]) -> None:
        for partition, end in ends.items():
            self.limits[partition] = end

    def counts(self) -> dict[str, int]:
        return dict(zip(FOREIGN_COUNTERS, self.counters.tolist()))

    def errors(self) -> int:
        return int(self.counters[FOREIGN_COUNTERS.index("errors")])

    @staticmethod
    def record_bytes(columns: Columns, rows: np.ndarray) -> np.ndarray:
        """Key + value bytes of these rows (the foreign fold puts them in value_size)."""
        return columns.value_size[rows]


@dataclass(frozen=True)
class Verification:
    """How a restored state differs from the expected one: exact counts, a few sample keys."""

    keys_expected: int
    missing: int              # expected present, absent after restore
    wrong_version: int        # present in both, at another version
    not_deleted: int          # expected deleted (or never written), present after restore
    corrupt_records: int
    regressions: int
    samples: dict[str, list[int]] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.wrong_version or self.not_deleted
                    or self.corrupt_records or self.regressions)


def verify(expected_versions: np.ndarray, expected_live: np.ndarray, restored: StateTable,
           sample_size: int = 10) -> Verification:
    """Compare a restored state with what the seeder wrote up to the target offsets."""
    exp_live = expected_live.astype(bool)
    got_live = restored.live.astype(bool)
    missing = exp_live & ~got_live
    wrong = exp_live & got_live & (expected_versions != restored.versions)
    not_deleted = ~exp_live & got_live

    def sample(mask: np.ndarray) -> list[int]:
        return np.flatnonzero(mask)[:sample_size].tolist()

    return Verification(
        keys_expected=int(exp_live.sum()),
        missing=int(missing.sum()), wrong_version=int(wrong.sum()),
        not_deleted=int(not_deleted.sum()), corrupt_records=restored.corrupt,
        regressions=restored.counts()["regressions"],
        samples={"missing": sample(missing), "wrong_version": sample(wrong),
                 "not_deleted": sample(not_deleted)},
    )


def encode_values(out: np.ndarray, key_ids, versions, intended_ns, sequences, producer_id: int,
                  pool: np.ndarray, random_payload: bool,
                  impl: types.ModuleType | None = None) -> None:
    """Fill the rows of a preallocated (n, value_size) uint8 array with complete values."""
    as64 = functools.partial(np.ascontiguousarray, dtype=np.int64)
    (impl or implementation()).encode_values(
        out, as64(key_ids), as64(versions), as64(intended_ns), as64(sequences), producer_id, pool,
        records.FLAG_RANDOM_PAYLOAD if random_payload else 0)
