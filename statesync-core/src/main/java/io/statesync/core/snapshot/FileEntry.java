package io.statesync.core.snapshot;

import io.statesync.core.cid.Cid;
import java.util.List;
import java.util.Objects;

/**
 * One file of a snapshot: a relative path with '/' separators, its size, its POSIX permission
 * bits (e.g. 0644) and the CIDs of its fixed-size chunks in order.
 */
public record FileEntry(String path, long size, int mode, List<Cid> chunks) {
    public FileEntry {
        Objects.requireNonNull(path, "path");
        chunks = List.copyOf(chunks);
    }
}
