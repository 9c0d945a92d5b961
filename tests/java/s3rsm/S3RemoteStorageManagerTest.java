package replaybench.rsm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

import org.apache.kafka.server.log.remote.storage.LogSegmentData;
import org.apache.kafka.server.log.remote.storage.RemoteLogSegmentMetadata;
import org.apache.kafka.server.log.remote.storage.RemoteResourceNotFoundException;
import org.apache.kafka.server.log.remote.storage.RemoteStorageException;
import org.apache.kafka.server.log.remote.storage.RemoteStorageManager.IndexType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plugin against a real S3 server: what it writes, reads back, deletes and leaves. */
class S3RemoteStorageManagerTest {
    @TempDir
    Path dir;
    private String bucket;
    private Map<String, Object> configs;
    private String prefix;
    private S3RemoteStorageManager rsm;

    @BeforeEach
    void open() throws IOException {
        bucket = TestStore.bucket();
        configs = TestStore.settings(bucket, dir);
        prefix = (String) configs.get("s3.key.prefix");
        rsm = manager(Map.of());
    }

    @AfterEach
    void close() {
        rsm.close();
    }

    private S3RemoteStorageManager manager(Map<String, Object> extra) throws IOException {
        Map<String, Object> all = new java.util.HashMap<>(configs);
        all.putAll(extra);
        S3RemoteStorageManager m = new S3RemoteStorageManager();
        m.configure(all);
        return m;
    }

    private LogSegmentData data(byte[] log, boolean withTransactions) throws IOException {
        return new LogSegmentData(TestStore.file(dir, "00.log", log),
            TestStore.file(dir, "00.index", TestStore.random(800, 2)),
            TestStore.file(dir, "00.timeindex", TestStore.random(1200, 3)),
            withTransactions ? Optional.of(TestStore.file(dir, "00.txnindex",
                TestStore.random(340, 4))) : Optional.empty(),
            TestStore.file(dir, "00.snapshot", TestStore.random(90, 5)),
            ByteBuffer.wrap(TestStore.random(24, 6)));
    }

    @Test
    void aCopiedSegmentReadsBackWholeAndByRangeWithEveryIndex() throws Exception {
        byte[] log = TestStore.random(300_000, 1);
        RemoteLogSegmentMetadata segment = TestStore.segment(1000, log.length);
        LogSegmentData data = data(log, true);
        rsm.copyLogSegmentData(segment, data);

        assertArrayEquals(Arrays.copyOfRange(log, 1234, log.length),
            TestStore.read(rsm.fetchLogSegment(segment, 1234)));
        assertArrayEquals(Arrays.copyOfRange(log, 5000, 70_001),
            TestStore.read(rsm.fetchLogSegment(segment, 5000, 70_000)));
        assertArrayEquals(TestStore.random(800, 2),
            TestStore.read(rsm.fetchIndex(segment, IndexType.OFFSET)));
        assertArrayEquals(TestStore.random(1200, 3),
            TestStore.read(rsm.fetchIndex(segment, IndexType.TIMESTAMP)));
        assertArrayEquals(TestStore.random(340, 4),
            TestStore.read(rsm.fetchIndex(segment, IndexType.TRANSACTION)));
        assertArrayEquals(TestStore.random(90, 5),
            TestStore.read(rsm.fetchIndex(segment, IndexType.PRODUCER_SNAPSHOT)));
        assertArrayEquals(TestStore.random(24, 6),
            TestStore.read(rsm.fetchIndex(segment, IndexType.LEADER_EPOCH)));
    }

    @Test
    void aSegmentCopiedAndReadWithTheSdksDefaultChecksumsReadsBack() throws Exception {
        rsm.close();
        rsm = manager(Map.of("s3.checksums", "when_supported", "s3.part.size.bytes",
            String.valueOf(5 << 20)));
        byte[] log = TestStore.random(6 << 20, 13);   // a multipart upload, CRCs on each part
        RemoteLogSegmentMetadata segment = TestStore.segment(0, log.length);
        rsm.copyLogSegmentData(segment, data(log, true));
        assertArrayEquals(log, TestStore.read(rsm.fetchLogSegment(segment, 0)));
        assertArrayEquals(TestStore.random(340, 4),
            TestStore.read(rsm.fetchIndex(segment, IndexType.TRANSACTION)));
    }

    @Test
    void aSmallFetchDownloadsAChunkNotTheSegment() throws Exception {
        rsm.close();
        rsm = manager(Map.of("fetch.chunk.size.bytes", "65536"));
        byte[] log = TestStore.random(3 << 20, 7);
        RemoteLogSegmentMetadata segment = TestStore.segment(0, log.length);
        rsm.copyLogSegmentData(segment, data(log, false));
        long before = rsm.store().bytesRead();
        byte[] got;
        try (InputStream in = rsm.fetchLogSegment(segment, 1 << 20)) {
            got = in.readNBytes(1000);
        }
        assertArrayEquals(Arrays.copyOfRange(log, 1 << 20, (1 << 20) + 1000), got);
        long read = rsm.store().bytesRead() - before;
        assertTrue(read >= 1000 && read <= 65536, "read " + read + " bytes for a 1000-byte fetch");
    }

