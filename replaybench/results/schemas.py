"""The results' Parquet schemas: every file's columns, their types and their descriptions (what
docs/results.md lists), and the schema version written into each file's metadata."""

from __future__ import annotations

import pyarrow as pa

# Bumped when a column changes meaning or goes away; added columns keep the version (older files
# read them as absent).
SCHEMA_VERSION = 1
_I, _F, _S, _B = pa.int64(), pa.float64(), pa.string(), pa.bool_()

# file -> [(column, type, description)]
SCHEMAS: dict[str, list[tuple[str, pa.DataType, str]]] = {
    "timeseries": [
        ("tick", _I, "interval number within the phase group"),
        ("t_ns", _I, "end of the interval, wall clock ns"),
        ("elapsed_ns", _I, "end of the interval, ns since the run started"),
        ("interval_ns", _I, "length of the interval"),
        ("phase", _S, "seed, baseline, storm, recovery or drain"),
        ("role", _S, "seeder, producer, consumer or reader (all actors of the role summed)"),
        ("actors", _I, "actors of the role that reported"),
        ("records", _I, "records produced (acked), consumed or restored in the interval"),
        ("bytes", _I, "key + value bytes of those records"),
        ("records_per_s", _F, "records / interval"),
        ("bytes_per_s", _F, "bytes / interval"),
        ("lag_records", _I, "readers: offsets left to their targets; consumers: end offsets - the "
                                "position they have taken (librdkafka consumer_lag_stored)"),
        ("fetch_queue_records", _I, "librdkafka fetch queue (consumers, readers)"),
        ("producer_queue_records", _I, "librdkafka messages waiting in the producer"),
        ("rtt_p99_us", _I, "librdkafka broker round trip p99, worst broker, microseconds"),
        ("latency_metric", _S, "which latency the p* columns describe (see latency.parquet)"),
        ("latency_count", _I, "latency samples in the interval"),
        ("p50_ns", _I, "median of latency_metric in the interval"),
        ("p99_ns", _I, "99th percentile"),
        ("p99_9_ns", _I, "99.9th percentile"),
        ("max_ns", _I, "maximum"),
        ("under_replicated_partitions", _I, "role cluster: the run's topics' partitions with "
                                            "ISR < replicas (sampled while faults run)"),
        ("s3_get_requests", _I, "role object_store: GET requests the S3 server answered in the "
                                "interval (the S3-backed broker's reads)"),
        ("s3_put_requests", _I, "role object_store: PUT requests (objects and multipart "
                                "parts)"),
        ("s3_other_requests", _I, "role object_store: other requests (HEAD, POST: a multipart "
                                  "upload's start and completion, ...)"),
        ("s3_bytes_read", _I, "role object_store: payload bytes the S3 server sent"),
        ("s3_bytes_written", _I, "role object_store: payload bytes the S3 server received"),
        ("s3_list_requests", _I, "role object_store: LIST requests"),
        ("s3_delete_requests", _I, "role object_store: DELETE requests (one per multi-object "
                                   "DELETE)"),
        ("cpu_ns", _I, "CPU time used in the interval: actor roles, their processes (every "
                       "thread); harness, every actor plus the coordinator; server, that server "
                       "process (role server, see `server`)"),
        ("hiccup_p99_ns", _I, "actor roles and harness: p99 of the processes' hiccups (a thread "
                              "sleeping 10 ms and recording how much later it woke, corrected "
                              "for coordinated omission); see latency.parquet metric hiccup"),
        ("hiccup_max_ns", _I, "the longest hiccup in the interval"),
        ("host_idle_share", _F, "role harness: share of the host's CPU time that was idle"),
        ("host_steal_share", _F, "role harness: share stolen by the hypervisor"),
        ("server", _S, "role server: which process (broker-N, tansu, s3-server) on this host"),
        ("mirror", _S, "role mirror: which MirrorMaker 2 flow (forward, reverse); lag_records "
                       "is then the copy's end offsets behind the original's, summed"),
        ("mirror_replication_latency_ms", _I, "role mirror: MirrorMaker's replication-latency-ms,"
                                              " worst partition"),
        ("mirror_record_age_ms", _I, "role mirror: MirrorMaker's record-age-ms, worst partition"),
        ("mirror_checkpoint_latency_ms", _I, "role mirror: MirrorMaker's checkpoint-latency-ms, "
                                             "worst partition"),
    ],
    "latency": [
        ("phase", _S, "phase the samples fell in; fault-N: live latency while fault N ran"),
        ("role", _S, "producer, consumer, reader, seeder, or harness (every actor together)"),
        ("metric", _S, "ack_intended (coordinated-omission corrected: ack - intended send), "
                       "ack_sent, sent_intended, e2e (consumer receive - intended send), "
                       "hiccup (how late the role's processes woke from a 10 ms sleep)"),
        ("count", _I, "samples"), ("min_ns", _I, "minimum"), ("p50_ns", _I, "median"),
        ("p90_ns", _I, "90th percentile"), ("p99_ns", _I, "99th percentile"),
        ("p99_9_ns", _I, "99.9th percentile"), ("p99_99_ns", _I, "99.99th percentile"),
        ("max_ns", _I, "maximum"), ("mean_ns", _F, "mean"),
        ("hdr_v2", pa.binary(), "the full histogram: HdrHistogram V2 compressed encoding "
                               "(1 ns .. 1 h, 3 significant digits); merge these, not percentiles"),
    ],
    "restore_partitions": [
        ("group", _I, "restore group (one stream job)"), ("reader", _S, "reader actor"),
        ("partition", _I, "changelog partition"),
        ("start_offset", _I, "first offset read"),
        ("end_offset", _I, "target: end offset at storm start (moving target: where caught up)"),
        ("records", _I, "records read"), ("bytes", _I, "key + value bytes read"),
        ("started_ns", _I, "wall clock"), ("done_ns", _I, "wall clock; 0 if never reached"),
        ("duration_ns", _I, "done - started; 0 if never reached"),
        ("log_start_offset", _I, "replay of an existing topic: the partition's log start at "
                                 "storm start"),
        ("keys", _I, "replay: distinct keys in the partition (by a 64-bit hash of the key)"),
        ("dead_keys", _I, "replay: keys whose last record is a tombstone"),
        ("offsets_without_record", _I, "replay: end - log start - records: offsets the broker "
                                       "delivered no record for (compacted away, transaction "
                                       "markers, aborted records under read_committed, "
                                       "removed by retention during the run)"),
    ],
    "restore_groups": [
        ("group", _I, "restore group"), ("readers", _I, "readers in the group"),
        ("started_ns", _I, "group start, wall clock"),
        ("caught_up_ns", _I, "last reader caught up, wall clock; 0: never"),
        ("restore_time_ns", _I, "caught_up - started: the time until the job is useful again"),
        ("records", _I, "records read"), ("bytes", _I, "bytes read"),
        ("target_records", _I, "offsets the restore covers: the partitions' end offsets, less "
                               "their log starts in a replay"),
        ("mode", _S, "verify: replaybench's own changelog, the restored state checked key by "
                     "key; replay: an existing topic, read-only, counted against its offsets; "
                     "streams: a Kafka Streams application's stores checked key by key"),
        ("engine", _S, "who restored: readers (replaybench's) or kafka-streams (the "
                       "application, measured through its own restore listener)"),
        ("time_to_running_ns", _I, "kafka-streams: from the loss of state to the instance's "
                                   "next RUNNING (restore_time_ns also waits for its restores)"),
        ("lost_updates", _I, "kafka-streams: updates written but missing from the stores' counts"),
        ("double_applied_updates", _I, "kafka-streams: updates applied more than once "
                                       "(at-least-once reprocessing after a crash)"),
        ("processing_guarantee", _S, "kafka-streams: at_least_once or exactly_once_v2"),
        ("keys", _I, "replay: distinct keys (per partition, as a store holds them); "
                     "kafka-streams: keys in the stores"),
        ("dead_keys", _I, "replay: keys whose last record is a tombstone"),
        ("reader_client", _S, "the readers' consumer: native (librdkafka's batches folded in C, "
                              "the default) or confluent-kafka (its Message objects)"),
        ("verdict", _S, "host-bound: the load machine's CPU was saturated during the restore; "
                        "client-bound: the readers, not the cluster, set the restore time; "
                        "cluster-bound otherwise (client_bound.py; verdict_reasons says how)"),
        ("verdict_reasons", _S, "the evidence behind a host- or client-bound verdict, "
                                "'; '-separated"),
        ("fetch_samples", _F, "librdkafka statistics samples of the readers' fetchers (10/s)"),
        ("fetch_idle_share", _F, "share of samples with no fetch in flight while records were "
                                 "left: the client's own back-off"),
        ("fetch_full_share", _F, "share of samples with a fetch queue at queued.min.messages"),
        ("reader_thread_busy_share", _F, "readers' own threads on CPU / (readers x restore time)"),
        ("reader_fold_share", _F, "readers' time decoding, verifying and folding / (readers x "
                                  "restore time)"),
        ("reader_consume_share", _F, "readers' time inside consume() (waiting for and taking "
                                     "records from librdkafka) / (readers x restore time)"),
        ("reader_cpu_cores", _F, "readers' processes' CPU time / restore time (cores)"),
        ("host_idle_share", _F, "the load machine's idle CPU share over the whole ticks of the "
                                "restore; NaN: the restore spanned no whole tick"),
        ("host_cores", _I, "the load machine's logical CPUs (what the host-bound verdict "
                           "weighs the readers' CPU against)"),
        ("shared_host", _B, "the cluster's servers ran on the load machine too"),
    ],
    "latency_ticks": [
        ("phase", _S, "phase"), ("role", _S, "producer (ack_intended) or consumer (e2e)"),
        ("tick", _I, "1 s tick within the phase, from 0"),
        ("buckets", pa.list_(_I), "the tick's non-empty HDR bucket indices (1 ns .. 1 h, 3 "
                                  "significant digits): what the interference judge resamples"),
        ("counts", pa.list_(_I), "samples in each of those buckets"),
    ],
    "interference": [
        ("role", _S, "producer (ack - intended) or consumer (end-to-end)"),
        ("stat", _S, "p99 or p99.9"),
        ("reference", _S, "baseline (live traffic before the storm), recovery (after it), or "
                          "overall: the verdict shown, which the references must agree on"),
        ("reference_ns", _I, "the reference phase's percentile"),
        ("storm_ns", _I, "the storm's percentile"),
        ("ratio", _F, "storm / reference"),
        ("ci_low", _F, "95 % interval of the ratio, low end (block bootstrap over 1 s ticks)"),
        ("ci_high", _F, "high end"),
        ("verdict", _S, "interference, no interference, or inconclusive"),
        ("reason", _S, "why: the reference's noise band, or what made it inconclusive (too few "
                       "samples, generator-bound, reference disturbed or unstable)"),
    ],
    "events": [
        ("t_ns", _I, "wall clock"), ("elapsed_ns", _I, "since the run started"),
        ("kind", _S, "phase_start, phase_end, group_started, reader_caught_up, ..., error"),
        ("phase", _S, "phase at the time"), ("actor", _S, "actor concerned, if any"),
        ("detail", _S, "JSON object with the event's fields"),
    ],
    "faults": [
        # "drill": the column's name from before faults had targets; kept so stored runs read
        ("drill", _I, "the fault's index in the workload's faults"),
        ("action", _S, "kill, replace, pause, restart"),
        ("broker", _I, "the first broker it acted on (0: none, e.g. only the S3 server)"),
        ("target", _S, "the processes it acted on, ','-separated (broker-2, s3)"),
        ("trigger", _S, "at_s=... (after_phase=...) or at_restore_percent=..."),
        ("started_ns", _I, "wall clock; 0: never triggered"),
        ("done_ns", _I, "targets back, wall clock"),
        ("duration_ns", _I, "done - started"), ("error", _S, "why the fault failed, if it did"),
        ("restore_stall_ns", _I, "longest stretch without restore progress after the fault "
                                 "started (1 s resolution)"),
        ("restore_resumed_ns", _I, "from fault start to restore progress after that stall"),
        ("produce_p99_9_ns", _I, "live produce ack - intended p99.9 while the fault ran"),
        ("under_replicated_max", _I, "most under-replicated partitions seen after the start"),
        ("under_replicated_cleared_ns", _I, "from fault start until none were under-replicated"),
        ("broker_bytes_after", _I, "bytes in the targets' log dirs at the end of the run: for "
                                   "a replacement, what it fetched back"),
        ("startup_bytes_read", _I, "S3-backed broker, faults that start a new process: "
                                   "what it read from the object store before it accepted a "
                                   "connection, i.e. what a replacement fetched back; null "
                                   "elsewhere"),
        ("object_store_bytes_read", _I, "S3-backed broker: bytes the object store served from "
                                        "fault start until the broker answered metadata again: "
                                        "its start-up reads plus the first fetches it served; "
                                        "null without an object store"),
        ("object_store_get_requests", _I, "GET requests in that window"),
        ("restore_time_ns", _I, "this run's restore time (slowest group), with its faults"),
        ("reference_restore_time_ns", _I, "restore time of the same workload without faults, "
                                          "run just before on a fresh cluster (manifest "
                                          "reference.run_id); null: no reference run"),
    ],
    "compat": [
        ("check", _S, "idempotent_producer, transactions, consume_transform_produce, "
                      "consumer_groups, offsets, compaction, admin_api, operator_tools, "
                      "kafka_streams (docs/compat.md)"),
        ("status", _S, "pass; fail (supported, but wrong, or an error); unsupported (the "
                       "broker refused the feature: broker_error says how)"),
        ("scope", _S, "what the check exercised, e.g. across a broker restart or without one"),
        ("sent", _S, "what the check did"),
        ("received", _S, "what came back"),
        ("broker_error", _S, "the broker's or client's error, if any"),
        ("started_ns", _I, "wall clock"),
        ("duration_ns", _I, "how long the check took"),
    ],
    "migration": [
        ("step", _S, "cutover (source -> target) or rollback (target -> source)"),
        ("partition", _I, "-1: the step's total (and the step's windows and latencies)"),
        ("acked_before", _I, "records acknowledged on the cluster left in this step"),
        ("acked_after", _I, "records acknowledged on the cluster moved to"),
        ("delivered_after", _I, "records the group was handed on the cluster moved to"),
        ("lost", _I, "acknowledged, never delivered (this step answers for the leg before it; "
                     "the last step also for the leg after it)"),
        ("duplicates", _I, "deliveries after the step of records already delivered"),
        ("resumed_offset", _I, "first offset the group read in the mirrored copy"),
        ("true_offset", _I, "offset in the copy of the record after the last one read before"),
        ("translation_error", _I, "resumed - true: positive skipped, negative re-read"),
        ("mirror_missing", _I, "records acknowledged before the step absent from the copy"),
        ("mirror_duplicates", _I, "records the copy holds more than once"),
        ("write_unavailable_ns", _I, "total row: the longest a producer had no acknowledgement "
                                     "across the step"),
        ("read_unavailable_ns", _I, "total row: last delivery before the step -> first after"),
        ("switch_ns", _I, "total row: the step's start -> producers writing on the new cluster"),
        ("mirror_drain_ns", _I, "total row: producers stopped -> the copy complete (the "
                                "step's drain phase; empty when not waited for)"),
        ("consumer_p99_ns", _I, "total row: end-to-end p99 across the step (its phases and the "
                                "phase after)"),
        ("consumer_p99_9_ns", _I, "total row: end-to-end p99.9 across the step"),
        ("consumer_reference_p99_ns", _I, "total row: end-to-end p99 in the phase before"),
        ("producer_p99_ns", _I, "total row: acknowledgement p99 (from the intended send time) "
                                "across the step"),
        ("producer_p99_9_ns", _I, "total row: acknowledgement p99.9 across the step"),
        ("producer_reference_p99_ns", _I, "total row: acknowledgement p99 in the phase before"),
        ("notes", _S, "total row: waits that hit their cap (the step went on without them)"),
    ],
    "mirror_content": [
        ("kind", _S, "topic (a team's own topic, mirrored) or group (its consumer group)"),
        ("name", _S, "the topic, or group/topic"),
        ("partition", _I, "partition"),
        ("source_records", _I, "topic: records in the source partition"),
        ("copied_records", _I, "topic: records in the copy"),
        ("missing", _I, "topic: source records the copy lacks (by key and value hash)"),
        ("extra", _I, "topic: records the copy holds beyond the source's (duplicates)"),
        ("source_aborted", _I, "topic: records of transactions the source aborted"),
        ("aborted_copied", _I, "topic: of those, how many the copy holds"),
        ("in_order", _B, "topic: the copy holds exactly the source's records, in order"),
        ("committed_offset", _I, "group: its committed offset on the source"),
        ("expected_offset", _I, "group: the copy's offset of the record that offset points to"),
        ("synced_offset", _I, "group: its offset on the target, as the mirror synced it"),
        ("translation_error", _I, "group: synced - expected: positive skips, negative re-reads"),
        ("step", _S, "the move whose mirror made the copy: cutover, or rollback (a Kafka "
                     "Streams application moved back); empty: a run from before it was kept"),
    ],
    "platform_metrics": [
        ("metric", _S, "the query's name (engine/platform_queries.yaml): bytes_out_per_s, "
                       "under_replicated_partitions, up, fetch_consumer_total_time_p99_ms, ..."),
        ("server", _S, "the server it came from: broker-N, s3 (empty: summed over servers)"),
        ("labels", _S, "its other labels, a JSON object"),
        ("t_ns", _I, "wall clock of the point (Prometheus's, one a second)"),
        ("elapsed_ns", _I, "since the run started"), ("phase", _S, "phase at the time"),
        ("value", _F, "the value, in the unit its name gives (per_s: per second)"),
    ],
    "observability": [
        ("check", _S, "what was expected to show: the restore in bytes out, a fault"),
        ("subject", _S, "restore, or the fault: index, action, target"),
        ("passed", _B, "showed in time (and, a fault, cleared by the end); null: not judged"),
        ("started_ns", _I, "when it began (the storm, the fault), wall clock"),
        ("seen_ns", _I, "when the platform's metrics first showed it; null: never"),
        ("delay_ns", _I, "seen - started"),
        ("cleared", _B, "a fault: the broker back up and nothing under-replicated at the end"),
        ("error_p95_records", _I, "the consumers' lag: the exporter's lag - the true lag, "
                                  "95th percentile of its size over the ticks"),
        ("error_p95_s", _F, "that error in seconds of live traffic (records / records per s)"),
        ("reason", _S, "what it was judged on, or why it was not judged"),
    ],
    "verification": [
        ("scope", _S, "group-N (a restore group), live, migration, mirror T-P, group G/T-P"),
        ("check", _S, "what is compared"), ("expected", _I, "what a correct run gives"),
        ("observed", _I, "what was measured"), ("passed", _B, "expected == observed"),
    ],
}


def schema(name: str) -> pa.Schema:
    fields = [pa.field(col, kind, metadata={"description": text})
              for col, kind, text in SCHEMAS[name]]
    return pa.schema(fields, metadata={"replaybench.schema_version": str(SCHEMA_VERSION),
                                       "replaybench.file": name})
