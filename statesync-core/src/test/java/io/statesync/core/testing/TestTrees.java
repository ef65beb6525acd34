package io.statesync.core.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Deterministic directory trees for tests and benchmarks: generate one from a seed, change a
 * fraction of it in place, and compare two trees byte for byte. The same seed always gives the
 * same paths, sizes, modes and bytes, so a failure can be replayed.
 *
 * <p>Generated trees hold regular files only (no empty directories, no links), because that is
 * what a snapshot can carry; every directory exists because a file lies below it.
 */
public final class TestTrees {
    /** The chunk size {@link #write(Path, long, int, long)} aligns some file sizes to. */
    public static final int DEFAULT_ALIGNMENT = 4096;
    /** The length of one overwritten range in {@link #mutate(Path, long, double)}. */
    public static final int DEFAULT_MUTATION_RANGE = 4096;

    private static final int IO_BUFFER = 64 * 1024;
    /** Modes the generator cycles through; all leave the owner able to read. */
    private static final String[] MODES = {"rw-r--r--", "rwxr-xr-x", "rw-------", "r--r--r--", "rw-r-----"};

    private TestTrees() {
    }

    /**
     * Writes {@code files} pseudo-random files totalling exactly {@code totalBytes} under
     * {@code dir}, with sizes aligned to {@link #DEFAULT_ALIGNMENT} for some of them.
     *
     * @return the written files' paths relative to {@code dir}, sorted
     */
    public static List<Path> write(Path dir, long seed, int files, long totalBytes) throws IOException {
        return write(dir, seed, files, totalBytes, DEFAULT_ALIGNMENT);
    }

