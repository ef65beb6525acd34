package io.statesync.core.chunking;

import java.io.IOException;
import java.io.InputStream;

/** Cuts a stream into chunks by a {@link Chunking}, reading it once through a bounded buffer. */
public final class Chunker {
    /** Receives each chunk; the bytes are valid only during the call. */
    @FunctionalInterface
    public interface ChunkConsumer {
        void accept(byte[] buf, int off, int len) throws IOException;
    }

    private Chunker() {
    }

    /**
     * Reads {@code in} to its end and hands every chunk to {@code consumer} in order; returns the
     * number of bytes read. Memory is two maximum chunks, whatever the stream's length.
     */
    public static long cut(Chunking chunking, InputStream in, ChunkConsumer consumer) throws IOException {
        int max = chunking.maxChunkSize();
        FastCdc cdc = chunking instanceof Chunking.ContentDefined c ? new FastCdc(c) : null;
        byte[] buf = new byte[2 * max];
        int start = 0;
        int end = 0;
        boolean eof = false;
        long total = 0;
        while (true) {
            if (!eof && end - start < max) {
                // Move the tail down and refill, so a whole maximum chunk is in view before cutting.
                System.arraycopy(buf, start, buf, 0, end - start);
                end -= start;
                start = 0;
                int n = in.readNBytes(buf, end, buf.length - end);
                end += n;
                total += n;
                eof = end < buf.length;
            }
            int available = end - start;
            if (available == 0) {
                return total;
            }
            int len = cdc != null ? cdc.cut(buf, start, available) : Math.min(max, available);
            consumer.accept(buf, start, len);
            start += len;
        }
    }
}
