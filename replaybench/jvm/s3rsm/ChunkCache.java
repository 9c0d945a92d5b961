package replaybench.rsm;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Segment chunks kept in memory, least recently used out first, up to a byte budget. Several
 * fetches of one segment (readers of one partition, a fetch retried) then read it once.
 */
final class ChunkCache {
    private final long capacityBytes;
    private final LinkedHashMap<String, byte[]> chunks = new LinkedHashMap<>(16, 0.75f, true);
    private long sizeBytes;
    private long hits;
    private long misses;

    ChunkCache(long capacityBytes) {
        this.capacityBytes = capacityBytes;
    }

    /** The chunk under key, loading it on a miss. Loads run outside the lock. */
    byte[] get(String key, Supplier<byte[]> load) {
        synchronized (this) {
            byte[] chunk = chunks.get(key);
            if (chunk != null) {
                hits++;
                return chunk;
            }
            misses++;
        }
        byte[] chunk = load.get();
        synchronized (this) {
            if (chunks.put(key, chunk) == null) {
                sizeBytes += chunk.length;
            }
            evict();
        }
        return chunk;
    }

    private void evict() {
        var it = chunks.entrySet().iterator();
        while (sizeBytes > capacityBytes && it.hasNext()) {
            Map.Entry<String, byte[]> eldest = it.next();
            sizeBytes -= eldest.getValue().length;
            it.remove();
        }
    }

    synchronized long hits() {
        return hits;
    }

    synchronized long misses() {
        return misses;
    }
}
