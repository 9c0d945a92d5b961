"""Names of the fold counters, in the order of the int64 array the core updates."""

FOLD_COUNTERS = (
    "records", "bytes", "ok", "tombstones", "truncated", "bad_magic", "bad_version",
    "bad_checksum", "bad_key", "key_out_of_range", "errors", "duplicates", "regressions",
    "offset_gaps", "gap_offsets", "rewinds", "latency_recorded", "latency_clamped",
)
# Foreign mode (a topic replaybench did not write): dead_keys are keys whose last record is a
# tombstone; gaps are offsets with no record (compacted away, transaction markers, aborted
# records under read_committed), counted from the first record read to the end of partition.
FOREIGN_COUNTERS = ("records", "bytes", "tombstones", "null_keys", "errors", "distinct_keys",
                    "dead_keys", "offset_gaps", "gap_offsets", "rewinds")

# Index of each status's counter (records.STATUS_* order: ok .. error).
STATUS_COUNTER = (2, 3, 4, 5, 6, 7, 8, 9, 10)
