package io.statesync.core.snapshot;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The description of a snapshot: its files, the chunk size they were cut with, and free-form
 * metadata (group or thread id, block id, height or log index, state root, ...). The CID of
 * its dag-json encoding ({@link ManifestCodec}) names the snapshot.
 */
public record Manifest(int version, int chunkSize, Map<String, String> metadata, List<FileEntry> files) {
    /** The only manifest format version this code reads and writes. */
    public static final int VERSION = 1;

    public Manifest {
        metadata = Collections.unmodifiableMap(new TreeMap<>(metadata));
        files = List.copyOf(files);
    }

    /** Sum of all file sizes. */
    public long totalBytes() {
        long sum = 0;
        for (FileEntry f : files) {
            sum += f.size();
        }
        return sum;
    }

    /** Number of chunk references (a chunk used twice counts twice). */
    public long chunkCount() {
        long sum = 0;
        for (FileEntry f : files) {
            sum += f.chunks().size();
        }
        return sum;
    }

    /** Size of chunk {@code index} of a file of {@code fileSize} bytes cut at {@code chunkSize}. */
    public static int chunkLength(long fileSize, int chunkSize, int index) {
        long start = (long) index * chunkSize;
        return (int) Math.min(chunkSize, fileSize - start);
    }

    /** Number of chunks a file of {@code size} bytes has. */
    public static long chunksFor(long size, int chunkSize) {
        // Not (size + chunkSize - 1) / chunkSize: that wraps negative for sizes near Long.MAX_VALUE.
        return size / chunkSize + (size % chunkSize == 0 ? 0 : 1);
    }
}
