package io.statesync.cli;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.core.cid.Codec;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The demo's three sources: copies of one store directory, one of them corrupted. Works on the
 * store layout ({@code <store>/ipfs/<cid>}) directly, because corrupting a store is exactly
 * what {@code ContentStore} exists to prevent.
 */
final class DemoStores {
    private DemoStores() {
    }

    /**
     * Makes {@code to} a store with the same blobs as {@code from}, hard-linked (cheap, and
     * fine for a source that stays honest), or copied where the file system cannot link.
     */
    static void link(Path from, Path to) throws IOException {
        Path target = Files.createDirectories(to.resolve("ipfs"));
        boolean canLink = true;
        for (Path blob : blobs(from)) {
            Path dst = target.resolve(blob.getFileName().toString());
            if (canLink) {
                try {
                    Files.createLink(dst, blob);
                    continue;
                } catch (UnsupportedOperationException | FileSystemException e) {
                    // Another file system, or links not allowed: copies serve the same bytes.
                    canLink = false;
                }
            }
            Files.copy(blob, dst);
        }
    }

    /** Makes {@code to} a store with real copies of the blobs of {@code from}: safe to corrupt. */
    static void copy(Path from, Path to) throws IOException {
        Path target = Files.createDirectories(to.resolve("ipfs"));
        for (Path blob : blobs(from)) {
            Files.copy(blob, target.resolve(blob.getFileName().toString()));
        }
    }

    /**
     * Overwrites a {@code fraction} (at least one) of the chunk blobs of {@code store} with other
     * bytes of the same length, so only hashing can tell. The manifest is left intact: the demo
     * shows corruption caught chunk by chunk. Refuses a blob that is the same file as the
     * original's, which would corrupt the original too.
     *
     * @return the CIDs whose blobs now hold wrong bytes
     */
    static List<Cid> corrupt(Path store, Path original, double fraction, long seed) throws IOException {
        List<Path> chunks = new ArrayList<>();
        for (Path blob : blobs(store)) {
            Cid cid = cidOf(blob);
            if (cid != null && cid.codec() == Codec.RAW) {
                chunks.add(blob);
            }
        }
        Collections.shuffle(chunks, new Random(seed));
        int count = (int) Math.min(chunks.size(), Math.max(1, Math.round(chunks.size() * fraction)));
        List<Cid> corrupted = new ArrayList<>(count);
        for (Path blob : chunks.subList(0, count)) {
            Path originalBlob = original.resolve("ipfs").resolve(blob.getFileName().toString());
            if (Files.exists(originalBlob) && Files.isSameFile(blob, originalBlob)) {
                throw new IOException("refusing to corrupt " + blob + ": it is the same file as " + originalBlob);
            }
            byte[] bytes = Files.readAllBytes(blob);
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) ~bytes[i];
            }
            Files.write(blob, bytes);
            corrupted.add(cidOf(blob));
        }
        return corrupted;
    }

    private static List<Path> blobs(Path store) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(store.resolve("ipfs"))) {
            for (Path p : ds) {
                if (Files.isRegularFile(p)) {
                    out.add(p);
                }
            }
        }
        out.sort(null);
        return out;
    }

    private static Cid cidOf(Path blob) {
        try {
            return Cid.parse(blob.getFileName().toString());
        } catch (CidFormatException notABlob) {
            // Not a blob name (a web server's own file, say): not ours to touch.
            return null;
        }
    }
}
