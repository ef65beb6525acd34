package io.statesync.core.snapshot;

import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Remembers what the previous import made of each file, by the file's identity (device and
 * inode, size, modification time), so that a file imported again unchanged, under any name or
 * through a hard link, is not read, cut and hashed again: its entry is reused as long as every
 * one of its chunks is still in the store. Meant for a writer that imports one save after
 * another (a group's snapshots, where a layered save hard-links the state file of an earlier
 * one). Only the last import's files are remembered. Files rewritten in place within the file
 * system's timestamp resolution, keeping their size, would be taken for unchanged: the writers
 * using this write new files (a temp file renamed) and never rewrite one.
 */
public final class ImportCache {
    record Identity(Object fileKey, long size, long modifiedNanos) {}

    private record Known(Chunking chunking, FileEntry entry) {}

    private Map<Identity, Known> previous = Map.of();
    private final Map<Identity, Known> current = new HashMap<>();
    private long reused;

    /** Files whose entry was reused instead of being imported again, since this cache was made. */
    public synchronized long reused() {
        return reused;
    }

    /** The entry of an unchanged file the previous import cut the same way, if all its chunks are still stored. */
    synchronized FileEntry reuse(ContentStore store, Path file, String relative, Chunking chunking, int mode)
            throws IOException {
        Identity id = identity(file);
        Known known = id == null ? null : previous.get(id);
        if (known == null || !known.chunking().equals(chunking)) {
            return null;
        }
        for (Cid chunk : known.entry().chunks()) {
            if (!store.has(chunk)) {
                return null;
            }
        }
        FileEntry e = known.entry();
        FileEntry entry = new FileEntry(relative, e.size(), mode, e.chunks(), e.lengths());
        current.put(id, new Known(chunking, entry));
        reused++;
        return entry;
    }

    /** Records what {@code file}, whose identity was taken before it was read, was cut into. */
    synchronized void remember(Identity before, Path file, Chunking chunking, FileEntry entry) throws IOException {
        if (before != null && before.equals(identity(file))) {
            current.put(before, new Known(chunking, entry));
        }
    }

    /** Ends an import: its files become the ones remembered. */
    synchronized void importEnded() {
        previous = Map.copyOf(current);
        current.clear();
    }

    /** The file's identity now, or null where the file system has no file keys. */
    static Identity identity(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        return a.fileKey() == null ? null
                : new Identity(a.fileKey(), a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS));
    }
}
