package io.statesync.node.statesync;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.UUID;

/**
 * Pointer files: {@code <storeDir>/blocks/<thread>/<blockIdHex>} holds the manifest CID of that
 * block's state snapshot, so a plain static web server over a store directory can answer "which
 * snapshot is block B". A pointer is only a hint: the loader checks the manifest's metadata.
 */
public final class Pointers {
    /** A pointer is one CID (about 60 characters); anything longer is not a pointer. */
    static final int MAX_BYTES = 200;

    private Pointers() {
    }

    /** The pointer's path below a store directory or base URL. */
    static String relative(ThreadId thread, BlockId block) {
        return "blocks/" + thread.name() + "/" + block.hex();
    }

    /** Writes the pointer atomically (temp file, fsync, rename, directory fsync); replaces an old one. */
    public static Path write(Path storeDir, ThreadId thread, BlockId block, Cid manifest) throws IOException {
        Path dir = storeDir.resolve("blocks").resolve(thread.name());
        Files.createDirectories(dir);
        Path target = dir.resolve(block.hex());
        Path temp = dir.resolve("." + block.hex() + "." + UUID.randomUUID() + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap((manifest + "\n").getBytes(StandardCharsets.US_ASCII));
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException dirSyncUnsupported) {
            // Some file systems cannot fsync a directory; the rename itself is still atomic.
        }
        return target;
    }

    /**
     * Reads the pointer of {@code block} of {@code thread} on the static storage {@code base}.
     *
     * @throws SmallGets.NotFound if the storage has no such pointer
     * @throws IOException if it cannot be read or is not a CID
     */
    static Cid resolve(SmallGets http, URI base, ThreadId thread, BlockId block, Duration timeout)
            throws IOException, InterruptedException {
        URI uri = SmallGets.below(base, relative(thread, block));
        byte[] body = http.get(uri, MAX_BYTES, timeout);
        String text = SmallGets.firstLine(body).orElseThrow(() -> new IOException("pointer " + uri + " is empty"));
        try {
            return Cid.parse(text);
        } catch (CidFormatException e) {
            throw new IOException("pointer " + uri + " does not hold a CID: " + e.getMessage());
        }
    }
}
