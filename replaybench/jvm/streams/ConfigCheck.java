package replaybench.streams;

import java.util.Properties;
import java.util.Set;

import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.StreamsConfig;

/**
 * Kafka Streams only logs unknown configs; a benchmark must refuse them, or a misspelt
 * setting silently measures the default. Known: StreamsConfig's own names, the clients'
 * names (Streams passes them on), the prefixes Streams routes to one client, and Streams'
 * internal switches, named __like.this__ (the state updater's among them).
 */
final class ConfigCheck {
    private static final String[] PREFIXES = {StreamsConfig.CONSUMER_PREFIX,
        StreamsConfig.MAIN_CONSUMER_PREFIX, StreamsConfig.RESTORE_CONSUMER_PREFIX,
        StreamsConfig.GLOBAL_CONSUMER_PREFIX, StreamsConfig.PRODUCER_PREFIX,
        StreamsConfig.ADMIN_CLIENT_PREFIX, StreamsConfig.TOPIC_PREFIX};

    private ConfigCheck() {
    }

    /** The first unknown key, or null. */
    static String unknownKey(Properties props) {
        Set<String> streams = StreamsConfig.configDef().names();
        for (String key : props.stringPropertyNames()) {
            String name = key;
            for (String prefix : PREFIXES) {
                if (key.startsWith(prefix)) {
                    name = key.substring(prefix.length());
                    break;
                }
            }
            boolean internal = key.startsWith("__") && key.endsWith("__");
            if (!streams.contains(name) && !isClientConfig(name) && !internal
                    && !key.startsWith(StreamsConfig.TOPIC_PREFIX)) {
                return key;
            }
        }
        return null;
    }

    private static boolean isClientConfig(String name) {
        return ConsumerConfig.configNames().contains(name)
                || ProducerConfig.configNames().contains(name)
                || AdminClientConfig.configNames().contains(name);
    }
}
