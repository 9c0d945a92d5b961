package replaybench.rsm;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Map;

import org.apache.kafka.common.config.ConfigException;

/**
 * The plugin's settings, from the broker's rsm.config.* properties (the broker strips the
 * prefix; messages name the property as the operator wrote it). A wrong value fails at broker
 * start with one line naming the property, never later in a copy or a fetch.
 */
public final class S3Settings {
    static final String PREFIX = "rsm.config.";
    static final long MIN_PART_BYTES = 5L << 20;   // S3's floor for every part but the last
    static final long MAX_PART_BYTES = 1L << 30;   // one part or chunk is held in memory

    final URI endpoint;          // null: the region's AWS endpoint
    final String bucket;
    final String region;
    final boolean pathStyle;
    final String credentialsFile; // null: the SDK's default chain (environment, profile, ...)
    final String keyPrefix;
    final long partBytes;        // a segment larger than this goes up as a multipart upload
    final int chunkBytes;        // the size of one ranged GET when a segment is read
    final long cacheBytes;       // 0: no chunk cache
    // The SDK's default since 2.30 adds a CRC to every upload and checks every download; S3
    // takes it, S3-compatible stores vary (SeaweedFS 4.48 takes it too: the plugin's tests
    // pass either way). Off by default, as the SDK's own announcement advises for those.
    final boolean checksumsAlways;

    private S3Settings(Map<String, ?> configs) {
        String uri = text(configs, "s3.endpoint", null);
        this.endpoint = uri == null ? null : uri(uri);
        this.bucket = text(configs, "s3.bucket", null);
        if (bucket == null) {
            throw new ConfigException(PREFIX + "s3.bucket is required: the bucket the remote "
                + "tier writes to");
        }
        this.region = text(configs, "s3.region", "us-east-1");
        this.pathStyle = Boolean.parseBoolean(text(configs, "s3.path.style", "false"));
        this.credentialsFile = text(configs, "s3.credentials.file", null);
        this.keyPrefix = text(configs, "s3.key.prefix", "");
        this.partBytes = number(configs, "s3.part.size.bytes", 8L << 20, MIN_PART_BYTES,
            MAX_PART_BYTES);
        this.chunkBytes = (int) number(configs, "fetch.chunk.size.bytes", 1L << 20, 1024,
            MAX_PART_BYTES);
        this.cacheBytes = number(configs, "fetch.chunk.cache.size.bytes", 0, 0, Long.MAX_VALUE);
        this.checksumsAlways = choice(configs, "s3.checksums", "when_required", "when_supported")
            .equals("when_supported");
    }

    /** The settings, or a ConfigException naming the property that is wrong. */
    public static S3Settings of(Map<String, ?> configs) {
        return new S3Settings(configs);
    }

    private static String text(Map<String, ?> configs, String name, String otherwise) {
        Object value = configs.get(name);
        String s = value == null ? "" : value.toString().trim();
        return s.isEmpty() ? otherwise : s;
    }

    private static long number(Map<String, ?> configs, String name, long otherwise, long min,
                               long max) {
        String s = text(configs, name, null);
        if (s == null) {
            return otherwise;
        }
        long n;
        try {
            n = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new ConfigException(PREFIX + name + ": expected a whole number of bytes, got '"
                + s + "'");
        }
        if (n < min || n > max) {
            throw new ConfigException(PREFIX + name + ": " + n + " is out of range (" + min
                + ".." + max + ")");
        }
        return n;
    }

    private static String choice(Map<String, ?> configs, String name, String... allowed) {
        String s = text(configs, name, allowed[0]);
        for (String a : allowed) {
            if (a.equals(s)) {
                return s;
            }
        }
        throw new ConfigException(PREFIX + name + ": expected one of "
            + String.join(", ", allowed) + ", got '" + s + "'");
    }

    private static URI uri(String s) {
        try {
            URI u = new URI(s);
            if (u.getScheme() == null || u.getHost() == null) {
                throw new URISyntaxException(s, "no scheme or host");
            }
            return u;
        } catch (URISyntaxException e) {
            throw new ConfigException(PREFIX + "s3.endpoint: not a URL: '" + s + "'");
        }
    }
}
