# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A restore consumer that folds librdkafka's message batches in C, with no Python object per
record.

confluent-kafka's consume() builds a Message object, a key and a value per record (~0.7 us on
this machine), which made a 200 B restore twice as slow as Kafka's own ConsumerPerformance.
This consumer calls rd_kafka_consume_batch_queue() itself, as confluent-kafka does, and runs the
same fold (fold.pxi) straight over each message's key and payload, without the GIL.

It is built against the part of librdkafka's API it calls, declared in rdkafka_abi.h (so no
system package is needed), and is not linked to a librdkafka: replaybench/roles/
native_reader.py first loads, with global symbols, the very librdkafka that confluent-kafka
uses, so that both clients are one library of one version with the same settings.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

include "fold.pxi"

cdef extern from "rdkafka_abi.h" nogil:
    ctypedef struct rd_kafka_t
    ctypedef struct rd_kafka_conf_t
    ctypedef struct rd_kafka_queue_t
    ctypedef struct rd_kafka_topic_t
    ctypedef int rd_kafka_resp_err_t
    ctypedef struct rd_kafka_message_t:
        rd_kafka_resp_err_t err
        rd_kafka_topic_t* rkt
        int32_t partition
        void* payload
        size_t len
        void* key
        size_t key_len
        int64_t offset
    ctypedef struct rd_kafka_topic_partition_t:
        int64_t offset
    ctypedef struct rd_kafka_topic_partition_list_t:
        int cnt
    ctypedef enum rd_kafka_type_t:
        RD_KAFKA_CONSUMER
    ctypedef enum rd_kafka_conf_res_t:
        RD_KAFKA_CONF_OK
    enum:
        RD_KAFKA_RESP_ERR_NO_ERROR
        RD_KAFKA_RESP_ERR__PARTITION_EOF

    rd_kafka_conf_t* rd_kafka_conf_new()
    void rd_kafka_conf_destroy(rd_kafka_conf_t* conf)
    rd_kafka_conf_res_t rd_kafka_conf_set(rd_kafka_conf_t* conf, const char* name,
                                          const char* value, char* errstr, size_t errstr_size)
    void rd_kafka_conf_set_opaque(rd_kafka_conf_t* conf, void* opaque)
    void rd_kafka_conf_set_stats_cb(rd_kafka_conf_t* conf,
                                    int (*stats_cb)(rd_kafka_t* rk, char* json, size_t json_len,
                                                    void* opaque))
    rd_kafka_t* rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t* conf, char* errstr,
                             size_t errstr_size)
    void rd_kafka_destroy(rd_kafka_t* rk)
    rd_kafka_resp_err_t rd_kafka_poll_set_consumer(rd_kafka_t* rk)
    rd_kafka_queue_t* rd_kafka_queue_get_consumer(rd_kafka_t* rk)
    void rd_kafka_queue_destroy(rd_kafka_queue_t* rkqu)
    ssize_t rd_kafka_consume_batch_queue(rd_kafka_queue_t* rkqu, int timeout_ms,
                                         rd_kafka_message_t** rkmessages, size_t rkmessages_size)
    void rd_kafka_message_destroy(rd_kafka_message_t* rkmessage)
    const char* rd_kafka_message_errstr(const rd_kafka_message_t* rkmessage)
    const char* rd_kafka_err2str(rd_kafka_resp_err_t err)
    rd_kafka_topic_partition_list_t* rd_kafka_topic_partition_list_new(int size)
    void rd_kafka_topic_partition_list_destroy(rd_kafka_topic_partition_list_t* rkparlist)
    rd_kafka_topic_partition_t* rd_kafka_topic_partition_list_add(
        rd_kafka_topic_partition_list_t* rktparlist, const char* topic, int32_t partition)
    rd_kafka_resp_err_t rd_kafka_assign(rd_kafka_t* rk,
                                        const rd_kafka_topic_partition_list_t* partitions)
    rd_kafka_resp_err_t rd_kafka_get_watermark_offsets(rd_kafka_t* rk, const char* topic,
                                                       int32_t partition, int64_t* low,
                                                       int64_t* high)
    rd_kafka_resp_err_t rd_kafka_consumer_close(rd_kafka_t* rk)
    int rd_kafka_version()


