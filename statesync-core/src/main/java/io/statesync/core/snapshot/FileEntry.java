package io.statesync.core.snapshot;

import io.statesync.core.cid.Cid;
import java.util.List;
import java.util.Objects;

/**
 * One file of a snapshot: a relative path with '/' separators, its size, its POSIX permission
 * bits (e.g. 0644), the CIDs of its chunks in order and, for content-defined chunking
 * (manifest version 2), each chunk's length. Fixed-size files leave {@code lengths} empty: the
 * lengths follow from the manifest's chunk size.
 */
public record FileEntry(String path, long size, int mode, List<Cid> chunks, List<Integer> lengths) {
    public FileEntry {
        Objects.requireNonNull(path, "path");
        chunks = List.copyOf(chunks);
        lengths = List.copyOf(lengths);
    }

    /** A file of fixed-size chunks. */
    public FileEntry(String path, long size, int mode, List<Cid> chunks) {
        this(path, size, mode, chunks, List.of());
    }

    /** The same file under another path. */
    public FileEntry withPath(String newPath) {
        return new FileEntry(newPath, size, mode, chunks, lengths);
    }
}
