package replaybench.streams;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.processor.StateRestoreListener;

/** Kafka Streams' restore callbacks as events: start, each batch, end, suspension. */
final class RestoreEvents implements StateRestoreListener {
    private final Events events;

    RestoreEvents(Events events) {
        this.events = events;
    }

    @Override
    public void onRestoreStart(TopicPartition changelog, String store, long startOffset,
                               long endOffset) {
        events.emit("restore_start", "partition", changelog.partition(), "store", store,
                "start", startOffset, "end", endOffset);
    }

    @Override
    public void onBatchRestored(TopicPartition changelog, String store, long batchEndOffset,
                                long restored) {
        events.emit("restore_batch", "partition", changelog.partition(), "records", restored,
                "offset", batchEndOffset);
    }

    @Override
    public void onRestoreEnd(TopicPartition changelog, String store, long totalRestored) {
        events.emit("restore_end", "partition", changelog.partition(), "records", totalRestored);
    }

    @Override
    public void onRestoreSuspended(TopicPartition changelog, String store, long totalRestored) {
        events.emit("restore_suspended", "partition", changelog.partition(),
                "records", totalRestored);
    }
}