    /**
     * Writes {@code files} pseudo-random files totalling exactly {@code totalBytes} under
     * {@code dir}: nested up to three directories deep, some empty, some sized an exact multiple
     * of {@code alignment} (a chunk size), the rest of arbitrary length, with varied modes.
     * Memory use is bounded by a small buffer whatever the total.
     *
     * @return the written files' paths relative to {@code dir}, sorted
     */
    public static List<Path> write(Path dir, long seed, int files, long totalBytes, int alignment) throws IOException {
        if (files < 1 || totalBytes < 0 || alignment < 1) {
            throw new IllegalArgumentException("need files >= 1, totalBytes >= 0, alignment >= 1");
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        long[] sizes = sizes(rnd, files, totalBytes, alignment);
        List<Path> written = new ArrayList<>(files);
        byte[] buf = new byte[IO_BUFFER];
        for (int i = 0; i < files; i++) {
            Path rel = pathFor(rnd, i);
            Path file = dir.resolve(rel);
            Files.createDirectories(file.getParent());
            SplittableRandom content = rnd.split();
            try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW)) {
                for (long left = sizes[i]; left > 0; ) {
                    int n = (int) Math.min(buf.length, left);
                    content.nextBytes(buf);
                    out.write(buf, 0, n);
                    left -= n;
                }
            }
            setMode(file, MODES[rnd.nextInt(MODES.length)]);
            written.add(rel);
        }
        written.sort(null);
        return written;
    }

    /**
     * Overwrites pseudo-random ranges of {@link #DEFAULT_MUTATION_RANGE} bytes so that about
     * {@code fraction} of the tree's bytes change; sizes, paths and modes stay as they are.
     *
     * @return the number of bytes overwritten
     */
    public static long mutate(Path dir, long seed, double fraction) throws IOException {
        return mutate(dir, seed, fraction, DEFAULT_MUTATION_RANGE);
    }

    /**
     * Overwrites pseudo-random ranges of at most {@code rangeBytes} bytes each, in files chosen
     * in proportion to their size, until about {@code fraction} of the tree's bytes have been
     * rewritten. Each range touches at most two chunks of any chunk size at least
     * {@code rangeBytes}, so the number of changed chunks stays near the number of ranges.
     *
     * @return the number of bytes overwritten (ranges may overlap; this counts each write)
     */
    public static long mutate(Path dir, long seed, double fraction, int rangeBytes) throws IOException {
        if (fraction < 0 || fraction > 1 || rangeBytes < 1) {
            throw new IllegalArgumentException("need 0 <= fraction <= 1 and rangeBytes >= 1");
        }
        List<Path> files = regularFiles(dir);
        long[] ends = new long[files.size()];
        long total = 0;
        for (int i = 0; i < files.size(); i++) {
            total += Files.size(files.get(i));
            ends[i] = total;
        }
        long budget = (long) Math.ceil(total * fraction);
        SplittableRandom rnd = new SplittableRandom(seed);
        long done = 0;
        byte[] buf = new byte[rangeBytes];
        while (done < budget) {
            // A uniformly chosen byte of the tree picks the file, so large files change more.
            long at = rnd.nextLong(total);
            int index = fileContaining(ends, at);
            Path file = files.get(index);
            long size = Files.size(file);
            int length = (int) Math.min(Math.min(rangeBytes, size), budget - done);
            long offset = rnd.nextLong(size - length + 1);
            rnd.nextBytes(buf);
            done += overwrite(file, offset, ByteBuffer.wrap(buf, 0, length));
        }
        return done;
    }

    /**
     * Asserts that {@code actual} holds exactly the directories and regular files of
     * {@code expected}, each file with the same bytes and POSIX permission bits. Links and
     * other special files fail the assertion on either side.
     */
    public static void assertSameTree(Path expected, Path actual) {
        try {
            TreeMap<String, Path> want = entries(expected);
            TreeMap<String, Path> got = entries(actual);
            if (!want.keySet().equals(got.keySet())) {
                TreeSet<String> missing = new TreeSet<>(want.keySet());
                missing.removeAll(got.keySet());
                TreeSet<String> extra = new TreeSet<>(got.keySet());
                extra.removeAll(want.keySet());
                fail("trees differ in paths: missing in " + actual + ": " + missing + ", unexpected: " + extra);
            }
            for (var e : want.entrySet()) {
                Path a = e.getValue();
                Path b = got.get(e.getKey());
                String what = e.getKey();
                if (Files.isDirectory(a, LinkOption.NOFOLLOW_LINKS)) {
                    assertTrue(Files.isDirectory(b, LinkOption.NOFOLLOW_LINKS), what + " should be a directory");
                    continue;
                }
                if (!Files.isRegularFile(a, LinkOption.NOFOLLOW_LINKS) || !Files.isRegularFile(b, LinkOption.NOFOLLOW_LINKS)) {
                    fail(what + " is not a regular file on both sides");
                }
                assertEquals(Files.size(a), Files.size(b), what + ": size");
                long mismatch = Files.mismatch(a, b);
                if (mismatch != -1) {
                    fail(what + ": contents differ from byte " + mismatch);
                }
                assertEquals(PosixFilePermissions.toString(permissions(a)), PosixFilePermissions.toString(permissions(b)),
                        what + ": permissions");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every regular file under {@code dir}, in sorted order of relative path. */
    public static List<Path> regularFiles(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path p : entries(dir).values()) {
            if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                out.add(p);
            }
        }
        return out;
    }

    /** Sets a file's permissions from {@code rwxr-x---} notation. */
    public static void setMode(Path file, String rwx) throws IOException {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(rwx));
    }

    /** Sizes that sum to {@code total}: every 7th file empty, every 5th aligned, the rest free. */
    private static long[] sizes(SplittableRandom rnd, int files, long total, int alignment) {
        long[] sizes = new long[files];
        double[] weights = new double[files];
        double sum = 0;
        for (int i = 0; i < files; i++) {
            if (i % 7 != 3 || files == 1) {
                weights[i] = 0.1 + rnd.nextDouble();
                sum += weights[i];
            }
        }
        long used = 0;
        int lastFree = -1;
        for (int i = 0; i < files; i++) {
            if (weights[i] == 0) {
                continue;
            }
            long size = (long) (total * (weights[i] / sum));
            if (i % 5 == 1) {
                size -= size % alignment;
            } else {
                lastFree = i;
            }
            sizes[i] = size;
            used += size;
        }
        // Rounding leftovers go to one free-sized file, so the total is exact.
        sizes[lastFree >= 0 ? lastFree : 0] += total - used;
        return sizes;
    }

    /** A relative path up to three directories deep; names never collide between files and directories. */
    private static Path pathFor(SplittableRandom rnd, int index) {
        int depth = rnd.nextInt(4);
        StringBuilder sb = new StringBuilder();
        for (int d = 0; d < depth; d++) {
            sb.append("dir").append(rnd.nextInt(3)).append('/');
        }
        sb.append("file-").append(index).append(".bin");
        return Path.of(sb.toString());
    }

    private static int fileContaining(long[] ends, long offset) {
        int lo = 0;
        int hi = ends.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (ends[mid] > offset) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    /** Writes in place, lending the owner write permission for the moment if the mode lacks it. */
    private static int overwrite(Path file, long offset, ByteBuffer bytes) throws IOException {
        Set<PosixFilePermission> mode = permissions(file);
        boolean lend = !mode.contains(PosixFilePermission.OWNER_WRITE);
        if (lend) {
            Set<PosixFilePermission> writable = new TreeSet<>(mode);
            writable.add(PosixFilePermission.OWNER_WRITE);
            Files.setPosixFilePermissions(file, writable);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            int n = bytes.remaining();
            while (bytes.hasRemaining()) {
                ch.write(bytes, offset + (n - bytes.remaining()));
            }
            return n;
        } finally {
            if (lend) {
                Files.setPosixFilePermissions(file, mode);
            }
        }
    }

    private static Set<PosixFilePermission> permissions(Path p) throws IOException {
        return Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
    }

    /** Every entry below {@code root} (not root itself) by '/'-separated relative path. */
    private static TreeMap<String, Path> entries(Path root) throws IOException {
        TreeMap<String, Path> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.filter(p -> !p.equals(root))
                    .forEach(p -> out.put(root.relativize(p).toString().replace(root.getFileSystem().getSeparator(), "/"), p));
        }
        return out;
    }
}
