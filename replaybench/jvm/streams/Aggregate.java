package replaybench.streams;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The state per key: the version of the last update applied, how many updates were applied,
 * and the intended send time (ns) of the last one. Version and count together let the harness
 * tell a lost update (count short) from a double-applied one (count over).
 *
 * Input values are replaybench records (format/records.py): version at byte 16 and intended
 * send time at byte 24, little-endian. The aggregate is 24 bytes, little-endian, in that order:
 * version, count, intended.
 */
final class Aggregate {
    static final int BYTES = 24;
    private static final int INPUT_HEADER = 48;

    private Aggregate() {
    }

    /** The aggregate after one more input record; null input (not an update) changes nothing. */
    static byte[] apply(byte[] current, byte[] input) {
        if (input == null || input.length < INPUT_HEADER) {
            return current;
        }
        ByteBuffer in = ByteBuffer.wrap(input).order(ByteOrder.LITTLE_ENDIAN);
        long count = current == null ? 0 : ByteBuffer.wrap(current).order(ByteOrder.LITTLE_ENDIAN)
                .getLong(8);
        return ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(in.getLong(16)).putLong(count + 1).putLong(in.getLong(24)).array();
    }
}
