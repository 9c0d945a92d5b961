package replaybench.rsm;

import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.server.log.remote.storage.RemoteLogSegmentMetadata;
import org.apache.kafka.server.log.remote.storage.RemoteStorageManager.IndexType;

/**
 * Where one remote segment's objects live. One folder per segment copy:
 * PREFIX/TOPIC-TOPICID/PARTITION/STARTOFFSET-SEGMENTID/ holding "log" and one object per index
 * ("offset", "timestamp", "producer-snapshot", "transaction", "leader-epoch"). The segment id (a
 * UUID per copy attempt) keeps two copies of the same offsets apart, and the zero-padded start
 * offset lists a partition's segments in log order.
 */
public final class SegmentKeys {
    private final String folder;

    private SegmentKeys(String folder) {
        this.folder = folder;
    }

    public static SegmentKeys of(String prefix, RemoteLogSegmentMetadata segment) {
        TopicIdPartition tp = segment.remoteLogSegmentId().topicIdPartition();
        return new SegmentKeys(String.format("%s%s-%s/%d/%020d-%s/", prefix, tp.topic(),
            tp.topicId(), tp.partition(), segment.startOffset(),
            segment.remoteLogSegmentId().id()));
    }

    public String folder() {
        return folder;
    }

    public String log() {
        return folder + "log";
    }

    public String index(IndexType type) {
        return folder + type.name().toLowerCase().replace('_', '-');
    }

    /** Every object a complete copy has (the transaction index only when the log had one). */
    public List<String> all() {
        List<String> keys = new ArrayList<>();
        keys.add(log());
        for (IndexType type : IndexType.values()) {
            keys.add(index(type));
        }
        return keys;
    }
}
