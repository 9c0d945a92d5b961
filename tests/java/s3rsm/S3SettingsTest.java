package replaybench.rsm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each wrong setting is one line naming the broker property, at configure. */
class S3SettingsTest {
    @TempDir
    Path dir;

    private static String refusal(Map<String, Object> configs) {
        S3RemoteStorageManager rsm = new S3RemoteStorageManager();
        return assertThrows(ConfigException.class, () -> rsm.configure(configs)).getMessage();
    }

    @Test
    void aMissingBucketSettingIsNamed() {
        String message = refusal(new HashMap<>(Map.of("s3.region", "eu-west-2")));
        assertTrue(message.startsWith("rsm.config.s3.bucket is required"), message);
    }

    @Test
    void aPartSizeThatIsNotANumberOrTooSmallIsNamed() throws IOException {
        Map<String, Object> configs = TestStore.settings("b", dir);
        configs.put("s3.part.size.bytes", "8MB");
        assertEquals("rsm.config.s3.part.size.bytes: expected a whole number of bytes, got '8MB'",
            refusal(configs));
        configs.put("s3.part.size.bytes", "1000");
        assertTrue(refusal(configs).startsWith("rsm.config.s3.part.size.bytes: 1000 is out of "
            + "range"));
    }

    @Test
    void aChecksumChoiceThatIsNotOneIsNamed() throws IOException {
        Map<String, Object> configs = TestStore.settings("b", dir);
        configs.put("s3.checksums", "sometimes");
        assertEquals("rsm.config.s3.checksums: expected one of when_required, when_supported, "
            + "got 'sometimes'", refusal(configs));
    }

    @Test
    void aBucketTheServerDoesNotHaveIsNamed() throws IOException {
        String message = refusal(TestStore.settings("no-such-bucket-here", dir));
        assertTrue(message.startsWith("rsm.config.s3.bucket: no bucket 'no-such-bucket-here' at "
            + TestStore.ENDPOINT), message);
    }

    @Test
    void refusedCredentialsNameTheCredentialsFile() throws IOException {
        Map<String, Object> configs = TestStore.settings(TestStore.bucket(), dir);
        Path wrong = Files.writeString(dir.resolve("wrong.properties"),
            "aws.access.key.id=nobody\naws.secret.access.key=s3cr3t-XYZ\n");
        configs.put("s3.credentials.file", wrong.toString());
        String message = refusal(configs);
        assertTrue(message.startsWith("rsm.config.s3.credentials.file: " + TestStore.ENDPOINT
            + " refused these credentials"), message);
        assertTrue(!message.contains("s3cr3t-XYZ"), "the secret is not quoted: " + message);
    }

    @Test
    void anEndpointNobodyServesIsNamed() throws IOException {
        Map<String, Object> configs = TestStore.settings("b", dir);
        configs.put("s3.endpoint", "http://127.0.0.1:9");
        assertTrue(refusal(configs).startsWith("rsm.config.s3.endpoint: cannot reach "
            + "http://127.0.0.1:9"));
    }
}
