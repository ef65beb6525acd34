package io.statesync.core.store;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * One blob being written into a {@link ContentStore}: bytes are hashed as they are written to
 * a temp file, and {@link #commit()} gives the blob its final name only if the digest matches.
 * Closing without a commit deletes the temp file. Not thread-safe: one writer per producer.
 */
public final class BlobWriter implements AutoCloseable {
    private final ContentStore store;
    private final Cid expected;
    private final Codec codec;
    private final TempFile temp;
    private final FileChannel channel;
    private final MessageDigest digest = Cid.newDigest();
    private long written;
    private boolean done;
    private boolean broken;

    BlobWriter(ContentStore store, Cid expected, Codec codec, Path tempDir) throws IOException {
        this.store = store;
        this.expected = expected;
        this.codec = codec;
        // Locked while it exists, so the store's sweep at open never takes it for a dead writer's.
        this.temp = TempFile.create(tempDir, "", ".part");
        this.channel = this.temp.channel();
    }

    /** Appends bytes; they are hashed here, once, and never re-read for hashing. */
    public void write(byte[] bytes, int offset, int length) throws IOException {
        write(ByteBuffer.wrap(bytes, offset, length));
    }

    /** Appends the buffer's remaining bytes. */
    public void write(ByteBuffer buffer) throws IOException {
        checkOpen();
        ByteBuffer view = buffer.duplicate();
        digest.update(view);
        int n = buffer.remaining();
        try {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } catch (IOException | RuntimeException e) {
            // The digest now covers bytes that may not be on disk: this writer can never commit.
            broken = true;
            throw e;
        }
        written += n;
    }

    /** Bytes written so far. */
    public long written() {
        return written;
    }

    /** The CID this writer must produce, or null when the store computes it. */
    public Cid expected() {
        return expected;
    }

    /**
     * Verifies the digest, fsyncs and renames the temp file into place. Returns the blob's CID.
     *
     * @throws DigestMismatchException if the bytes do not match the expected CID; nothing stays
     */
    public Cid commit() throws IOException {
        checkOpen();
        if (broken) {
            close();
            throw new IOException("cannot commit: an earlier write to " + temp.path() + " failed");
        }
        done = true;
        try {
            Cid actual = Cid.of(expected != null ? expected.codec() : codec, digest.digest());
            if (expected != null && !expected.equals(actual)) {
                throw new DigestMismatchException(expected, actual);
            }
            channel.force(false);
            // Installed while still open and locked: the temp name is gone before the lock is.
            store.install(temp.path(), actual, written);
            temp.close();
            return actual;
        } catch (IOException | RuntimeException e) {
            discard();
            throw e;
        }
    }

    /** Abandons the write; the temp file is deleted. Idempotent. */
    @Override
    public void close() throws IOException {
        if (!done) {
            done = true;
            discard();
        }
    }

    private void discard() throws IOException {
        temp.close();
    }

    private void checkOpen() {
        if (done) {
            throw new IllegalStateException("blob writer already committed or closed");
        }
    }
}
