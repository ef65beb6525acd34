package io.statesync.core.snapshot;

import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import io.statesync.core.store.DigestMismatchException;
import io.statesync.core.store.TempFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.util.EnumSet;
import java.util.Set;
import java.util.function.LongConsumer;
import java.util.regex.Pattern;

/**
 * Writes a snapshot's files from a store into a directory. Each file is assembled in a temp
 * file beside its target, fsynced, given its mode, and renamed: a partial file never carries a
 * final name. Files in the directory that the manifest does not name are left alone. A chunk
 * found corrupt in the store on the way out is deleted from it, so that a fetch gets it again.
 */
public final class Materializer {
    private static final String TEMP_SUFFIX = ".statesync-part";
    /** {@code .<file name>.<random UUID>.statesync-part}: what only this class names its temp files. */
    private static final Pattern TEMP_NAME = Pattern.compile(
            "\\..+\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.statesync-part");

    private Materializer() {
    }

    /**
     * Materializes {@code manifest} under {@code outDir}.
     *
     * @param verify re-hash every chunk as it is copied; pass {@code true} unless every chunk
     *               was verified moments ago by the caller (as the downloader does)
     * @param onBytes told how many bytes were just written, for progress; may be null
     */
    public static void materialize(Manifest manifest, ContentStore store, Path outDir, boolean verify,
                                   LongConsumer onBytes) throws IOException, ManifestException {
        ManifestValidator.validate(manifest, ManifestLimits.DEFAULT.withMaxChunks(Long.MAX_VALUE)
                .withMaxFiles(Integer.MAX_VALUE).withMaxTotalBytes(Long.MAX_VALUE));
        Files.createDirectories(outDir);
        Path realOut = outDir.toRealPath();
        ByteBuffer buf = ByteBuffer.allocateDirect(manifest.chunkSize());
        for (FileEntry f : manifest.files()) {
            writeFile(manifest, f, store, realOut, verify, buf, onBytes);
        }
    }

    private static void writeFile(Manifest m, FileEntry f, ContentStore store, Path realOut, boolean verify,
                                  ByteBuffer buf, LongConsumer onBytes) throws IOException {
        Path target = realOut.resolve(f.path());
        Path parent = createParents(realOut, f.path());
        if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("cannot write \"" + f.path() + "\": a directory of that name exists in " + realOut);
        }
        MessageDigest md = verify ? Cid.newDigest() : null;
        // Locked while it has its temp name, so a later run's removeLeftovers can tell a killed
        // run's file from one a live writer is still filling.
        try (TempFile temp = TempFile.create(parent, "." + target.getFileName() + ".", TEMP_SUFFIX)) {
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
            setMode(temp.path(), f.mode());
            Files.move(temp.path(), target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
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

    /**
     * Creates the directories above {@code relative} one level at a time, checking each before
     * going below it: a symlink planted inside the output directory must not redirect our
     * writes, not even the creation of a directory, to a place outside it.
     */
    static Path createParents(Path realOut, String relative) throws IOException {
        Path dir = realOut;
        String[] segments = relative.split("/");
        for (int i = 0; i < segments.length - 1; i++) {
            dir = dir.resolve(segments[i]);
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createDirectory(dir);
                } catch (FileAlreadyExistsException raced) {
                    // Made by someone else meanwhile: checked below like any existing entry.
                }
            }
            Path real;
            try {
                real = dir.toRealPath();
            } catch (NoSuchFileException dangling) {
                throw new IOException("refusing to write \"" + relative + "\": " + dir + " is a dangling link", dangling);
            }
            if (!real.startsWith(realOut)) {
                throw new IOException("refusing to write \"" + relative + "\": its directory resolves outside " + realOut);
            }
            if (!Files.isDirectory(real)) {
                throw new IOException("cannot write \"" + relative + "\": " + dir + " exists and is not a directory");
            }
        }
        return dir;
    }

    static void setMode(Path p, int mode) throws IOException {
        Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] all = PosixFilePermission.values();
        for (int bit = 0; bit < 9; bit++) {
            if ((mode & (1 << (8 - bit))) != 0) {
                perms.add(all[bit]);
            }
        }
        try {
            Files.setPosixFilePermissions(p, perms);
        } catch (UnsupportedOperationException e) {
            // Not a POSIX file system: modes cannot be kept there.
        }
    }
}
