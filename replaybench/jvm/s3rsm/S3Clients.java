package replaybench.rsm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

import org.apache.kafka.common.config.ConfigException;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.S3Exception;

/** An S3 client built from the settings, and checked against the bucket before use. */
final class S3Clients {
    private S3Clients() {
    }

    static S3Client open(S3Settings settings) {
        S3ClientBuilder builder = S3Client.builder()
            .region(Region.of(settings.region))
            .forcePathStyle(settings.pathStyle)
            .requestChecksumCalculation(settings.checksumsAlways
                ? RequestChecksumCalculation.WHEN_SUPPORTED
                : RequestChecksumCalculation.WHEN_REQUIRED)
            .responseChecksumValidation(settings.checksumsAlways
                ? ResponseChecksumValidation.WHEN_SUPPORTED
                : ResponseChecksumValidation.WHEN_REQUIRED)
            .credentialsProvider(credentials(settings))
            // The SDK finds several HTTP clients on this class path; name the one it uses.
            .httpClientBuilder(Apache5HttpClient.builder().maxConnections(64));
        if (settings.endpoint != null) {
            builder.endpointOverride(settings.endpoint);
        }
        return builder.build();
    }

    /** One line naming the property at fault when the bucket cannot be used. */
    static void check(S3Client s3, S3Settings settings) {
        try {
            s3.headBucket(b -> b.bucket(settings.bucket));
        } catch (S3Exception e) {
            int status = e.statusCode();
            if (status == 404) {
                throw new ConfigException(S3Settings.PREFIX + "s3.bucket: no bucket '"
                    + settings.bucket + "' at " + where(settings));
            }
            if (status == 403 || status == 401) {
                throw new ConfigException(S3Settings.PREFIX + credentialsProperty(settings)
                    + ": " + where(settings) + " refused these credentials for bucket '"
                    + settings.bucket + "' (HTTP " + status + ")");
            }
            throw new ConfigException(S3Settings.PREFIX + "s3.bucket: " + where(settings)
                + " answered HTTP " + status + " for bucket '" + settings.bucket + "'");
        } catch (SdkClientException e) {
            throw new ConfigException(S3Settings.PREFIX + "s3.endpoint: cannot reach "
                + where(settings) + ": " + e.getMessage());
        }
    }

    private static String where(S3Settings settings) {
        return settings.endpoint != null ? settings.endpoint.toString()
            : "S3 in " + settings.region;
    }

    private static String credentialsProperty(S3Settings settings) {
        return settings.credentialsFile != null ? "s3.credentials.file"
            : "s3.credentials.file (unset: the environment's AWS credentials)";
    }

    private static AwsCredentialsProvider credentials(S3Settings settings) {
        if (settings.credentialsFile == null) {
            return DefaultCredentialsProvider.builder().build();
        }
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(settings.credentialsFile))) {
            p.load(in);
        } catch (IOException e) {
            throw new ConfigException(S3Settings.PREFIX + "s3.credentials.file: cannot read "
                + settings.credentialsFile + " (" + e.getClass().getSimpleName() + ")");
        }
        String id = p.getProperty("aws.access.key.id");
        String secret = p.getProperty("aws.secret.access.key");
        if (id == null || secret == null) {
            throw new ConfigException(S3Settings.PREFIX + "s3.credentials.file: "
                + settings.credentialsFile
                + " needs aws.access.key.id and aws.secret.access.key");
        }
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(id, secret));
    }
}
