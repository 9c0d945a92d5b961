package replaybench.streams;

import java.io.PrintStream;
import java.time.Instant;

/**
 * One JSON object per line on stdout, each stamped with the wall clock in nanoseconds ("t"),
 * the clock replaybench's own roles use. Values are strings or numbers, never nested.
 */
final class Events {
    private final PrintStream out;

    Events(PrintStream out) {
        this.out = out;
    }

    synchronized void emit(String kind, Object... fields) {
        Instant now = Instant.now();
        StringBuilder line = new StringBuilder("{\"e\":\"").append(kind).append("\",\"t\":")
                .append(now.getEpochSecond() * 1_000_000_000L + now.getNano());
        for (int i = 0; i + 1 < fields.length; i += 2) {
            line.append(",\"").append(fields[i]).append("\":");
            Object value = fields[i + 1];
            if (value instanceof Number) {
                line.append(value);
            } else {
                line.append('"').append(escape(String.valueOf(value))).append('"');
            }
        }
        out.println(line.append('}'));
        out.flush();
    }

    private static String escape(String text) {
        StringBuilder escaped = new StringBuilder();
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                escaped.append('\\').append(c);
            } else if (c < 0x20) {
                escaped.append(String.format("\\u%04x", (int) c));
            } else {
                escaped.append(c);
            }
        }
        return escaped.toString();
    }
}
