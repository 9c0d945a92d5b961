package replaybench.rsm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.kafka.server.log.remote.storage.LogSegmentData;
import org.apache.kafka.server.log.remote.storage.RemoteLogSegmentMetadata;
import org.apache.kafka.server.log.remote.storage.RemoteLogSegmentMetadata.CustomMetadata;
import org.apache.kafka.server.log.remote.storage.RemoteResourceNotFoundException;
import org.apache.kafka.server.log.remote.storage.RemoteStorageException;
import org.apache.kafka.server.log.remote.storage.RemoteStorageManager;

import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;

/**
 * Kafka's remote tier on the S3 API. A segment and its indexes become one folder of objects
 * (SegmentKeys); a fetch reads the segment with ranged GETs (ChunkedStream). A copy that fails
 * midway deletes what it wrote, so that no partial segment is left behind.
 */
public final class S3RemoteStorageManager implements RemoteStorageManager {
    private S3Settings settings;
    private ObjectStore store;
    private ChunkCache cache;   // null: off

    @Override
    public void configure(Map<String, ?> configs) {
        settings = S3Settings.of(configs);
        var s3 = S3Clients.open(settings);
        try {
            S3Clients.check(s3, settings);
        } catch (RuntimeException e) {
            s3.close();
            throw e;
        }
        store = new ObjectStore(s3, settings.bucket, settings.partBytes);
        cache = settings.cacheBytes > 0 ? new ChunkCache(settings.cacheBytes) : null;
    }

    /** The object calls made so far (for tests). */
    ObjectStore store() {
        return store;
    }

    @Override
    public Optional<CustomMetadata> copyLogSegmentData(RemoteLogSegmentMetadata segment,
                                                       LogSegmentData data)
            throws RemoteStorageException {
        SegmentKeys keys = SegmentKeys.of(settings.keyPrefix, segment);
        List<String> written = new ArrayList<>();
        try {
            // Indexes first, the log last: the log is what a listing takes for a segment.
            put(keys.index(IndexType.OFFSET), data.offsetIndex(), written);
            put(keys.index(IndexType.TIMESTAMP), data.timeIndex(), written);
            put(keys.index(IndexType.PRODUCER_SNAPSHOT), data.producerSnapshotIndex(), written);
            if (data.transactionIndex().isPresent()) {
                put(keys.index(IndexType.TRANSACTION), data.transactionIndex().get(), written);
            }
            written.add(keys.index(IndexType.LEADER_EPOCH));
            store.put(keys.index(IndexType.LEADER_EPOCH), bytes(data.leaderEpochIndex()));
            put(keys.log(), data.logSegment(), written);
            return Optional.empty();
        } catch (IOException | SdkException e) {
            undo(written, e);
            throw new RemoteStorageException("copying " + keys.folder() + " to bucket "
                + settings.bucket + " failed: " + e.getMessage(), e);
        }
    }

    private void put(String key, Path file, List<String> written) throws IOException {
        written.add(key);   // before the call: a PUT that fails may still have landed
        store.put(key, file);
    }

    private void undo(List<String> written, Exception cause) {
        try {
            store.delete(written);
        } catch (SdkException e) {
            cause.addSuppressed(e);
        }
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    @Override
    public InputStream fetchLogSegment(RemoteLogSegmentMetadata segment, int startPosition)
            throws RemoteStorageException {
        return fetchLogSegment(segment, startPosition, segment.segmentSizeInBytes() - 1);
    }

    @Override
    public InputStream fetchLogSegment(RemoteLogSegmentMetadata segment, int startPosition,
                                       int endPosition) throws RemoteStorageException {
        if (startPosition < 0 || endPosition < startPosition) {
            throw new RemoteStorageException("fetching bytes " + startPosition + ".."
                + endPosition + " of a segment: not a range");
        }
        return new ChunkedStream(store, SegmentKeys.of(settings.keyPrefix, segment).log(),
            startPosition, endPosition, settings.chunkBytes, cache);
    }

    @Override
    public InputStream fetchIndex(RemoteLogSegmentMetadata segment, IndexType type)
            throws RemoteStorageException {
        String key = SegmentKeys.of(settings.keyPrefix, segment).index(type);
        try {
            return store.get(key);
        } catch (NoSuchKeyException e) {
            // The broker asks for a transaction index that the segment never had.
            throw new RemoteResourceNotFoundException("no " + key + " in bucket "
                + settings.bucket);
        } catch (SdkException e) {
            throw new RemoteStorageException("fetching " + key + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void deleteLogSegmentData(RemoteLogSegmentMetadata segment)
            throws RemoteStorageException {
        try {
            store.delete(SegmentKeys.of(settings.keyPrefix, segment).all());
        } catch (SdkException e) {
            throw new RemoteStorageException("deleting a segment failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (store != null) {
            store.close();
        }
    }
}
