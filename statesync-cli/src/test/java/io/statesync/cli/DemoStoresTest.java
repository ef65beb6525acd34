package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's fixtures: generated input, linked and copied stores, and a corrupted copy. */
class DemoStoresTest {
    @TempDir
    Path tmp;

    @Test
    void theGeneratedSnapshotHasExactlyTheRequestedSize() throws Exception {
        long size = 3 * (1 << 20) + 12345;

        List<DemoSnapshot.Planned> files = DemoSnapshot.generate(tmp.resolve("in"), size, 7);

        long sum = 0;
        for (DemoSnapshot.Planned f : files) {
            assertEquals(f.size(), Files.size(tmp.resolve("in").resolve(f.path())), f.path());
            sum += f.size();
        }
        assertEquals(size, sum);
        assertEquals(size, DemoSnapshot.plan(size).stream().mapToLong(DemoSnapshot.Planned::size).sum());
        assertEquals(1024, DemoSnapshot.plan(1024).stream().mapToLong(DemoSnapshot.Planned::size).sum());
    }

    @Test
    void aTenthOfTheCopysChunksAreCorruptedAndTheOriginalsAreNot() throws Exception {
        Path a = tmp.resolve("a");
        SnapshotRef ref = share(a, 40);
        Path b = tmp.resolve("b");
        Path c = tmp.resolve("c");
        DemoStores.link(a, b);
        DemoStores.copy(a, c);

        List<Cid> corrupted = DemoStores.corrupt(c, a, 0.10, 1);

        assertEquals(4, corrupted.size());
        ContentStore storeA = ContentStore.open(a);
        for (Cid cid : storeA.list()) {
            byte[] original = storeA.readAll(cid);
            assertTrue(cid.matches(Cid.newDigest().digest(original)), "A is intact: " + cid);
            assertArrayEquals(original, Files.readAllBytes(b.resolve("ipfs").resolve(cid.toString())), "B is intact");
            byte[] copy = Files.readAllBytes(c.resolve("ipfs").resolve(cid.toString()));
            assertEquals(original.length, copy.length, "same length");
            assertEquals(!corrupted.contains(cid), cid.matches(Cid.newDigest().digest(copy)), cid.toString());
        }
        assertFalse(corrupted.contains(ref.root()), "the manifest stays readable");
        assertTrue(corrupted.stream().allMatch(cid -> cid.codec() == Codec.RAW));
    }

    @Test
    void aHardLinkedStoreIsNeverCorrupted() throws Exception {
        Path a = tmp.resolve("a");
        share(a, 5);
        Path b = tmp.resolve("b");
        DemoStores.link(a, b);

        assertThrows(IOException.class, () -> DemoStores.corrupt(b, a, 0.5, 1));
    }

    private SnapshotRef share(Path store, int chunks) throws Exception {
        Path in = tmp.resolve("in-" + store.getFileName());
        DemoSnapshot.generate(in, chunks * 4096L - 100, 3);
        return SnapshotImporter.importPaths(ContentStore.open(store), List.of(in), 4096, Map.of());
    }
}
