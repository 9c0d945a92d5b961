package replaybench.rsm;

import java.io.InputStream;

/**
 * Bytes first..last (inclusive) of one object, read lazily one ranged GET at a time. A broker
 * fetch reads about a megabyte from a position and closes the stream: this downloads at most a
 * chunk past what was read, not the rest of the segment. With a cache, chunks are aligned to
 * multiples of the chunk size so that another fetch can reuse them; without one, each GET
 * starts where the reader is.
 */
final class ChunkedStream extends InputStream {
    private final ObjectStore store;
    private final String key;
    private final long last;
    private final int chunkBytes;
    private final ChunkCache cache;   // null: no cache
    private long position;            // the next byte of the object to hand out
    private byte[] chunk = new byte[0];
    private long chunkStart;          // the object offset of chunk[0]

    ChunkedStream(ObjectStore store, String key, long first, long last, int chunkBytes,
                  ChunkCache cache) {
        this.store = store;
        this.key = key;
        this.position = first;
        this.last = last;
        this.chunkBytes = chunkBytes;
        this.cache = cache;
    }

    @Override
    public int read() {
        byte[] one = new byte[1];
        return read(one, 0, 1) == 1 ? one[0] & 0xff : -1;
    }

    @Override
    public int read(byte[] into, int offset, int length) {
        if (length == 0) {
            return 0;
        }
        if (position > last) {
            return -1;
        }
        if (position >= chunkStart + chunk.length) {
            load();
        }
        int from = (int) (position - chunkStart);
        int n = (int) Math.min(Math.min(length, chunk.length - from), last - position + 1);
        System.arraycopy(chunk, from, into, offset, n);
        position += n;
        return n;
    }

    private void load() {
        if (cache == null) {
            chunkStart = position;
            chunk = store.get(key, position, Math.min(last, position + chunkBytes - 1));
            return;
        }
        long index = position / chunkBytes;
        chunkStart = index * chunkBytes;
        // The chunk's end is not clipped to `last`: a cached chunk serves later fetches too.
        chunk = cache.get(key + "#" + index,
            () -> store.get(key, chunkStart, chunkStart + chunkBytes - 1));
    }
}
