package replaybench.streams;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * input (key, replaybench record) -> Aggregate in a persistent RocksDB store, logged to the
 * changelog Kafka Streams creates for it -> output (key, aggregate), one output per update.
 * No record cache, so every update is written to the changelog and forwarded at once.
 */
final class AggregateTopology {
    static final String STORE = "rb-aggregate";

    private AggregateTopology() {
    }

    static Topology build(String input, String output) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE),
                Serdes.ByteArray(), Serdes.ByteArray()).withCachingDisabled());
        builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .process(Apply::new, STORE)
                .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        return builder.build();
    }

    /** Applies one update to the key's aggregate and forwards the new aggregate. */
    static final class Apply implements Processor<byte[], byte[], byte[], byte[]> {
        private ProcessorContext<byte[], byte[]> context;
        private KeyValueStore<byte[], byte[]> store;

        @Override
        public void init(ProcessorContext<byte[], byte[]> context) {
            this.context = context;
            this.store = context.getStateStore(STORE);
        }

        @Override
        public void process(Record<byte[], byte[]> update) {
            byte[] before = store.get(update.key());
            byte[] after = Aggregate.apply(before, update.value());
            if (after != before) {
                store.put(update.key(), after);
                context.forward(update.withValue(after));
            }
        }
    }
}
