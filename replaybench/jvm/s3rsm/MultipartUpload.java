package replaybench.rsm;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;

/**
 * One object uploaded in parts of a fixed size, read from a stream. The object appears only
 * when the upload completes; any failure aborts it, so that neither the object nor the parts
 * already sent remain.
 */
final class MultipartUpload {
    private final S3Client s3;
    private final String bucket;
    private final String key;
    private final int partBytes;

    MultipartUpload(S3Client s3, String bucket, String key, long partBytes) {
        this.s3 = s3;
        this.bucket = bucket;
        this.key = key;
        this.partBytes = (int) partBytes;   // at most S3Settings.MAX_PART_BYTES
    }

    /** Uploads everything the stream holds; returns the number of parts. */
    int upload(InputStream in) throws IOException {
        String id = s3.createMultipartUpload(b -> b.bucket(bucket).key(key)).uploadId();
        try {
            List<CompletedPart> parts = sendParts(in, id);
            s3.completeMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(id)
                .multipartUpload(m -> m.parts(parts)));
            return parts.size();
        } catch (IOException | RuntimeException e) {
            abort(id, e);
            throw e;
        }
    }

    private List<CompletedPart> sendParts(InputStream in, String id) throws IOException {
        List<CompletedPart> parts = new ArrayList<>();
        byte[] buffer = new byte[partBytes];
        for (int n = in.readNBytes(buffer, 0, partBytes); n > 0;
                n = in.readNBytes(buffer, 0, partBytes)) {
            int number = parts.size() + 1;
            String etag = s3.uploadPart(b -> b.bucket(bucket).key(key).uploadId(id)
                .partNumber(number), RequestBody.fromBytes(Arrays.copyOf(buffer, n)))
                .eTag();
            parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
        }
        return parts;
    }

    private void abort(String id, Exception cause) {
        try {
            s3.abortMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(id));
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
