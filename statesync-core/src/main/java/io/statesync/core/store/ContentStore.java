package io.statesync.core.store;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.core.cid.Codec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A directory of blobs named by their CIDs: {@code <root>/ipfs/<cid>}, so any static web
 * server pointed at the root is a valid source. Every blob is verified before it gets its
 * final name; writes go to {@code <root>/tmp}, are fsynced and renamed atomically. Content is
 * deduplicated by name. Safe for concurrent writers, in one process or several.
 */
public final class ContentStore {
    private static final int COPY_BUFFER = 64 * 1024;

    private final Path root;
    private final Path blobs;
    private final Path temps;
    private final AtomicLong totalBytes = new AtomicLong();
    private final AtomicLong blobCount = new AtomicLong();

    private ContentStore(Path root) {
        this.root = root;
        this.blobs = root.resolve("ipfs");
        this.temps = root.resolve("tmp");
    }

    /**
     * Opens (creating if needed) the store at {@code root}. Removes the temp files of writers
     * that died (a crashed or killed earlier run), never those of live ones (see {@link TempFile}).
     */
    public static ContentStore open(Path root) throws IOException {
        ContentStore store = new ContentStore(root.toAbsolutePath().normalize());
        Files.createDirectories(store.blobs);
        Files.createDirectories(store.temps);
        TempFile.sweep(store.temps, name -> true, false);
        store.recount();
        return store;
    }

    public Path root() {
        return root;
    }

    /** Where the blob lives (or would live). Callers serving files use it for zero-copy transfer. */
    public Path pathOf(Cid cid) {
        return blobs.resolve(cid.toString());
    }

    public boolean has(Cid cid) {
        return Files.isRegularFile(pathOf(cid));
    }

    /** The blob's size in bytes. */
    public long size(Cid cid) throws IOException {
        try {
            return Files.size(pathOf(cid));
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(cid);
        }
    }

    /**
     * A stream over the stored bytes. These were verified when they entered the store; callers
     * that must defend against later disk corruption re-hash them (see {@link #verify}).
     */
    public InputStream open(Cid cid) throws IOException {
        try {
            return Files.newInputStream(pathOf(cid));
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(cid);
        }
    }

    /** Reads from {@code position} into {@code dst}; returns bytes read, or -1 at the end. */
    public int read(Cid cid, long position, ByteBuffer dst) throws IOException {
        try (FileChannel ch = FileChannel.open(pathOf(cid), StandardOpenOption.READ)) {
            return ch.read(dst, position);
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(cid);
        }
    }

    /** The whole blob in memory: for small blobs such as manifests. */
    public byte[] readAll(Cid cid) throws IOException {
        try {
            return Files.readAllBytes(pathOf(cid));
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(cid);
        }
    }

    /** Starts a verified write of the blob {@code expected}. */
    public BlobWriter writer(Cid expected) throws IOException {
        return new BlobWriter(this, expected, expected.codec(), temps);
    }

    /** Starts a write whose CID is computed from the bytes. */
    public BlobWriter writer(Codec codec) throws IOException {
        return new BlobWriter(this, null, codec, temps);
    }

    /** Stores the stream's bytes under their computed CID. */
    public Cid put(Codec codec, InputStream in) throws IOException {
        try (BlobWriter w = writer(codec)) {
            copy(in, w);
            return w.commit();
        }
    }

    /** Stores bytes under their computed CID. */
    public Cid put(Codec codec, byte[] bytes) throws IOException {
        try (BlobWriter w = writer(codec)) {
            w.write(bytes, 0, bytes.length);
            return w.commit();
        }
    }

    /**
     * Stores the stream's bytes only if they match {@code expected}.
     *
     * @throws DigestMismatchException on a mismatch; the store is unchanged
     */
    public void put(Cid expected, InputStream in) throws IOException {
        try (BlobWriter w = writer(expected)) {
            copy(in, w);
            w.commit();
        }
    }

