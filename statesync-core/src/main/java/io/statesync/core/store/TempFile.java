package io.statesync.core.store;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLockInterruptionException;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * A temp file this process is writing, under an exclusive OS file lock from the moment it is
 * created until its name is gone (renamed into place, or deleted by {@link #close()}).
 *
 * <p>Why a lock: a writer killed with SIGKILL leaves its temp file behind, and a later run must
 * tell such a leftover from the file of a writer that is still running (another process sharing
 * the directory, or another thread of this one). Age cannot tell them apart (a writer stalled on
 * a slow source looks as old as a dead one, and a fresh leftover would wait out the age), and a
 * process id in the name breaks on reused ids and across PID namespaces (containers sharing a
 * volume). The kernel drops a process's locks when it dies, however it dies, so {@link #sweep}
 * removes exactly the temp files no live writer holds, at once.
 *
 * <p>Two gaps are closed by hand. POSIX locks (what the JDK uses) belong to the process and vanish
 * when <em>any</em> descriptor of the file in that process is closed, so a sweep must never open a
 * file this process holds: the JVM's held files are registered and skipped, and creating and
 * sweeping exclude each other within the JVM. (For the same reason nothing else in the process may
 * open a held temp file; even {@code Files.setLastModifiedTime} does. Renames, links, chmod and
 * unlink do not.) Between its create and its lock a file is unlocked, and another process's sweep
 * may remove it; a sweep deletes only while holding the lock, so the writer, once it holds the
 * lock, checks that its name is still there and otherwise starts again under a new one.
 */
public final class TempFile implements AutoCloseable {
    /**
     * A file whose lock a sweep cannot test (no read permission, or a file system without locks)
     * is removed only this old: the age rule the store used before locks.
     */
    private static final Duration UNTESTABLE = Duration.ofMinutes(10);
    /** Files made through a directory handle are their owner's alone until renamed and given their mode. */
    private static final FileAttribute<Set<PosixFilePermission>> OWNER_ONLY = PosixFilePermissions.asFileAttribute(
            EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
    /** Creating (and closing) a temp file and sweeping one exclude each other in this JVM. */
    private static final ReentrantLock GUARD = new ReentrantLock();
    /** File keys (device and inode) of the temp files this JVM holds: a sweep must not open them. */
    private static final Set<Object> HELD = ConcurrentHashMap.newKeySet();

    private final Path path;
    /** The open directory the file was made in, or null when it was made (and is deleted) by path. */
    private final SecureDirectoryStream<Path> dir;
    private final FileChannel channel;
    private final Object key;
    private boolean closed;

    private TempFile(Path path, SecureDirectoryStream<Path> dir, FileChannel channel, Object key) {
        this.path = path;
        this.dir = dir;
        this.channel = channel;
        this.key = key;
    }

    /**
     * Creates a new file {@code <prefix><random UUID><suffix>} in {@code dir}, open for writing
     * and locked.
     */
    public static TempFile create(Path dir, String prefix, String suffix) throws IOException {
        for (int attempt = 1; ; attempt++) {
            TempFile t = tryCreate(dir.resolve(prefix + UUID.randomUUID() + suffix));
            if (t != null) {
                return t;
            }
            if (attempt == 5) {
                throw new IOException("cannot keep a temp file in " + dir + ": removed as a leftover at once, 5 times");
            }
        }
    }

    /**
     * Creates a new file {@code <prefix><random UUID><suffix>} in the open directory {@code dir}
     * (shown in messages as {@code shownAs}), open for writing and locked. It is made, and later
     * deleted, relative to that handle, never by path: a link swapped in above it cannot
     * redirect it. The caller keeps {@code dir} open for as long as this file lives.
     */
    public static TempFile create(SecureDirectoryStream<Path> dir, Path shownAs, String prefix, String suffix)
            throws IOException {
        for (int attempt = 1; ; attempt++) {
            TempFile t = tryCreate(shownAs.resolve(prefix + UUID.randomUUID() + suffix), dir);
            if (t != null) {
                return t;
            }
            if (attempt == 5) {
                throw new IOException("cannot keep a temp file in " + shownAs + ": removed as a leftover at once, 5 times");
            }
        }
    }

    /** The new file, or null if another process's sweep removed it before it was locked. */
    private static TempFile tryCreate(Path path) throws IOException {
        return tryCreate(path, null);
    }

    private static TempFile tryCreate(Path path, SecureDirectoryStream<Path> dir) throws IOException {
        GUARD.lock();
        try {
            Path name = path.getFileName();
            FileChannel ch = dir == null
                    ? FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)
                    : (FileChannel) dir.newByteChannel(name, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                            LinkOption.NOFOLLOW_LINKS), OWNER_ONLY);
            try {
                // Between the create and this lock the file is unlocked, and a sweep in another
                // process may take it for a leftover. A sweep deletes only while it holds the
                // lock, so once we hold it the name is ours for good, if it is still there.
                try {
                    ch.lock();
                } catch (ClosedChannelException | FileLockInterruptionException interrupted) {
                    throw interrupted;
                } catch (IOException noLocks) {
                    // A file system without locks (some network and FUSE mounts): sweeps cannot
                    // test this file either and fall back to its age.
                }
                BasicFileAttributes a;
                try {
                    a = dir == null
                            ? Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                            : dir.getFileAttributeView(name, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                                    .readAttributes();
                } catch (NoSuchFileException swept) {
                    ch.close();
                    return null;
                }
                Object key = keyOf(a, path);
                HELD.add(key);
                return new TempFile(path, dir, ch, key);
            } catch (IOException | RuntimeException e) {
                try {
                    delete(path, dir);
                    ch.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        } finally {
            GUARD.unlock();
        }
    }

    public Path path() {
        return path;
    }

    /** The file's name in its directory. */
    public String name() {
        return path.getFileName().toString();
    }

    /** The channel to write through; closing it early gives up the lock (as an interrupt does). */
    public FileChannel channel() {
        return channel;
    }

    /**
     * Deletes the file if it still has its temp name (a rename into place leaves nothing to
     * delete), then gives up the lock. The name goes first, so no sweep ever sees this file
     * unlocked. Idempotent.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            GUARD.lock();
            try {
                delete(path, dir);
                // Before the channel closes: the inode may be reused only after that.
                HELD.remove(key);
            } finally {
                GUARD.unlock();
            }
        } finally {
            channel.close();
        }
    }

    /**
     * Removes the files in {@code dir} whose names {@code ours} accepts and that no live writer
     * holds: leftovers of writers that died. With {@code recursive}, directories below are swept
     * too (links are not followed). Entries that cannot be read are skipped, so a sweep never
     * fails on someone else's files; returns how many files it removed.
     */
    public static int sweep(Path dir, Predicate<String> ours, boolean recursive) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        int[] removed = {0};
        if (!recursive) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path p : ds) {
                    if (ours.test(p.getFileName().toString()) && removeIfLeftover(p)) {
                        removed[0]++;
                    }
                }
            }
            return removed[0];
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path p, BasicFileAttributes attrs) throws IOException {
                if (attrs.isRegularFile() && ours.test(p.getFileName().toString()) && removeIfLeftover(p)) {
                    removed[0]++;
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path p, IOException e) {
                return FileVisitResult.CONTINUE; // unreadable or vanished: not ours to judge
            }
        });
        return removed[0];
    }

    /** Deletes {@code p} if it is a regular file that no live writer holds. */
    private static boolean removeIfLeftover(Path p) {
        GUARD.lock();
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isRegularFile() || HELD.contains(keyOf(a, p))) {
                return false;
            }
            Instant modified = a.lastModifiedTime().toInstant();
            FileChannel ch;
            try {
                ch = FileChannel.open(p, StandardOpenOption.READ);
            } catch (AccessDeniedException e) {
                // Its lock cannot be tested (a mode without read); fall back to age, as below.
                return modified.isBefore(Instant.now().minus(UNTESTABLE)) && Files.deleteIfExists(p);
            }
            try (ch) {
                FileLock lock;
                try {
                    lock = ch.tryLock(0, Long.MAX_VALUE, true);
                } catch (OverlappingFileLockException heldHere) {
                    return false;
                } catch (IOException noLocks) {
                    return modified.isBefore(Instant.now().minus(UNTESTABLE)) && Files.deleteIfExists(p);
                }
                if (lock == null) {
                    return false; // a live writer holds it
                }
                // Deleted while we hold the lock: the writer is gone, and no new one can have it.
                return Files.deleteIfExists(p);
            }
        } catch (NoSuchFileException gone) {
            return false;
        } catch (IOException e) {
            return false; // not ours to fail on; a later sweep tries again
        } finally {
            GUARD.unlock();
        }
    }

    private static void delete(Path path, SecureDirectoryStream<Path> dir) throws IOException {
        if (dir == null) {
            Files.deleteIfExists(path);
            return;
        }
        try {
            dir.deleteFile(path.getFileName());
        } catch (NoSuchFileException gone) {
            // renamed into place, or swept
        }
    }

    private static Object keyOf(BasicFileAttributes a, Path p) {
        Object k = a.fileKey();
        return k != null ? k : p.toAbsolutePath().normalize();
    }
}
