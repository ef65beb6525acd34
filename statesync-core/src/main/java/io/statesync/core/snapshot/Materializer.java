package io.statesync.core.snapshot;

import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import io.statesync.core.store.DigestMismatchException;
import io.statesync.core.store.TempFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.function.LongConsumer;
import java.util.regex.Pattern;

/**
 * Writes a snapshot's files from a store into a directory. Each file is assembled in a temp
 * file beside its target, fsynced, given its mode, and renamed: a partial file never carries a
 * final name. Files in the directory that the manifest does not name are left alone. A chunk
 * found corrupt in the store on the way out is deleted from it, so that a fetch gets it again.
 */
public final class Materializer {
    /** Temp files are {@code .statesync-<random UUID>.part}: 52 bytes whatever the target's name, so every legal name fits. */
    private static final String TEMP_PREFIX = ".statesync-";
    private static final String TEMP_SUFFIX = ".part";
    private static final String UUID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
    /**
     * What only this class names its temp files: the current form, and the one before it
     * ({@code .<file name>.<UUID>.statesync-part}), whose leftovers an older run may have left.
     */
    private static final Pattern TEMP_NAME = Pattern.compile(
            "\\.statesync-" + UUID_PATTERN + "\\.part|\\..+\\." + UUID_PATTERN + "\\.statesync-part");

    private Materializer() {
    }

    /**
     * Materializes {@code manifest} under {@code outDir}. Nothing is written if the store lies
     * inside {@code outDir} or the disk has too little room for the files; every directory and
     * file is opened relative to its parent's handle, so a symbolic link anywhere in
     * {@code outDir} is refused, never followed, even one swapped in while this runs.
     *
     * @param verify re-hash every chunk as it is copied; pass {@code true} unless every chunk
     *               was verified moments ago by the caller (as the downloader does)
     * @param onBytes told how many bytes were just written, for progress; may be null
     */
    public static void materialize(Manifest manifest, ContentStore store, Path outDir, boolean verify,
                                   LongConsumer onBytes) throws IOException, ManifestException {
        ManifestValidator.validate(manifest, ManifestLimits.DEFAULT.withMaxChunks(Long.MAX_VALUE)
                .withMaxFiles(Integer.MAX_VALUE).withMaxTotalBytes(Long.MAX_VALUE));
        try (OutputTree tree = OutputTree.open(outDir)) {
            OutputChecks.refuseStoreInside(store, tree.root());
            OutputChecks.requireFreeSpace(tree.root(), manifest.totalBytes() - bytesReplaced(manifest, tree.root()));
            ByteBuffer buf = ByteBuffer.allocateDirect(manifest.chunkSize());
            for (FileEntry f : manifest.files()) {
                try (OutputTree.Directory dir = tree.directoryOf(f.path())) {
                    writeFile(manifest, f, store, tree.root(), dir, verify, buf, onBytes);
                }
            }
        }
    }

    /** Bytes of the regular files now at the targets, freed as each is replaced (an estimate: read by path). */
    private static long bytesReplaced(Manifest m, Path realOut) {
        long bytes = 0;
        for (FileEntry f : m.files()) {
            try {
                BasicFileAttributes a = Files.readAttributes(realOut.resolve(f.path()), BasicFileAttributes.class,
                        LinkOption.NOFOLLOW_LINKS);
                if (a.isRegularFile()) {
                    bytes += a.size();
                }
            } catch (IOException | RuntimeException absent) {
                // nothing there (or unreadable): nothing freed
            }
        }
        return bytes;
    }

    private static void writeFile(Manifest m, FileEntry f, ContentStore store, Path realOut, OutputTree.Directory dir, boolean verify,
                                  ByteBuffer buf, LongConsumer onBytes) throws IOException {
        String name = f.path().substring(f.path().lastIndexOf('/') + 1);
        BasicFileAttributes existing = dir.attributes(name);
        if (existing != null && existing.isDirectory()) {
            throw new IOException("cannot write \"" + f.path() + "\": a directory of that name exists in " + realOut);
        }
        MessageDigest md = verify ? Cid.newDigest() : null;
        // Locked while it has its temp name, so a later run's removeLeftovers can tell a killed
        // run's file from one a live writer is still filling.
        try (TempFile temp = TempFile.create(dir.handle(), dir.shownAs(), TEMP_PREFIX, TEMP_SUFFIX)) {
            FileChannel out = temp.channel();
            long written = 0;
            for (int i = 0; i < f.chunks().size(); i++) {
                Cid chunk = f.chunks().get(i);
                int expected = m.chunkLength(f, i);
                buf.clear().limit(expected);
                try (FileChannel in = FileChannel.open(store.pathOf(chunk), StandardOpenOption.READ)) {
                    long size = in.size();
                    if (size != expected) {
                        // Either the blob was cut or grown on disk (then verify deletes it, so a
                        // fetch gets it anew), or the manifest names a chunk of another length.
                        store.verify(chunk);
                        throw new IOException("chunk " + i + " of \"" + f.path() + "\" (" + chunk + ") is "
                                + size + " bytes in the store, the manifest needs " + expected);
                    }
                    if (md == null) {
                        // Verified moments ago by the caller: copied in the kernel (transferTo is
                        // copy_file_range on Linux, a reflink where the file system shares extents),
                        // never through this process and never hashed again.
                        long done = 0;
                        while (done < expected) {
                            long n = in.transferTo(done, expected - done, out);
                            if (n <= 0) {
                                throw new IOException("chunk " + i + " of \"" + f.path() + "\" (" + chunk + ") ended early in the store");
                            }
                            done += n;
                        }
                        written += expected;
                        if (onBytes != null) {
                            onBytes.accept(expected);
                        }
                        continue;
                    }
                    while (buf.hasRemaining() && in.read(buf) >= 0) {
                        // keep reading
                    }
                } catch (NoSuchFileException e) {
                    throw new IOException("chunk " + i + " of \"" + f.path() + "\" (" + chunk + ") is not in the store", e);
                }
                buf.flip();
                if (md != null) {
                    md.update(buf.duplicate());
                    byte[] d = md.digest();
                    if (!chunk.matches(d)) {
                        // Corrupt on disk: deleted, so that the next fetch fetches it again
                        // instead of finding it "present" and failing here forever.
                        store.delete(chunk);
                        throw new DigestMismatchException(chunk, Cid.of(chunk.codec(), d));
                    }
                }
                while (buf.hasRemaining()) {
                    out.write(buf);
                }
                written += expected;
                if (onBytes != null) {
                    onBytes.accept(expected);
                }
            }
            if (written != f.size()) {
                throw new IOException("\"" + f.path() + "\": wrote " + written + " bytes, expected " + f.size());
            }
            out.force(true);
            // renameat in the file's own directory: replaces a link at the name, never follows it.
            // The mode comes after: chmod through a handle opens the file, and closing that
            // descriptor would drop the temp file's lock while it still has its temp name. Until
            // then the file is its owner's alone (temp files are made 0600).
            dir.rename(temp.name(), name);
            dir.setMode(name, f.mode());
        }
    }

    /**
     * Removes the temp files that runs killed mid-write left under {@code outDir} (anywhere below
     * it; links are not followed). Only files named the way this class names its temp files are
     * candidates, and of those only ones no live writer holds: a user's file is never touched,
     * nor the file of a concurrent write. Returns how many were removed.
     */
    public static int removeLeftovers(Path outDir) throws IOException {
        if (!Files.isDirectory(outDir)) {
            return 0;
        }
        return TempFile.sweep(outDir.toRealPath(), name -> TEMP_NAME.matcher(name).matches(), true);
    }

}