    /**
     * Re-hashes the stored blob, streaming. A blob whose bytes no longer match its CID (bit rot,
     * a stray write, a truncation) is deleted: it can never become right, and left in place it
     * would fail every reader while writers skip it as already present. Returns whether an
     * intact copy is in the store now.
     */
    public boolean verify(Cid cid) throws IOException {
        MessageDigest md = Cid.newDigest();
        try (FileChannel ch = FileChannel.open(pathOf(cid), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(COPY_BUFFER);
            while (ch.read(buf) >= 0) {
                buf.flip();
                md.update(buf);
                buf.clear();
            }
        } catch (NoSuchFileException e) {
            return false;
        }
        if (cid.matches(md.digest())) {
            return true;
        }
        delete(cid);
        return false;
    }

    /**
     * Takes the blob {@code cid} from another store without copying where the file system allows:
     * a hard link to the same bytes (blobs are never written in place, so the two stores can
     * share them), else a verified copy. The bytes are trusted as much as the other store's; a
     * caller that must defend against disk corruption re-hashes them ({@link #verify}). Returns
     * whether this store holds the blob now (false when the other store does not have it).
     */
    public boolean adopt(ContentStore from, Cid cid) throws IOException {
        if (has(cid)) {
            return true;
        }
        Path source = from.pathOf(cid);
        long size;
        try {
            size = Files.size(source);
        } catch (NoSuchFileException e) {
            return false;
        }
        try {
            Files.createLink(pathOf(cid), source);
        } catch (FileAlreadyExistsException raced) {
            return true;
        } catch (NoSuchFileException gone) {
            return false;
        } catch (UnsupportedOperationException | FileSystemException noLinks) {
            try (InputStream in = from.open(cid)) {
                put(cid, in);
            }
            return true;
        }
        totalBytes.addAndGet(size);
        blobCount.incrementAndGet();
        return true;
    }

    /** Deletes the blob; returns whether it existed. */
    public boolean delete(Cid cid) throws IOException {
        Path p = pathOf(cid);
        long size;
        try {
            size = Files.size(p);
        } catch (NoSuchFileException e) {
            return false;
        }
        if (Files.deleteIfExists(p)) {
            totalBytes.addAndGet(-size);
            blobCount.decrementAndGet();
            return true;
        }
        return false;
    }

    /** Sum of the sizes of all blobs, as counted at open and kept since by this instance. */
    public long totalBytes() {
        return totalBytes.get();
    }

    /** Number of blobs, as counted at open and kept since by this instance. */
    public long blobCount() {
        return blobCount.get();
    }

    /** Every CID in the store. Files whose names are not CIDs are ignored. */
    public List<Cid> list() throws IOException {
        List<Cid> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(blobs)) {
            for (Path p : ds) {
                Cid cid = cidNamed(p);
                if (cid != null) {
                    out.add(cid);
                }
            }
        }
        return out;
    }

    /** Gives a verified, fsynced temp file its final name. Called by {@link BlobWriter#commit()}. */
    void install(Path temp, Cid cid, long size) throws IOException {
        Path target = pathOf(cid);
        if (Files.exists(target)) {
            // Deduplicated: the same content is already here.
            Files.deleteIfExists(temp);
            return;
        }
        // A hard link, unlike a rename, fails when the name exists: of several writers racing
        // on the same content exactly one installs it, and only that one counts it.
        try {
            Files.createLink(target, temp);
        } catch (FileAlreadyExistsException raced) {
            Files.deleteIfExists(temp);
            return;
        } catch (UnsupportedOperationException | FileSystemException noLinks) {
            moveIntoPlace(temp, target, size);
            return;
        }
        Files.deleteIfExists(temp);
        totalBytes.addAndGet(size);
        blobCount.incrementAndGet();
    }

    /** For file systems without hard links: a rename, which a racing duplicate may also do. */
    private void moveIntoPlace(Path temp, Path target, long size) throws IOException {
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the store's tmp and ipfs directories must be on one file system", e);
        }
        // Two writers racing past the exists() check both rename identical bytes onto one name;
        // the count may then be one too high, which only errs on the side of more space in use.
        totalBytes.addAndGet(size);
        blobCount.incrementAndGet();
    }

    /** The CID a file in ipfs/ is named after, or null if it is not ours. */
    private static Cid cidNamed(Path p) {
        try {
            return Cid.parse(p.getFileName().toString());
        } catch (CidFormatException e) {
            // Not ours: a store directory may be shared with a web server's own files.
            return null;
        }
    }

    private static void copy(InputStream in, BlobWriter w) throws IOException {
        byte[] buf = new byte[COPY_BUFFER];
        int n;
        while ((n = in.read(buf)) >= 0) {
            w.write(buf, 0, n);
        }
    }

    private void recount() throws IOException {
        long bytes = 0;
        long count = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(blobs)) {
            for (Path p : ds) {
                if (cidNamed(p) == null) {
                    continue; // counted as list() sees the store: foreign files are not blobs
                }
                try {
                    bytes += Files.size(p);
                    count++;
                } catch (NoSuchFileException ignored) {
                    // Deleted concurrently.
                }
            }
        } catch (DirectoryIteratorException e) {
            throw e.getCause();
        }
        totalBytes.set(bytes);
        blobCount.set(count);
    }
}