    @Test
    void aSegmentWithoutTransactionsHasNoTransactionIndex() throws Exception {
        RemoteLogSegmentMetadata segment = TestStore.segment(0, 5000);
        rsm.copyLogSegmentData(segment, data(TestStore.random(5000, 8), false));
        assertThrows(RemoteResourceNotFoundException.class,
            () -> rsm.fetchIndex(segment, IndexType.TRANSACTION));
    }

    @Test
    void deletingASegmentRemovesEveryObject() throws Exception {
        RemoteLogSegmentMetadata segment = TestStore.segment(0, 5000);
        rsm.copyLogSegmentData(segment, data(TestStore.random(5000, 9), true));
        String folder = SegmentKeys.of(prefix, segment).folder();
        assertEquals(6, rsm.store().list(folder).size());
        rsm.deleteLogSegmentData(segment);
        assertEquals(0, rsm.store().list(folder).size());
        rsm.deleteLogSegmentData(segment);   // again: nothing there is not an error
    }

    @Test
    void aCopyThatFailsMidwayLeavesNothing() throws Exception {
        RemoteLogSegmentMetadata segment = TestStore.segment(0, 5000);
        LogSegmentData good = data(TestStore.random(5000, 10), true);
        // the producer snapshot is gone by the time the copy reaches it: two indexes are up
        LogSegmentData broken = new LogSegmentData(good.logSegment(), good.offsetIndex(),
            good.timeIndex(), good.transactionIndex(), dir.resolve("missing.snapshot"),
            good.leaderEpochIndex());
        assertThrows(RemoteStorageException.class,
            () -> rsm.copyLogSegmentData(segment, broken));
        assertEquals(0, rsm.store().list(SegmentKeys.of(prefix, segment).folder()).size());
    }

    @Test
    void aLargeSegmentGoesUpInPartsAndReadsBack() throws Exception {
        rsm.close();
        rsm = manager(Map.of("s3.part.size.bytes", String.valueOf(5 << 20)));
        byte[] log = TestStore.random(12 << 20, 11);
        RemoteLogSegmentMetadata segment = TestStore.segment(0, log.length);
        rsm.copyLogSegmentData(segment, data(log, false));
        assertArrayEquals(log, TestStore.read(rsm.fetchLogSegment(segment, 0)));
        try (var s3 = TestStore.client()) {
            String key = SegmentKeys.of(prefix, segment).log();
            String etag = s3.headObject(b -> b.bucket(bucket).key(key)).eTag();
            assertTrue(etag.endsWith("-3\""), "a 3-part upload's ETag, got " + etag);
        }
    }

    @Test
    void anInterruptedMultipartUploadLeavesNoObjectAndNoParts() throws Exception {
        String key = prefix + "interrupted/log";
        InputStream failing = new InputStream() {
            private int left = 6 << 20;   // one whole part, then the disk fails

            @Override
            public int read() throws IOException {
                // and stays failed: InputStream's bulk read takes a later failure for the end
                if (left <= 0) {
                    throw new IOException("disk gone");
                }
                left--;
                return 7;
            }
        };
        try (var s3 = TestStore.client()) {
            var upload = new MultipartUpload(s3, bucket, key, 5 << 20);
            assertThrows(IOException.class, () -> upload.upload(failing));
            assertEquals(0, s3.listObjectsV2(b -> b.bucket(bucket).prefix(prefix))
                .contents().size());
            assertEquals(0, s3.listMultipartUploads(b -> b.bucket(bucket).prefix(prefix))
                .uploads().size());
        }
    }

    @Test
    void aCachedChunkIsReadOnce() throws Exception {
        rsm.close();
        rsm = manager(Map.of("fetch.chunk.size.bytes", "65536",
            "fetch.chunk.cache.size.bytes", String.valueOf(1 << 20)));
        byte[] log = TestStore.random(500_000, 12);
        RemoteLogSegmentMetadata segment = TestStore.segment(0, log.length);
        rsm.copyLogSegmentData(segment, data(log, false));
        byte[] first = TestStore.read(rsm.fetchLogSegment(segment, 70_000, 200_000));
        long before = rsm.store().bytesRead();
        byte[] again = TestStore.read(rsm.fetchLogSegment(segment, 70_000, 200_000));
        assertArrayEquals(Arrays.copyOfRange(log, 70_000, 200_001), again);
        assertArrayEquals(first, again);
        assertEquals(before, rsm.store().bytesRead());
    }
}
