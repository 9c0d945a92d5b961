package replaybench.streams;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The instance's active store partitions, written as fixed rows: an 8-byte key, then the
 * 24-byte aggregate, so the harness reads them with one numpy call.
 */
final class StoreDump {
    private StoreDump() {
    }

    static long write(KafkaStreams streams, Path path) throws IOException {
        ReadOnlyKeyValueStore<byte[], byte[]> store = streams.store(StoreQueryParameters
                .fromNameAndType(AggregateTopology.STORE, QueryableStoreTypes.keyValueStore()));
        Path partial = path.resolveSibling(path.getFileName() + ".partial");
        long rows = 0;
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(
                Files.newOutputStream(partial)));
             KeyValueIterator<byte[], byte[]> all = store.all()) {
            while (all.hasNext()) {
                KeyValue<byte[], byte[]> entry = all.next();
                if (entry.key.length == 8 && entry.value.length == Aggregate.BYTES) {
                    out.write(entry.key);
                    out.write(entry.value);
                    rows++;
                }
            }
        }
        Files.move(partial, path);
        return rows;
    }
}
