package replaybench.rsm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The object calls the plugin makes, on one bucket: whole and ranged GETs, PUTs (multipart
 * above the part size), batch DELETEs and a listing. Counts the bytes it read, so that a test
 * can hold a small fetch to a small download.
 */
public final class ObjectStore implements AutoCloseable {
    private final S3Client s3;
    private final String bucket;
    private final long partBytes;
    private final AtomicLong bytesRead = new AtomicLong();

    public ObjectStore(S3Client s3, String bucket, long partBytes) {
        this.s3 = s3;
        this.bucket = bucket;
        this.partBytes = partBytes;
    }

    public void put(String key, Path file) throws IOException {
        long size = Files.size(file);
        if (size > partBytes) {
            try (InputStream in = Files.newInputStream(file)) {
                new MultipartUpload(s3, bucket, key, partBytes).upload(in);
            }
        } else {
            s3.putObject(b -> b.bucket(bucket).key(key), RequestBody.fromFile(file));
        }
    }

    public void put(String key, byte[] bytes) {
        s3.putObject(b -> b.bucket(bucket).key(key), RequestBody.fromBytes(bytes));
    }

    /** The whole object. */
    public InputStream get(String key) {
        return counted(s3.getObject(b -> b.bucket(bucket).key(key)));
    }

    /** Bytes first..last of the object, both inclusive, as HTTP ranges are. */
    public byte[] get(String key, long first, long last) {
        GetObjectRequest request = GetObjectRequest.builder().bucket(bucket).key(key)
            .range("bytes=" + first + "-" + last).build();
        byte[] bytes = s3.getObjectAsBytes(request).asByteArray();
        bytesRead.addAndGet(bytes.length);
        return bytes;
    }

    /** Deletes the objects that exist of those named; a missing one is not an error. */
    public void delete(List<String> keys) {
        List<ObjectIdentifier> ids = new ArrayList<>();
        for (String key : keys) {
            ids.add(ObjectIdentifier.builder().key(key).build());
        }
        s3.deleteObjects(b -> b.bucket(bucket).delete(Delete.builder().objects(ids).quiet(true)
            .build()));
    }

    /** The keys under a prefix (at most 1000: one segment's folder holds six). */
    public List<String> list(String prefix) {
        List<String> keys = new ArrayList<>();
        for (S3Object o : s3.listObjectsV2(b -> b.bucket(bucket).prefix(prefix)).contents()) {
            keys.add(o.key());
        }
        return keys;
    }

    public long bytesRead() {
        return bytesRead.get();
    }

    private InputStream counted(ResponseInputStream<GetObjectResponse> in) {
        Long length = in.response().contentLength();
        bytesRead.addAndGet(length == null ? 0 : length);
        return in;
    }

    @Override
    public void close() {
        s3.close();
    }
}
