package io.statesync.core.snapshot;

import io.statesync.core.chunking.Chunking;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The description of a snapshot: its files, how they were cut into chunks, and free-form
 * metadata (group or thread id, block id, height or log index, state root, ...). The CID of
 * its dag-json encoding ({@link ManifestCodec}) names the snapshot.
 *
 * <p>Version 1 cuts every file into fixed-size chunks (the sizes follow from the chunk size);
 * version 2 cuts by content and lists each chunk's length ({@link FileEntry#lengths()}).
 */
public record Manifest(int version, Chunking chunking, Map<String, String> metadata, List<FileEntry> files) {
    /** Fixed-size chunks. */
    public static final int VERSION = 1;
    /** Content-defined chunks with their lengths listed. */
    public static final int VERSION_CDC = 2;

    public Manifest {
        Objects.requireNonNull(chunking, "chunking");
        metadata = Collections.unmodifiableMap(new TreeMap<>(metadata));
        files = List.copyOf(files);
    }

    /** A version-1 manifest of fixed {@code chunkSize}-byte chunks. */
    public Manifest(int version, int chunkSize, Map<String, String> metadata, List<FileEntry> files) {
        this(version, new Chunking.Fixed(chunkSize), metadata, files);
    }

    /** A manifest in the version its chunking needs. */
    public static Manifest of(Chunking chunking, Map<String, String> metadata, List<FileEntry> files) {
        return new Manifest(versionFor(chunking), chunking, metadata, files);
    }

    /** The manifest version that records {@code chunking}. */
    public static int versionFor(Chunking chunking) {
        return chunking instanceof Chunking.Fixed ? VERSION : VERSION_CDC;
    }

    /** The longest chunk: the fixed size, or the content-defined maximum. */
    public int chunkSize() {
        return chunking.maxChunkSize();
    }

    /** The same snapshot with other metadata. */
    public Manifest withMetadata(Map<String, String> newMetadata) {
        return new Manifest(version, chunking, newMetadata, files);
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

    /** Length of chunk {@code index} of {@code file}. */
    public int chunkLength(FileEntry file, int index) {
        return file.lengths().isEmpty() ? chunkLength(file.size(), chunkSize(), index) : file.lengths().get(index);
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
