package replaybench.rsm;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.server.log.remote.storage.RemoteLogSegmentId;
import org.apache.kafka.server.log.remote.storage.RemoteLogSegmentMetadata;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The local S3 server the tests run against, named by the environment that the Python test
 * which starts it sets (RSM_TEST_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _REGION), and helpers to
 * make segments.
 */
final class TestStore {
    static final String ENDPOINT = env("RSM_TEST_ENDPOINT");
    static final String REGION = env("RSM_TEST_REGION");

    private TestStore() {
    }

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null) {
            throw new IllegalStateException(name + " is not set: these tests run against the "
                + "S3 server tests/test_s3_rsm_java.py starts");
        }
        return value;
    }

    private static String bucket;

    /**
     * The tests' bucket, made once: SeaweedFS gives each bucket volumes of its own, and runs
     * out of them after a few. Each test writes under its own key prefix instead.
     */
    static synchronized String bucket() {
        if (bucket == null) {
            String name = "rsm-test-" + uniqueName();
            try (S3Client s3 = client()) {
                s3.createBucket(b -> b.bucket(name));
            }
            bucket = name;
        }
        return bucket;
    }

    static String uniqueName() {
        return Uuid.randomUuid().toString().toLowerCase().replaceAll("[^a-z0-9]", "")
            .substring(0, 12);
    }

    static S3Client client() {
        return S3Client.builder().region(Region.of(REGION)).forcePathStyle(true)
            .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
            .endpointOverride(URI.create(ENDPOINT))
            .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(
                env("RSM_TEST_ACCESS_KEY"), env("RSM_TEST_SECRET_KEY"))))
            .httpClientBuilder(Apache5HttpClient.builder()).build();
    }

    /** rsm.config.* settings (prefix stripped, as the broker passes them) for a bucket. */
    static Map<String, Object> settings(String bucket, Path dir) throws IOException {
        Path credentials = dir.resolve("credentials.properties");
        Files.writeString(credentials, "aws.access.key.id=" + env("RSM_TEST_ACCESS_KEY")
            + "\naws.secret.access.key=" + env("RSM_TEST_SECRET_KEY") + "\n");
        Map<String, Object> configs = new HashMap<>();
        configs.put("s3.endpoint", ENDPOINT);
        configs.put("s3.bucket", bucket);
        configs.put("s3.region", REGION);
        configs.put("s3.path.style", "true");
        configs.put("s3.credentials.file", credentials.toString());
        configs.put("s3.key.prefix", uniqueName() + "/");
        return configs;
    }

    static RemoteLogSegmentMetadata segment(long startOffset, int sizeBytes) {
        TopicIdPartition tp = new TopicIdPartition(Uuid.randomUuid(), new TopicPartition("t", 3));
        return new RemoteLogSegmentMetadata(new RemoteLogSegmentId(tp, Uuid.randomUuid()),
            startOffset, startOffset + 99, 0L, 1, 0L, sizeBytes, Map.of(0, startOffset));
    }

    static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    static Path file(Path dir, String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    static byte[] read(InputStream in) throws IOException {
        try (in) {
            return in.readAllBytes();
        }
    }
}
