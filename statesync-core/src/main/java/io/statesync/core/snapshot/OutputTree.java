package io.statesync.core.snapshot;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * An output directory that is written only through open directory handles, never by path.
 *
 * <p>Why: checking a path and then opening it is a race. Someone who can write inside the
 * output directory may swap a directory for a symbolic link between our check and our open,
 * and the write lands outside. Here every directory is opened from its parent's handle with
 * {@code O_NOFOLLOW} (a {@link SecureDirectoryStream}: {@code openat}), and files are created,
 * renamed, chmodded and deleted relative to the handle of the directory that holds them, so a
 * link anywhere below the root is refused instead of followed, whenever it appears.
 *
 * <p>The JDK has no {@code mkdirat}, so a missing directory is made in the root under a temp
 * name and moved into place relative to its parent's handle ({@code renameat}); the new
 * directory is then opened like any other. Each directory is opened once per visit from its
 * parent (never by resolving its whole path), which keeps the work linear in depth and works
 * past {@code PATH_MAX}. Idle handles are kept in a small cache, so siblings share their
 * parents' handles.
 *
 * <p>Thread-safe. Handles are lent out by {@link #directoryOf} and must be closed (given back).
 */
final class OutputTree implements AutoCloseable {
    /** Idle directory handles kept open: bounds the descriptors this tree holds. */
    private static final int IDLE_HANDLES = 32;
    private static final String MKDIR_PREFIX = ".statesync-mkdir-";

    private final Path root;
    private Directory rootDir; // set once, right after construction
    // Guarded by this:
    private final Map<String, Directory> open = new LinkedHashMap<>(16, 0.75f, true);
    private boolean closed;

    private OutputTree(Path root) {
        this.root = root;
    }

    /** Opens (creating if needed) {@code dir}; the tree's root is its real path. */
    static OutputTree open(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path real = dir.toRealPath();
        DirectoryStream<Path> ds = Files.newDirectoryStream(real);
        if (!(ds instanceof SecureDirectoryStream<Path> sds)) {
            ds.close();
            throw new IOException("cannot write into " + real + " safely: its file system cannot open directories"
                    + " relative to each other (no SecureDirectoryStream)");
        }
        OutputTree tree = new OutputTree(real);
        tree.rootDir = tree.new Directory("", sds);
        return tree;
    }

    Path root() {
        return root;
    }

    /**
     * The directory that holds {@code relative} (a validated manifest path), made where missing;
     * close it when done. A symbolic link, or anything but a directory, on the way is refused.
     */
    Directory directoryOf(String relative) throws IOException {
        int slash = relative.lastIndexOf('/');
        if (slash < 0) {
            return rootDir.lend();
        }
        String dir = relative.substring(0, slash);
        Directory d = cached(dir);
        if (d != null) {
            return d;
        }
        // Walk down from the deepest ancestor we hold, one level at a time.
        Directory at = rootDir.lend();
        int from = 0;
        for (int cut = dir.lastIndexOf('/'); cut > 0; cut = dir.lastIndexOf('/', cut - 1)) {
            Directory held = cached(dir.substring(0, cut));
            if (held != null) {
                at.close();
                at = held;
                from = cut + 1;
                break;
            }
        }
        try {
            while (true) {
                int next = dir.indexOf('/', from);
                String name = dir.substring(from, next < 0 ? dir.length() : next);
                String path = next < 0 ? dir : dir.substring(0, next);
                Directory child = at.child(name, path, relative);
                at.close();
                at = child;
                if (next < 0) {
                    return at;
                }
                from = next + 1;
            }
        } catch (IOException | RuntimeException e) {
            at.close();
            throw e;
        }
    }

    /** The open handle of {@code path}, lent (handles are shared: they are thread-safe); null if none. */
    private synchronized Directory cached(String path) {
        Directory d = open.get(path);
        if (d == null) {
            return null;
        }
        d.users++;
        return d;
    }

    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            for (Directory d : open.values()) {
                d.handle.close();
            }
            open.clear();
        }
        rootDir.handle.close();
    }

    /** One directory below the root, open. Lent out; {@link #close()} gives it back. */
    final class Directory implements AutoCloseable {
        private final String path;
        private final SecureDirectoryStream<Path> handle;
        // Guarded by OutputTree.this:
        private int users;

        private Directory(String path, SecureDirectoryStream<Path> handle) {
            this.path = path;
            this.handle = handle;
        }

        /** Where this directory is, for messages (a path, which nothing here opens). */
        Path shownAs() {
            return path.isEmpty() ? root : root.resolve(path);
        }

        SecureDirectoryStream<Path> handle() {
            return handle;
        }

        private Directory lend() {
            synchronized (OutputTree.this) {
                users++;
            }
            return this;
        }

        /** Opens (making it if missing) the subdirectory {@code name}, never through a link. */
        private Directory child(String name, String childPath, String forFile) throws IOException {
            SecureDirectoryStream<Path> sub;
            try {
                sub = openSubdirectory(name);
            } catch (NoSuchFileException missing) {
                make(name, forFile);
                sub = openSubdirectory(name);
            } catch (IOException e) {
                throw refusal(name, childPath, forFile, e);
            }
            synchronized (OutputTree.this) {
                Directory before = open.get(childPath);
                if (before != null) {
                    // Another thread opened it meanwhile: share that one.
                    closeQuietly(sub);
                    before.users++;
                    return before;
                }
                Directory d = new Directory(childPath, sub);
                d.users = 1;
                open.put(childPath, d);
                return d;
            }
        }

        private SecureDirectoryStream<Path> openSubdirectory(String name) throws IOException {
            return handle.newDirectoryStream(Path.of(name), LinkOption.NOFOLLOW_LINKS);
        }

        /** Makes subdirectory {@code name}: in the root under a temp name, then moved here. */
        private void make(String name, String forFile) throws IOException {
            // A rename onto an empty directory replaces it, and another writer could have made
            // that one an instant ago; looking first narrows that window to the two calls
            // (the JDK offers no rename that refuses to replace).
            if (attributes(name) != null) {
                return;
            }
            String temp = MKDIR_PREFIX + UUID.randomUUID();
            Files.createDirectory(root.resolve(temp));
            try {
                rootDir.handle.move(Path.of(temp), handle, Path.of(name));
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                // Made by someone else meanwhile: opened (and checked) like any existing entry.
            } catch (IOException e) {
                BasicFileAttributes a = attributes(name);
                if (a == null) {
                    throw new IOException("cannot create directory \"" + name + "\" in " + shownAs() + " for \""
                            + forFile + "\": " + e.getMessage(), e);
                }
                // Something appeared there meanwhile; opening it says what.
            } finally {
                try {
                    rootDir.handle.deleteDirectory(Path.of(temp));
                } catch (NoSuchFileException moved) {
                    // moved into place: nothing left behind
                } catch (IOException ignored) {
                    // left for a later run to see; never in anyone's way
                }
            }
        }

        private IOException refusal(String name, String childPath, String forFile, IOException cause) {
            BasicFileAttributes a;
            try {
                a = attributes(name);
            } catch (IOException e) {
                a = null;
            }
            if (a != null && a.isSymbolicLink()) {
                return new IOException("refusing to write \"" + forFile + "\": \"" + childPath + "\" in " + root
                        + " is a symbolic link (links in the output directory are never followed)", cause);
            }
            if (a != null && !a.isDirectory()) {
                return new IOException("cannot write \"" + forFile + "\": \"" + childPath + "\" in " + root
                        + " exists and is not a directory", cause);
            }
            return new IOException("cannot open directory \"" + childPath + "\" in " + root + ": " + cause.getMessage(), cause);
        }

        /** What is at {@code name} here (a link itself, not its target); null if nothing. */
        BasicFileAttributes attributes(String name) throws IOException {
            try {
                return handle.getFileAttributeView(Path.of(name), BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                        .readAttributes();
            } catch (NoSuchFileException e) {
                return null;
            }
        }

        /** Opens file {@code name} here, never through a link ({@code O_NOFOLLOW}). */
        FileChannel openFile(String name, OpenOption... options) throws IOException {
            Set<OpenOption> opts = new HashSet<>(java.util.List.of(options));
            opts.add(LinkOption.NOFOLLOW_LINKS);
            SeekableByteChannel ch = handle.newByteChannel(Path.of(name), opts);
            if (ch instanceof FileChannel fc) {
                return fc;
            }
            ch.close();
            throw new IOException("cannot write " + shownAs().resolve(name) + ": the file system gave no file channel");
        }

        /** Renames {@code from} to {@code to} in this directory, replacing what {@code to} names ({@code renameat}). */
        void rename(String from, String to) throws IOException {
            handle.move(Path.of(from), handle, Path.of(to));
        }

        /** Deletes file {@code name} here if it is there (a link is removed, not followed). */
        void delete(String name) throws IOException {
            try {
                handle.deleteFile(Path.of(name));
            } catch (NoSuchFileException gone) {
                // nothing to do
            }
        }

        /** Gives {@code name} the rwx bits of {@code mode}, where the file system keeps them. */
        void setMode(String name, int mode) throws IOException {
            PosixFileAttributeView view = handle.getFileAttributeView(Path.of(name), PosixFileAttributeView.class,
                    LinkOption.NOFOLLOW_LINKS);
            if (view == null) {
                return; // not a POSIX file system: modes cannot be kept there
            }
            Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
            PosixFilePermission[] all = PosixFilePermission.values();
            for (int bit = 0; bit < 9; bit++) {
                if ((mode & (1 << (8 - bit))) != 0) {
                    perms.add(all[bit]);
                }
            }
            view.setPermissions(perms);
        }

        /**
         * Whether file {@code name} here has exactly one link. A hard link planted at a name we
         * write through would redirect our writes into another file. The link count is read by
         * path (the JDK reads it no other way) and believed only if that path still leads to the
         * same file as this handle's entry; anything else, including a path too long to read,
         * counts as not single.
         */
        boolean hasSingleLink(String name) {
            try {
                BasicFileAttributes here = attributes(name);
                if (here == null || !here.isRegularFile()) {
                    return false;
                }
                Path p = shownAs().resolve(name);
                Object key = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
                int links = ((Number) Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS)).intValue();
                return key != null && key.equals(here.fileKey()) && links == 1;
            } catch (UnsupportedOperationException | IllegalArgumentException noUnixView) {
                return true; // not a POSIX file system: hard links cannot be told apart
            } catch (IOException e) {
                return false;
            }
        }

        /** Gives the handle back: kept open for the next user while the cache has room. */
        @Override
        public void close() {
            if (this == rootDir) {
                synchronized (OutputTree.this) {
                    users--;
                }
                return;
            }
            synchronized (OutputTree.this) {
                users--;
                if (closed) {
                    closeQuietly(handle);
                    return;
                }
                Iterator<Directory> eldest = open.values().iterator();
                while (open.size() > IDLE_HANDLES && eldest.hasNext()) {
                    Directory d = eldest.next();
                    if (d.users == 0) {
                        eldest.remove();
                        closeQuietly(d.handle);
                    }
                }
            }
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // a directory handle: nothing was written through it that a close could lose
        }
    }
}
