"""Build keyed changelog batches (good, tombstone and corrupt records) for core tests."""

from __future__ import annotations

import functools

import numpy as np

from replaybench.format import core, records


@functools.cache
def _pool(random_payload: bool) -> np.ndarray:
    return records.payload_pool(records.DEFAULT_POOL_BYTES, random_payload, seed=7)


def encode(key_ids, versions, intended, value_size=100, random_payload=True, impl=None):
    n = len(key_ids)
    out = np.zeros((n, value_size), np.uint8)
    pool = _pool(random_payload)
    core.encode_values(out, key_ids, versions, intended, np.arange(n), 3, pool, random_payload,
                       impl=impl)
    return out


def keyed_changelog(n_keys: int, n_records: int, tombstone_ratio: float, seed: int = 0):
    """(key_ids, versions, is_tombstone, expected_versions, expected_live) for a changelog in
    write order; a key's versions count up from 1 over its puts."""
    rng = np.random.default_rng(seed)
    key_ids = rng.integers(0, n_keys, n_records)
    tomb = rng.random(n_records) < tombstone_ratio
    versions = np.zeros(n_records, np.int64)
    expected_versions = np.zeros(n_keys, np.int64)
    expected_live = np.zeros(n_keys, np.uint8)
    for i, k in enumerate(key_ids.tolist()):
        if tomb[i]:
            expected_live[k] = 0
        else:
            expected_versions[k] += 1
            versions[i] = expected_versions[k]
            expected_live[k] = 1
    return key_ids, versions, tomb, expected_versions, expected_live
