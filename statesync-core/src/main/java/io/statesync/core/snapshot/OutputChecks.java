package io.statesync.core.snapshot;

import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import io.statesync.core.units.Sizes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** What is checked before a snapshot's files are written: nothing is written if one fails. */
final class OutputChecks {
    private OutputChecks() {
    }

    /**
     * A store inside the output directory is refused: a manifest naming {@code store/ipfs/<cid>}
     * would overwrite the store's blobs with other bytes (the store would then serve them, and
     * fail every later verification).
     */
    static void refuseStoreInside(ContentStore store, Path realOut) throws IOException {
        if (store == null) {
            return;
        }
        Path storeRoot;
        try {
            storeRoot = store.root().toRealPath();
        } catch (NoSuchFileException gone) {
            return;
        }
        if (storeRoot.startsWith(realOut)) {
            throw new IOException("refusing to write into " + realOut + ": the store " + storeRoot
                    + " lies inside it, and the snapshot's files could overwrite its blobs (use another output directory or store)");
        }
    }

    /** Fails, naming the directory, when its file system has less than {@code needed} bytes free. */
    static void requireFreeSpace(Path realOut, long needed) throws IOException {
        if (needed <= 0) {
            return;
        }
        long usable = Files.getFileStore(realOut).getUsableSpace();
        if (needed > usable) {
            throw new IOException("not enough free space in " + realOut + ": writing the snapshot needs "
                    + Sizes.mib(needed) + " more, " + Sizes.mib(usable) + " are free");
        }
    }

    /**
     * Fails when the snapshot's files would be more than {@code maxExpansion} times the bytes of
     * its distinct chunks: a manifest repeating one small chunk a million times costs its sender
     * nothing and us the disk. Snapshots with long runs of equal bytes (zeroed regions) may need
     * a higher bound; 0 means none.
     */
    static void boundExpansion(Manifest m, int maxExpansion) throws IOException {
        if (maxExpansion <= 0) {
            return;
        }
        Map<Cid, Integer> distinct = new HashMap<>();
        for (FileEntry f : m.files()) {
            for (int i = 0; i < f.chunks().size(); i++) {
                distinct.putIfAbsent(f.chunks().get(i), m.chunkLength(f, i));
            }
        }
        long distinctBytes = 0;
        for (int len : distinct.values()) {
            distinctBytes += len;
        }
        long total = m.totalBytes();
        if (total > (double) Math.max(1, distinctBytes) * maxExpansion) {
            throw new IOException(String.format(java.util.Locale.ROOT,
                    "refusing to write the snapshot: its files are %s from %s of distinct chunks, %.0f times as much"
                            + " (the bound is %d times; raise it if the snapshot really repeats that much)",
                    size(total), size(distinctBytes), total / (double) Math.max(1, distinctBytes), maxExpansion));
        }
    }

    private static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " bytes";
        }
        return bytes < 1 << 20 ? String.format(java.util.Locale.ROOT, "%.1f KiB", bytes / 1024.0) : Sizes.mib(bytes);
    }
}
