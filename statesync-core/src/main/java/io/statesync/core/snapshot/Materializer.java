package io.statesync.core.snapshot;

import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import io.statesync.core.store.DigestMismatchException;
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
import java.util.UUID;
import java.util.function.LongConsumer;

/**
 * Writes a snapshot's files from a store into a directory. Each file is assembled in a temp
 * file beside its target, fsynced, given its mode, and renamed: a partial file never carries a
 * final name. Files in the directory that the manifest does not name are left alone.
 */
public final class Materializer {
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
        Path temp = parent.resolve("." + target.getFileName() + "." + UUID.randomUUID() + ".statesync-part");
        MessageDigest md = verify ? Cid.newDigest() : null;
        try {
            try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                long written = 0;
                for (int i = 0; i < f.chunks().size(); i++) {
                    Cid chunk = f.chunks().get(i);
                    int expected = Manifest.chunkLength(f.size(), m.chunkSize(), i);
                    buf.clear().limit(expected);
                    try (FileChannel in = FileChannel.open(store.pathOf(chunk), StandardOpenOption.READ)) {
                        if (in.size() != expected) {
                            throw new IOException("chunk " + i + " of \"" + f.path() + "\" (" + chunk + ") is "
                                    + in.size() + " bytes in the store, the manifest needs " + expected);
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
            }
            setMode(temp, f.mode());
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /**
     * Creates the directories above {@code relative} one level at a time, checking each before
     * going below it: a symlink planted inside the output directory must not redirect our
     * writes, not even the creation of a directory, to a place outside it.
     */
    private static Path createParents(Path realOut, String relative) throws IOException {
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

    private static void setMode(Path p, int mode) throws IOException {
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
