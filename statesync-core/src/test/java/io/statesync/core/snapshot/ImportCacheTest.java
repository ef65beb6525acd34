package io.statesync.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saves that hard-link an earlier save's file reuse its chunks without reading it; anything else is imported afresh. */
class ImportCacheTest {
    private static final Chunking CHUNKING = Chunking.ContentDefined.ofAverage(16 << 10);

    @TempDir
    Path tmp;

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    /** A save directory holding {@code state.bin} as a hard link to {@code base}, and a small new file. */
    private Path saveLinking(String name, Path base, byte[] extra) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Files.createLink(dir.resolve("state.bin"), base);
        Files.write(dir.resolve("overlay.bin"), extra);
        return dir;
    }

    private static FileEntry entry(SnapshotRef ref, String path) {
        return ref.manifest().files().stream().filter(f -> f.path().equals(path)).findFirst().orElseThrow();
    }

    @Test
    void aHardLinkedUnchangedFileIsTakenFromThePreviousImport() throws Exception {
        ContentStore store = ContentStore.open(tmp.resolve("store"));
        ImportCache cache = new ImportCache();
        Path first = Files.createDirectories(tmp.resolve("save-1"));
        Files.write(first.resolve("state.bin"), random(400_000, 1));
        SnapshotRef one = SnapshotImporter.importPaths(store, List.of(first), CHUNKING, Map.of(), cache);
        assertEquals(0, cache.reused());

        Path second = saveLinking("save-2", first.resolve("state.bin"), random(5000, 2));
        SnapshotRef two = SnapshotImporter.importPaths(store, List.of(second), CHUNKING, Map.of(), cache);

        assertEquals(1, cache.reused(), "state.bin was not cut again");
        assertEquals(entry(one, "state.bin"), entry(two, "state.bin"));
        // The reused entry is exactly what a fresh import of the same bytes gives.
        SnapshotRef fresh = SnapshotImporter.importPaths(ContentStore.open(tmp.resolve("other-store")), List.of(second),
                CHUNKING, Map.of());
        assertEquals(fresh.root(), two.root());

        // Remembered through one more save too (the entry carries over while it keeps being used).
        Path third = saveLinking("save-3", first.resolve("state.bin"), random(6000, 3));
        SnapshotImporter.importPaths(store, List.of(third), CHUNKING, Map.of(), cache);
        assertEquals(2, cache.reused());
    }

    @Test
    void aChangedFileAnotherChunkingOrAMissingChunkIsImportedAfresh() throws Exception {
        ContentStore store = ContentStore.open(tmp.resolve("store"));
        ImportCache cache = new ImportCache();
        Path first = Files.createDirectories(tmp.resolve("save-1"));
        Path state = first.resolve("state.bin");
        Files.write(state, random(300_000, 1));
        SnapshotRef one = SnapshotImporter.importPaths(store, List.of(first), CHUNKING, Map.of(), cache);

        // Same size, other bytes, another modification time: not the same file any more.
        Files.write(state, random(300_000, 9));
        Files.setLastModifiedTime(state, FileTime.fromMillis(Files.getLastModifiedTime(state).toMillis() + 5000));
        SnapshotRef changed = SnapshotImporter.importPaths(store, List.of(first), CHUNKING, Map.of(), cache);
        assertEquals(0, cache.reused());
        assertNotEquals(entry(one, "state.bin"), entry(changed, "state.bin"));

        // Another chunking: cut again.
        SnapshotImporter.importPaths(store, List.of(first), Chunking.ContentDefined.ofAverage(64 << 10), Map.of(), cache);
        assertEquals(0, cache.reused());

        // A chunk gone from the store: cut again, and the chunk is back.
        SnapshotRef again = SnapshotImporter.importPaths(store, List.of(first), CHUNKING, Map.of(), cache);
        assertEquals(0, cache.reused(), "the previous import used another chunking");
        Cid gone = entry(again, "state.bin").chunks().get(1);
        store.delete(gone);
        SnapshotRef restored = SnapshotImporter.importPaths(store, List.of(first), CHUNKING, Map.of(), cache);
        assertEquals(0, cache.reused());
        assertTrue(store.has(gone));
        assertEquals(again.root(), restored.root());
        SnapshotImporter.importPaths(store, List.of(first), CHUNKING, Map.of(), cache);
        assertEquals(1, cache.reused(), "with every chunk stored, the same file is reused");
    }
}
