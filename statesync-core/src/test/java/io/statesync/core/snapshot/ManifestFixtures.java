package io.statesync.core.snapshot;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Small hand-made manifests for codec and validator tests; chunk CIDs are fake but well formed. */
final class ManifestFixtures {
    static final int CHUNK = 4096;

    private ManifestFixtures() {
    }

    /** A file of {@code size} bytes with exactly the chunk count {@link #CHUNK} calls for. */
    static FileEntry file(String path, long size) {
        return file(path, size, 0644, (int) Manifest.chunksFor(size, CHUNK));
    }

    /** A file with an arbitrary chunk count, to build inconsistent entries. */
    static FileEntry file(String path, long size, int mode, int chunks) {
        List<Cid> cids = new ArrayList<>(chunks);
        for (int i = 0; i < chunks; i++) {
            cids.add(chunk(path + "#" + i));
        }
        return new FileEntry(path, size, mode, cids);
    }

    static Cid chunk(String seed) {
        return Cid.compute(Codec.RAW, seed.getBytes(StandardCharsets.UTF_8));
    }

    static Manifest manifest(FileEntry... files) {
        return new Manifest(Manifest.VERSION, CHUNK, Map.of("height", "7"), List.of(files));
    }

    static Manifest manifest(int chunkSize, FileEntry... files) {
        return new Manifest(Manifest.VERSION, chunkSize, Map.of(), List.of(files));
    }
}
