package io.statesync.node.statesync;

import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.store.ContentStore;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;

/** Snapshots of thread states for loader tests. */
final class Fixtures {
    static final int CHUNK = 16 * 1024;

    private Fixtures() {
    }

    static BlockId block(int n) {
        return BlockId.fromHex(String.format("%064x", n));
    }

    static ThreadId thread(String name) {
        return new ThreadId(name);
    }

    static SortedMap<ThreadId, BlockId> address(Object... threadThenBlock) {
        TreeMap<ThreadId, BlockId> m = new TreeMap<>(Addresses.ORDER);
        for (int i = 0; i < threadThenBlock.length; i += 2) {
            m.put((ThreadId) threadThenBlock[i], (BlockId) threadThenBlock[i + 1]);
        }
        return m;
    }

    /** A state of {@code bytes} random bytes plus its checksum, imported as a snapshot whose metadata names the block. */
    static Cid snapshot(ContentStore store, Path work, ThreadId thread, BlockId block, long height, int bytes, long seed)
            throws Exception {
        Path dir = work.resolve("src-" + thread.name() + "-" + block.hex().substring(56) + "-" + seed);
        Files.createDirectories(dir);
        byte[] data = new byte[bytes];
        new SplittableRandom(seed).nextBytes(data);
        Files.write(dir.resolve("data"), data);
        Files.writeString(dir.resolve("CHECKSUM"), sha256Hex(data) + "\n");
        return SnapshotImporter.importPaths(store, List.of(dir), CHUNK, Map.of("thread", thread.name(),
                "block", block.hex(), "height", Long.toString(height), "stateRoot", sha256Hex(data))).root();
    }

    static String sha256Hex(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