def librdkafka_version() -> int:
    """The hex version of the librdkafka these calls resolve to (e.g. 0x021000ff)."""
    return rd_kafka_version()


cdef inline int64_t monotonic_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef int _on_stats(rd_kafka_t* rk, char* json, size_t json_len, void* opaque) noexcept with gil:
    """librdkafka serves statistics on the thread that consumes; hand them to Python. A
    callback that raises is kept and raised from consume_fold(), not lost."""
    cdef BatchConsumer self = <BatchConsumer>opaque
    try:
        self.stats_cb(json[:json_len].decode())
    except BaseException as exc:
        if self.callback_error is None:
            self.callback_error = exc
    return 0  # librdkafka frees json


cdef class BatchConsumer:
    """One librdkafka consumer reading assigned partitions of one topic, folded batch by batch.

    config: librdkafka properties (values are turned into strings, booleans as true/false);
    `stats_cb` may be a Python callable taking the statistics JSON text, as in confluent-kafka.
    """
    cdef rd_kafka_t* rk
    cdef rd_kafka_queue_t* queue
    cdef rd_kafka_message_t** batch
    cdef readonly Py_ssize_t capacity
    cdef bytes topic
    cdef object stats_cb
    cdef object callback_error

    def __cinit__(self, dict config not None, str topic not None, Py_ssize_t capacity):
        cdef char errstr[512]
        cdef rd_kafka_conf_t* conf
        if capacity <= 0:
            raise ValueError(f"batch capacity must be positive, not {capacity}")
        self.topic = topic.encode()
        self.capacity = capacity
        self.batch = <rd_kafka_message_t**>calloc(capacity, sizeof(rd_kafka_message_t*))
        if self.batch == NULL:
            raise MemoryError()
        conf = rd_kafka_conf_new()
        try:
            for name, value in config.items():
                if name == "stats_cb":
                    self.stats_cb = value
                    continue
                if callable(value):
                    raise ValueError(f"{name}: a Python callback; the native restore consumer "
                                     "takes only librdkafka properties and stats_cb")
                text = ("true" if value else "false") if isinstance(value, bool) else str(value)
                if rd_kafka_conf_set(conf, name.encode(), text.encode(), errstr,
                                     sizeof(errstr)) != RD_KAFKA_CONF_OK:
                    raise ValueError(errstr.decode(errors="replace"))
            if self.stats_cb is not None:
                rd_kafka_conf_set_opaque(conf, <void*>self)
                rd_kafka_conf_set_stats_cb(conf, _on_stats)
        except BaseException:
            rd_kafka_conf_destroy(conf)
            raise
        self.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr))  # owns conf
        if self.rk == NULL:
            rd_kafka_conf_destroy(conf)
            raise ValueError(errstr.decode(errors="replace"))
        rd_kafka_poll_set_consumer(self.rk)
        self.queue = rd_kafka_queue_get_consumer(self.rk)

    def assign(self, list partitions not None, int64_t offset=0) -> None:
        """Read these partitions from `offset` (no group join, no rebalances)."""
        cdef rd_kafka_topic_partition_list_t* parts
        parts = rd_kafka_topic_partition_list_new(len(partitions))
        for p in partitions:
            rd_kafka_topic_partition_list_add(parts, self.topic, <int32_t>p).offset = offset
        err = rd_kafka_assign(self.rk, parts)
        rd_kafka_topic_partition_list_destroy(parts)
        _check(err, "assign")

    def unassign(self) -> None:
        _check(rd_kafka_assign(self.rk, NULL), "unassign")

    def cached_watermarks(self, int32_t partition) -> tuple:
        """(low, high) as of the last fetch response; -1 when not known yet."""
        cdef int64_t low = -1, high = -1
        rd_kafka_get_watermark_offsets(self.rk, self.topic, partition, &low, &high)
        return low, high

    def consume_fold(self, int timeout_ms, int64_t[::1] versions not None,
                     uint8_t[::1] live not None, int64_t[::1] next_offset not None,
                     int64_t[::1] counters not None, columns not None) -> tuple:
        """Take up to `capacity` messages (waiting at most timeout_ms) and fold them as
        core.fold_messages does, filling row i of `columns` (a core.Columns of at least
        `capacity` rows) for message i. Returns (messages, ns in librdkafka, ns folding,
        error): error is (code, reason) of the first message error other than end of
        partition, or None."""
        cdef Fold f
        cdef ssize_t n, i
        cdef rd_kafka_message_t* m
        cdef int64_t t0, t1, t2
        cdef int first_err = 0
        cdef const char* first_reason = NULL
        cdef bint key_ok
        cdef uint64_t key_id
        if columns.capacity < self.capacity:
            raise ValueError(f"columns hold {columns.capacity} rows, batches {self.capacity}")
        if self.rk == NULL:
            raise RuntimeError("consumer is closed")
        fold_open(&f, versions, live, next_offset, counters, 0, columns)
        with nogil:
            t0 = monotonic_ns()
            n = rd_kafka_consume_batch_queue(self.queue, timeout_ms, self.batch, self.capacity)
            t1 = monotonic_ns()
            for i in range(n if n > 0 else 0):
                m = self.batch[i]
                if m.err != RD_KAFKA_RESP_ERR_NO_ERROR:
                    # the end of a partition is flow, not failure (core.pyx counts the same)
                    if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF:
                        f.counters[C_ERRORS] += 1
                    f.col_status[i] = S_ERROR
                    f.col_offset[i] = -1
                    f.col_partition[i] = -1
                    if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF and first_err == 0:
                        first_err = m.err
                        first_reason = rd_kafka_message_errstr(m)
                    continue
                key_ok = m.key != NULL and m.key_len == 8
                key_id = rb_load_be64(<const uint8_t*>m.key) if key_ok else 0
                fold_one(&f, i, <const uint8_t*>m.payload,
                         <Py_ssize_t>m.len if m.payload != NULL else -1,
                         key_id, key_ok, m.key_len if m.key != NULL else 0, m.partition,
                         m.offset)
            t2 = monotonic_ns()
        error = None
        if first_err != 0:
            error = (first_err, first_reason.decode(errors="replace") if first_reason != NULL
                     else rd_kafka_err2str(first_err).decode(errors="replace"))
        for i in range(n if n > 0 else 0):  # the error text above lives in its message
            rd_kafka_message_destroy(self.batch[i])
        if self.callback_error is not None:
            exc, self.callback_error = self.callback_error, None
            raise exc
        if n < 0:
            error = (-1, "rd_kafka_consume_batch_queue failed")
        return max(n, 0), t1 - t0, t2 - t1, error

    def close(self) -> None:
        """Leave and free the client; safe to call twice."""
        if self.rk != NULL:
            with nogil:
                rd_kafka_queue_destroy(self.queue)
                rd_kafka_consumer_close(self.rk)
                rd_kafka_destroy(self.rk)
            self.rk = NULL
            self.queue = NULL

    def __dealloc__(self):
        if self.rk != NULL:
            rd_kafka_queue_destroy(self.queue)
            rd_kafka_destroy(self.rk)
        free(self.batch)


cdef _check(rd_kafka_resp_err_t err, str what):
    if err != RD_KAFKA_RESP_ERR_NO_ERROR:
        from confluent_kafka import KafkaError, KafkaException
        raise KafkaException(KafkaError(err, f"{what}: {rd_kafka_err2str(err).decode()}"))
