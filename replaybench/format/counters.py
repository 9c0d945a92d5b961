"""Names of the fold counters, in the order of the int64 array the core updates."""

FOLD_COUNTERS = (
    "records", "bytes", "ok", "tombstones", "truncated", "bad_magic", "bad_version",
    "bad_checksum", "bad_key", "key_out_of_range", "errors", "duplicates", "regressions",
    "offset_gaps", "gap_offsets", "rewinds", "latency_recorded", "latency_clamped",
)
FOREIGN_COUNTERS = ("records", "bytes", "tombstones", "null_keys", "errors", "distinct_keys")

# Index of each status's counter (records.STATUS_* order: ok .. error).
STATUS_COUNTER = (2, 3, 4, 5, 6, 7, 8, 9, 10)
