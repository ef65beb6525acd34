package io.statesync.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.ContentStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestBlocksTest {
    @TempDir
    Path tmp;

    /** One file of {@code refs} references to the same 64-byte chunk: a large manifest over one blob. */
    static Manifest bigManifest(Cid chunk, int refs) {
        return new Manifest(Manifest.VERSION, 64, Map.of("kind", "big"),
                List.of(new FileEntry("big.bin", 64L * refs, 0644, Collections.nCopies(refs, chunk))));
    }

    @Test
    void aSmallManifestIsItsOwnRootBlock() {
        Manifest m = bigManifest(Cid.compute(Codec.RAW, new byte[64]), 10);
        ManifestBlocks.Encoded e = ManifestBlocks.encode(m);
        assertArrayEquals(ManifestCodec.encode(m), e.root());
        assertEquals(List.of(), e.parts());
    }

    @Test
    void aManifestOverOneMebibyteBecomesPartsOfAtMostOneMebibyteUnderASmallRoot() throws Exception {
        ContentStore store = ContentStore.open(tmp.resolve("store"));
        Cid chunk = store.put(Codec.RAW, new byte[64]);
        Manifest m = bigManifest(chunk, 40_000);
        int whole = ManifestCodec.encode(m).length;
        assertTrue(whole > 2 * ManifestBlocks.MAX_BLOCK, "test manifest is " + whole + " bytes");

        SnapshotRef ref = SnapshotImporter.storeManifest(store, m);

        byte[] root = store.readAll(ref.root());
        assertTrue(root.length < 4096, "root of " + root.length + " bytes");
        var split = assertInstanceOf(ManifestBlocks.Split.class, ManifestBlocks.decodeRoot(root, ManifestLimits.DEFAULT));
        assertEquals(whole, split.size());
        assertEquals((whole + ManifestBlocks.MAX_BLOCK - 1) / ManifestBlocks.MAX_BLOCK, split.parts().size());
        for (Cid part : split.parts()) {
            assertTrue(store.size(part) <= ManifestBlocks.MAX_BLOCK);
        }
        assertEquals(m, SnapshotImporter.loadManifest(store, ref.root(), ManifestLimits.DEFAULT));
    }

    @Test
    void aPartCorruptedInTheStoreIsRefusedWithItsCid() throws Exception {
        ContentStore store = ContentStore.open(tmp.resolve("store"));
        Cid chunk = store.put(Codec.RAW, new byte[64]);
        SnapshotRef ref = SnapshotImporter.storeManifest(store, bigManifest(chunk, 20_000));
        var split = (ManifestBlocks.Split) ManifestBlocks.decodeRoot(store.readAll(ref.root()), ManifestLimits.DEFAULT);
        Path part = store.pathOf(split.parts().get(0));
        byte[] b = Files.readAllBytes(part);
        b[10] ^= 1;
        Files.write(part, b);

        var e = assertThrows(java.io.IOException.class,
                () -> SnapshotImporter.loadManifest(store, ref.root(), ManifestLimits.DEFAULT));
        assertTrue(e.getMessage().contains(split.parts().get(0).toString()), e.getMessage());
    }

    @Test
    void aBadPartsListIsRejectedWithTheReason() {
        String link = "{\"/\":\"" + Cid.compute(Codec.RAW, new byte[1]) + "\"}";
        assertRejected("{\"parts\":[" + link + "],\"size\":3000000,\"type\":\"statesync-manifest-parts\"}",
                "a manifest of 3000000 bytes has 3 parts of 1 MiB, the list names 1");
        assertRejected("{\"parts\":[" + link + "],\"size\":10,\"type\":\"other\"}", "manifest parts list needs parts, size and type");
        assertRejected("{\"parts\":[{\"/\":\"" + Cid.compute(Codec.DAG_JSON, new byte[1]) + "\"}],\"size\":10,"
                + "\"type\":\"statesync-manifest-parts\"}", "manifest parts[0] must be a raw block");
        assertRejected("{\"parts\":[" + link + "],\"size\":" + (1L << 40) + ",\"type\":\"statesync-manifest-parts\"}",
                "manifest is 1099511627776 bytes, over the limit");
        assertRejected("{\"parts\":[" + link + "],\"extra\":1}", "manifest parts list has unknown field \"extra\"");
    }

    private static void assertRejected(String json, String start) {
        var e = assertThrows(ManifestException.class,
                () -> ManifestBlocks.decodeRoot(json.getBytes(StandardCharsets.UTF_8), ManifestLimits.DEFAULT));
        assertTrue(e.getMessage().startsWith(start), e.getMessage());
    }
}
