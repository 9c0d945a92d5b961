package replaybench.streams;

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;

import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

/**
 * The Kafka Streams application replaybench restores: started by a Ray actor, one JVM per
 * instance. Arguments: a properties file (StreamsConfig, plus replaybench.input and
 * replaybench.output). Commands on stdin, one per line: "dump PATH" writes the instance's
 * store; end of input (the actor gone) closes the application, so no JVM outlives its run.
 */
public final class App {
    private App() {
    }

    private static final Duration CLEAN_CLOSE = Duration.ofSeconds(30);

    public static void main(String[] args) throws IOException {
        Events events = new Events(System.out);
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        String input = (String) props.remove("replaybench.input");
        String output = (String) props.remove("replaybench.output");
        String unknown = ConfigCheck.unknownKey(props);
        if (unknown != null) {
            events.emit("error", "message", "unknown Kafka Streams config: " + unknown);
            System.exit(2);
        }
        KafkaStreams streams = new KafkaStreams(AggregateTopology.build(input, output), props);
        streams.setStateListener((now, before) ->
                events.emit("state", "new", now.name(), "old", before.name()));
        streams.setGlobalStateRestoreListener(new RestoreEvents(events));
        streams.setUncaughtExceptionHandler(error -> {
            events.emit("error", "message", rootMessage(error));
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();
        Duration timeout = serve(streams, events);
        boolean clean = streams.close(timeout);
        events.emit("closed", "clean", clean ? 1 : 0);
        // Exit even when the close timed out: a stream thread stuck in a rebalance it cannot
        // finish (a member gone to ERROR) is not a daemon, and would keep the JVM up.
        System.exit(0);
    }

    /**
     * Commands until "close [SECONDS]" or the end of stdin; returns how long the close may
     * take (a clean stop: 30 s, to commit and flush the stores).
     */
    private static Duration serve(KafkaStreams streams, Events events) throws IOException {
        BufferedReader commands = new BufferedReader(
                new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = commands.readLine()) != null) {
            if (line.startsWith("dump ")) {
                Path path = Path.of(line.substring(5).trim());
                try {
                    long keys = StoreDump.write(streams, path);
                    events.emit("dumped", "path", path.toString(), "keys", keys);
                } catch (RuntimeException | IOException error) {
                    events.emit("dump_failed", "message", rootMessage(error));
                }
            } else if (line.startsWith("close")) {
                String seconds = line.substring(5).trim();
                return seconds.isEmpty() ? CLEAN_CLOSE : Duration.ofSeconds(Long.parseLong(seconds));
            }
        }
        return CLEAN_CLOSE;
    }

    private static String rootMessage(Throwable error) {
        Throwable root = error;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + ": " + root.getMessage();
    }
}
