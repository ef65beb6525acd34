package io.statesync.core.chunking;

/**
 * How a file is cut into chunks; a manifest records it so a reader can check the cuts and so a
 * node holding an older version can cut its copy the same way to find what it already has.
 */
public sealed interface Chunking {
    /** 1 MiB: the largest block an IPFS node accepts, so every chunk stays a valid raw block. */
    int MAX_CHUNK_SIZE = 1 << 20;

    /** The longest chunk this chunking produces. */
    int maxChunkSize();

    /** Every chunk {@code size} bytes, the last one shorter: manifest version 1. */
    record Fixed(int size) implements Chunking {
        public Fixed {
            if (size < 1 || size > MAX_CHUNK_SIZE) {
                throw new IllegalArgumentException("chunk size " + size + " is outside [1, " + MAX_CHUNK_SIZE + "]");
            }
        }

        @Override
        public int maxChunkSize() {
            return size;
        }
    }

    /**
     * Content-defined cuts (FastCDC with normalized chunking, see {@link FastCdc}): a cut falls
     * where the bytes say, so an insertion moves only the cuts next to it and the chunks after
     * it keep their CIDs. Manifest version 2.
     *
     * @param min no cut before this many bytes
     * @param avg the target size; a power of two
     * @param max a chunk is cut here if the content has not cut it earlier
     */
    record ContentDefined(int min, int avg, int max) implements Chunking {
        public ContentDefined {
            if (avg < 256 || Integer.bitCount(avg) != 1) {
                throw new IllegalArgumentException("average chunk size " + avg + " must be a power of two of at least 256");
            }
            if (min < 64 || min >= avg || max <= avg || max > MAX_CHUNK_SIZE) {
                throw new IllegalArgumentException("chunk sizes must satisfy 64 <= min < avg < max <= " + MAX_CHUNK_SIZE
                        + ", got min " + min + ", avg " + avg + ", max " + max);
            }
        }

        /** The usual proportions: min a quarter of the average, max four times it (capped at 1 MiB). */
        public static ContentDefined ofAverage(int avg) {
            return new ContentDefined(avg / 4, avg, Math.min(MAX_CHUNK_SIZE, avg * 4));
        }

        @Override
        public int maxChunkSize() {
            return max;
        }
    }

    /**
     * The default for new shares: content-defined around 64 KiB, chosen by the chunk-size sweep of
     * {@code ./bench delta} (see ARCHITECTURE.md): small enough that a scattered 1 % change costs a
     * few % of the state, large enough to keep the fetch near its 1 MiB speed.
     */
    Chunking DEFAULT = ContentDefined.ofAverage(64 << 10);
}
