package io.statesync.core.snapshot;

import io.statesync.core.chunking.Chunker;
import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * A snapshot's files assembled in place: every verified chunk is written once, straight into
 * a part file beside its target at the chunk's offset (every offset, if the snapshot uses the
 * chunk more than once), and each part is renamed to its target when its last chunk is in. No
 * byte goes through a second file on the way, which halves the disk writes of a fetch that
 * also kept a store copy.
 *
 * <p><b>Crash rule.</b> Writes are synced in batches, not per chunk: after {@code syncEvery}
 * bytes (and when a file completes) the dirty part files are fsynced, then the places just
 * made durable are appended to a journal ({@code .statesync-fetch-<tag>.journal} in the output
 * directory) and the journal is fsynced. On the next open a place listed in the journal is
 * trusted, provided its part file is still there; any other place is re-read from the part and
 * re-hashed, and counts only if it matches. So a crash between a write and its sync costs a
 * re-hash, never a corrupt byte, and resume stays exact.
 *
 * <p><b>Local bytes first.</b> Before anything is fetched, chunks already at hand are copied
 * into place, each re-hashed on the way: chunks of the files already under the output
 * directory (an older version, cut again by the snapshot's own chunking, which is what makes a
 * delta cheap when chunks are content-defined), then chunks in the store. A target file whose
 * content already equals the snapshot's is left in place.
 *
 * <p>One assembly per output directory at a time: the journal is locked while open.
 * Thread-safe: many fetch workers call {@link #write} at once.
 */
public final class SnapshotAssembly implements AutoCloseable {
    private static final String PART_SUFFIX = ".statesync-fetch";
    private static final String JOURNAL_PREFIX = ".statesync-fetch-";
    private static final String JOURNAL_SUFFIX = ".journal";

    /** The default bound on output bytes against distinct chunk bytes ({@link Options#maxExpansion}). */
    public static final int DEFAULT_MAX_EXPANSION = 100;

    /**
     * How an assembly runs.
     *
     * @param syncEvery bytes written between batched syncs
     * @param maxExpansion the most the files may be, as a multiple of the bytes of their distinct
     *                     chunks; 0 for no bound
     * @param deadlineNanos {@link System#nanoTime()} by which opening must be done (it copies
     *                      what is local, which can take long); {@code Long.MAX_VALUE} for none
     */
    public record Options(long syncEvery, int maxExpansion, long deadlineNanos) {
        public static Options syncingEvery(long syncEvery) {
            return new Options(syncEvery, DEFAULT_MAX_EXPANSION, Long.MAX_VALUE);
        }
    }

    /** Opening took past its deadline; what was written so far is kept for the next run. */
    public static final class DeadlinePassed extends IOException {
        private final String doing;

        DeadlinePassed(String doing) {
            super("the deadline passed while " + doing);
            this.doing = doing;
        }

        /** What opening was doing when the deadline passed, e.g. "copying the chunks already at hand into place". */
        public String doing() {
            return doing;
        }
    }

    /** One chunk to fetch: every place it goes is still empty. */
    public record Needed(Cid cid, int length) {
    }

    /** Where a chunk goes: file index, chunk index in the file, byte offset. */
    private record Place(int file, int chunk, long offset, int length) {
    }

    /** Where bytes that should hash to a chunk's CID can be read locally. */
    private record Seed(Path file, long offset, int length) {
    }

    /** Store subdirectory naming where snapshots were assembled: {@code <root CID>} files holding a path. */
    private static final String FILESTORE = "filestore";
    /** At most this many earlier assemblies lend chunks, newest first: bounds the work at open. */
    private static final int MAX_RECORDS = 8;

    /**
     * Journals this JVM holds open. Another assembly must not even open them to test the lock:
     * POSIX locks belong to the process, and closing any descriptor of the file drops them.
     */
    private static final Set<Path> OPEN_JOURNALS = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private final Manifest manifest;
    private final Cid root;
    private final ContentStore store;
    private final Path realOut;
    private final OutputTree tree;
    private final long deadlineNanos;
    private final String tag;
    private final long syncEvery;
    private final FileChannel journal;
    private final FileLock journalLock;
    private final Part[] parts;

    // Guarded by this:
    /** Every chunk with at least one place still to write, in manifest order. */
    private final Map<Cid, List<Place>> pending = new LinkedHashMap<>();
    /** Places written since the last sync. */
    private List<Place> unsynced = new ArrayList<>();
    private long unsyncedBytes;
    private boolean closed;
    /** {@link #write} calls under way. */
    private int writing;

    private SnapshotAssembly(Manifest manifest, Cid root, ContentStore store, OutputTree tree, String tag, long syncEvery,
                             long deadlineNanos, FileChannel journal, FileLock journalLock) {
        this.manifest = manifest;
        this.root = root;
        this.store = store;
        this.tree = tree;
        this.realOut = tree.root();
        this.deadlineNanos = deadlineNanos;
        this.tag = tag;
        this.syncEvery = syncEvery;
        this.journal = journal;
        this.journalLock = journalLock;
        this.parts = new Part[manifest.files().size()];
    }

    /**
     * Opens the assembly of snapshot {@code root} under {@code outDir}: resumes what an earlier
     * run left, copies what is local into place, and leaves {@link #needed()} to the caller.
     *
     * @param store chunks it holds are copied rather than fetched; may be null
     * @param syncEvery bytes written between batched syncs
     */
    public static SnapshotAssembly open(Manifest manifest, Cid root, Path outDir, ContentStore store, long syncEvery)
            throws IOException, InterruptedException {
        return open(manifest, root, outDir, store, Options.syncingEvery(syncEvery));
    }

    /**
     * Opens the assembly of snapshot {@code root} under {@code outDir} (see the other form).
     * Refused before anything is written: a store inside {@code outDir}, files that expand past
     * {@code options.maxExpansion()}, or too little free space for what is still to write.
     */
    public static SnapshotAssembly open(Manifest manifest, Cid root, Path outDir, ContentStore store, Options options)
            throws IOException, InterruptedException {
        try {
            ManifestValidator.validate(manifest, ManifestLimits.DEFAULT.withMaxChunks(Long.MAX_VALUE)
                    .withMaxFiles(Integer.MAX_VALUE).withMaxTotalBytes(Long.MAX_VALUE));
        } catch (ManifestException e) {
            throw new IllegalArgumentException("invalid manifest: " + e.getMessage(), e);
        }
        OutputChecks.boundExpansion(manifest, options.maxExpansion());
        OutputTree tree = OutputTree.open(outDir);
        try {
            OutputChecks.refuseStoreInside(store, tree.root());
            return open(manifest, root, tree, store, options);
        } catch (IOException | InterruptedException | RuntimeException e) {
            tree.close();
            throw e;
        }
    }

    private static SnapshotAssembly open(Manifest manifest, Cid root, OutputTree tree, ContentStore store, Options options)
            throws IOException, InterruptedException {
        Path realOut = tree.root();
        String tag = tagOf(root);
        Path journalPath = realOut.resolve(JOURNAL_PREFIX + tag + JOURNAL_SUFFIX);
        if (!OPEN_JOURNALS.add(journalPath)) {
            throw new IOException("another fetch is writing snapshot " + root + " into " + realOut);
        }
        FileChannel journal;
        try {
            journal = FileChannel.open(journalPath, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException | RuntimeException e) {
            OPEN_JOURNALS.remove(journalPath);
            throw e;
        }
        FileLock lock;
        try {
            lock = journal.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException heldInThisJvm) {
            lock = null;
        } catch (IOException | RuntimeException e) {
            journal.close();
            OPEN_JOURNALS.remove(journalPath);
            throw e;
        }
        if (lock == null) {
            journal.close();
            OPEN_JOURNALS.remove(journalPath);
            throw new IOException("another fetch is writing snapshot " + root + " into " + realOut);
        }
        SnapshotAssembly a = new SnapshotAssembly(manifest, root, store, tree, tag, Math.max(1, options.syncEvery()),
                options.deadlineNanos(), journal, lock);
        try {
            a.removeOtherRuns();
            a.prepare();
            return a;
        } catch (IOException | InterruptedException | RuntimeException e) {
            a.close();
            throw e;
        }
    }

    /** The chunks still to fetch, each once, in manifest order. */
    public synchronized List<Needed> needed() {
        List<Needed> out = new ArrayList<>(pending.size());
        for (Map.Entry<Cid, List<Place>> e : pending.entrySet()) {
            out.add(new Needed(e.getKey(), e.getValue().get(0).length()));
        }
        return out;
    }

    /**
     * Writes a chunk the caller has verified against {@code cid} to every place it goes. A chunk
     * not pending (written already by a hedged duplicate) is ignored.
     */
    public void write(Cid cid, byte[] bytes, int length) throws IOException {
        List<Place> places;
        synchronized (this) {
            places = pending.remove(cid);
            if (places == null) {
                return;
            }
            writing++;
        }
        int written = 0;
        try {
            for (Place p : places) {
                writeBytes(p, bytes, length);
                written++;
                placeDone(cid, p, false);
            }
        } finally {
            synchronized (this) {
                if (written < places.size()) {
                    // Not every place got its bytes (an interrupt, a disk error): those are
                    // pending again, so the assembly cannot finish without them.
                    pending.put(cid, new ArrayList<>(places.subList(written, places.size())));
                }
                writing--;
                notifyAll();
            }
        }
    }

    /**
     * Waits until no {@link #write} is under way. A hedged duplicate of a chunk returns at once
     * (the chunk is no longer pending) while the first copy may still be writing, or renaming
     * the file it completed; a caller that counts chunks done must wait here before it stops
     * its writers (an interrupt would cut that write short) or finishes.
     */
    public synchronized void awaitWrites() {
        boolean interrupted = false;
        while (writing > 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true; // a write is short; the caller's cancellation waits for it
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Ends a complete assembly: the last parts are synced and renamed, untouched targets get
     * their modes, and the journal is removed.
     */
    public void finish() throws IOException {
        awaitWrites();
        synchronized (this) {
            if (!pending.isEmpty()) {
                throw new IllegalStateException(pending.size() + " chunks are still missing");
            }
        }
        for (int i = 0; i < parts.length; i++) {
            Part p = part(i);
            if (!p.finished) {
                finishFile(i);
            }
        }
        close();
        Files.deleteIfExists(realOut.resolve(JOURNAL_PREFIX + tag + JOURNAL_SUFFIX));
        recordInStore();
    }

    /**
     * Notes in the store where this snapshot now lies (kubo's filestore idea: the store refers to
     * files instead of holding a copy), so a later assembly elsewhere copies its chunks from
     * here rather than fetching them. The files may change later; every copy re-hashes.
     */
    private void recordInStore() throws IOException {
        if (store == null) {
            return;
        }
        Path dir = store.root().resolve(FILESTORE);
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + root + ".tmp");
        Files.writeString(tmp, realOut.toString());
        Files.move(tmp, dir.resolve(root.toString()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Chunks of snapshots assembled earlier (see {@link #recordInStore()}) that this one needs. */
    private void seedFromRecords(Map<Cid, Seed> seeds) throws IOException {
        Path dir = store.root().resolve(FILESTORE);
        if (!Files.isDirectory(dir)) {
            return;
        }
        List<Path> records;
        try (Stream<Path> list = Files.list(dir)) {
            records = list.filter(p -> !p.getFileName().toString().startsWith(".")).sorted((a, b) -> {
                try {
                    return Files.getLastModifiedTime(b).compareTo(Files.getLastModifiedTime(a));
                } catch (IOException e) {
                    return 0;
                }
            }).limit(MAX_RECORDS).toList();
        }
        Set<Cid> wanted;
        synchronized (this) {
            wanted = new HashSet<>(pending.keySet());
        }
        wanted.removeAll(seeds.keySet());
        for (Path record : records) {
            if (wanted.isEmpty()) {
                return;
            }
            try {
                Cid other = Cid.parse(record.getFileName().toString());
                Path otherOut = Path.of(Files.readString(record).trim());
                if (!Files.isDirectory(otherOut)) {
                    Files.deleteIfExists(record); // gone: the record can never lend again
                    continue;
                }
                Manifest m = SnapshotImporter.loadManifest(store, other, ManifestLimits.DEFAULT);
                for (FileEntry f : m.files()) {
                    long offset = 0;
                    for (int c = 0; c < f.chunks().size(); c++) {
                        int len = m.chunkLength(f, c);
                        Cid cid = f.chunks().get(c);
                        if (wanted.remove(cid)) {
                            seeds.put(cid, new Seed(otherOut.resolve(f.path()), offset, len));
                        }
                        offset += len;
                    }
                }
            } catch (IOException | ManifestException | RuntimeException e) {
                // An unreadable record or manifest lends nothing; the chunks are fetched.
            }
        }
    }

    /** Makes what was written durable and journaled (so a rerun resumes it), then lets go of every file. */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
        }
        IOException failure = null;
        try {
            syncBatch();
        } catch (IOException e) {
            failure = e;
        }
        synchronized (this) {
            closed = true;
        }
        for (Part p : parts) {
            if (p != null && p.channel != null) {
                try {
                    p.channel.close();
                } catch (IOException e) {
                    failure = failure == null ? e : failure;
                }
            }
        }
        journalLock.release();
        journal.close();
        OPEN_JOURNALS.remove(realOut.resolve(JOURNAL_PREFIX + tag + JOURNAL_SUFFIX));
        try {
            tree.close();
        } catch (IOException e) {
            failure = failure == null ? e : failure;
        }
        if (failure != null) {
            throw failure;
        }
    }

    // ---- open: resume, seeds, copies --------------------------------------------------------

    private void prepare() throws IOException, InterruptedException {
        Set<Long> journaled = readJournal();
        List<Place> toCheck = new ArrayList<>();
        List<Integer> targetsToScan = new ArrayList<>();
        long[] partBytes = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            checkDeadline("preparing the output directory");
            FileEntry f = manifest.files().get(i);
            Part p = new Part(f.path(), "." + tag + "." + i + PART_SUFFIX, f.chunks().size());
            parts[i] = p;
            boolean partExists;
            boolean targetIsFile;
            try (OutputTree.Directory dir = tree.directoryOf(f.path())) {
                BasicFileAttributes target = dir.attributes(p.targetName);
                if (target != null && target.isDirectory()) {
                    throw new IOException("cannot write \"" + f.path() + "\": a directory of that name exists in " + realOut);
                }
                targetIsFile = target != null && target.isRegularFile();
                removeIfForeign(dir, p.partName);
                BasicFileAttributes part = dir.attributes(p.partName);
                partExists = part != null && part.isRegularFile();
                partBytes[i] = partExists ? part.size() : 0;
                p.resumedKey = partExists ? part.fileKey() : null;
            }
            long offset = 0;
            for (int c = 0; c < f.chunks().size(); c++) {
                int len = manifest.chunkLength(f, c);
                Place place = new Place(i, c, offset, len);
                offset += len;
                if (partExists && journaled.contains(key(i, c))) {
                    p.remaining--;
                    continue;
                }
                if (partExists) {
                    toCheck.add(place);
                }
                pending.computeIfAbsent(f.chunks().get(c), k -> new ArrayList<>(1)).add(place);
            }
            if (!partExists && targetIsFile) {
                targetsToScan.add(i);
            }
        }
        recheckParts(toCheck);
        Map<Cid, Seed> seeds = new HashMap<>();
        for (int i : targetsToScan) {
            checkDeadline("reading the files already in the output directory");
            scanTarget(i, seeds);
        }
        long toWrite = 0;
        for (int i = 0; i < parts.length; i++) {
            if (!parts[i].inPlace) {
                toWrite += Math.max(0, manifest.files().get(i).size() - partBytes[i]);
            }
        }
        OutputChecks.requireFreeSpace(realOut, toWrite);
        if (store != null) {
            seedFromRecords(seeds);
            for (Cid cid : pending.keySet()) {
                if (!seeds.containsKey(cid) && store.has(cid)) {
                    seeds.put(cid, new Seed(store.pathOf(cid), 0, pending.get(cid).get(0).length()));
                }
            }
        }
        copySeeds(seeds);
    }

    /**
     * Part names are ours, and predictable (a rerun must find them). Anything at one that is not
     * a plain file with a single link (a symlink or a hard link planted there to redirect our
     * writes into another file) is removed, never written through.
     */
    private static void removeIfForeign(OutputTree.Directory dir, String part) throws IOException {
        if (dir.attributes(part) != null && !dir.hasSingleLink(part)) {
            dir.delete(part);
        }
    }

    private void checkDeadline(String doing) throws DeadlinePassed {
        if (System.nanoTime() - deadlineNanos > 0 && deadlineNanos != Long.MAX_VALUE) {
            throw new DeadlinePassed(doing);
        }
    }

    /** Places an earlier run wrote but had not yet synced: kept if their bytes still hash right. */
    private void recheckParts(List<Place> places) throws IOException, InterruptedException {
        Map<Integer, List<Place>> byFile = new LinkedHashMap<>();
        for (Place p : places) {
            byFile.computeIfAbsent(p.file(), k -> new ArrayList<>()).add(p);
        }
        parallel(new ArrayList<>(byFile.values()), list -> {
            Part part = part(list.get(0).file());
            try (OutputTree.Directory dir = tree.directoryOf(part.file);
                 FileChannel in = dir.openFile(part.partName, StandardOpenOption.READ)) {
                MessageDigest md = Cid.newDigest();
                ByteBuffer buf = ByteBuffer.allocate(manifest.chunkSize());
                for (Place p : list) {
                    checkDeadline("re-checking the writes of an interrupted run");
                    if (p.offset() + p.length() > in.size()) {
                        continue;
                    }
                    buf.clear().limit(p.length());
                    readFully(in, buf, p.offset());
                    md.update(buf.array(), 0, p.length());
                    Cid cid = manifest.files().get(p.file()).chunks().get(p.chunk());
                    if (cid.matches(md.digest())) {
                        placeDone(cid, p, true);
                    }
                }
            }
        });
    }

    /**
     * Cuts the file already at target {@code i} (an older version, or this one) with the
     * snapshot's chunking; every chunk of it the snapshot needs becomes a seed. A target whose
     * chunks are exactly the snapshot's is already right and is left where it is.
     */
    private void scanTarget(int i, Map<Cid, Seed> seeds) throws IOException {
        FileEntry f = manifest.files().get(i);
        Part part = part(i);
        List<Cid> found = new ArrayList<>();
        long[] offset = {0};
        MessageDigest md = Cid.newDigest();
        Set<Cid> wanted;
        synchronized (this) {
            wanted = new HashSet<>(pending.keySet());
        }
        Chunking chunking = manifest.chunking();
        Path shownAs = realOut.resolve(part.file);
        try (OutputTree.Directory dir = tree.directoryOf(part.file);
             InputStream in = Channels.newInputStream(dir.openFile(part.targetName, StandardOpenOption.READ))) {
            Chunker.cut(chunking, in, (buf, off, len) -> {
                md.update(buf, off, len);
                Cid cid = Cid.of(io.statesync.core.cid.Codec.RAW, md.digest());
                found.add(cid);
                if (wanted.contains(cid) && !seeds.containsKey(cid)) {
                    // Read again by path when copied: whatever is read there is re-hashed first.
                    seeds.put(cid, new Seed(shownAs, offset[0], len));
                }
                offset[0] += len;
            });
        } catch (NoSuchFileException gone) {
            return;
        }
        if (offset[0] == f.size() && found.equals(f.chunks())) {
            synchronized (this) {
                for (int c = 0; c < f.chunks().size(); c++) {
                    List<Place> places = pending.get(f.chunks().get(c));
                    if (places != null) {
                        int chunk = c;
                        places.removeIf(p -> p.file() == i && p.chunk() == chunk);
                        if (places.isEmpty()) {
                            pending.remove(f.chunks().get(c));
                        }
                    }
                }
                part.remaining = 0;
                part.inPlace = true;
            }
        }
    }

    /** Copies every seeded chunk into its places, re-hashing it on the way, on all cores. */
    private void copySeeds(Map<Cid, Seed> seeds) throws IOException, InterruptedException {
        List<Map.Entry<Cid, Seed>> work;
        synchronized (this) {
            work = new ArrayList<>();
            for (Map.Entry<Cid, Seed> e : seeds.entrySet()) {
                if (pending.containsKey(e.getKey())) {
                    work.add(e);
                }
            }
        }
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        List<List<Map.Entry<Cid, Seed>>> slices = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            slices.add(new ArrayList<>());
        }
        for (int k = 0; k < work.size(); k++) {
            slices.get(k % threads).add(work.get(k));
        }
        slices.removeIf(List::isEmpty);
        parallel(slices, slice -> {
            MessageDigest md = Cid.newDigest();
            byte[] buf = new byte[manifest.chunkSize()];
            for (Map.Entry<Cid, Seed> e : slice) {
                Seed s = e.getValue();
                checkDeadline("copying the chunks already at hand into place");
                try (FileChannel in = FileChannel.open(s.file(), StandardOpenOption.READ)) {
                    if (s.offset() + s.length() > in.size()) {
                        continue;
                    }
                    readFully(in, ByteBuffer.wrap(buf, 0, s.length()), s.offset());
                } catch (IOException gone) {
                    continue; // removed, or unreadable: fetched instead
                }
                md.update(buf, 0, s.length());
                if (!e.getKey().matches(md.digest())) {
                    continue; // changed since it was cut, or corrupt in the store: fetched instead
                }
                List<Place> places;
                synchronized (this) {
                    places = pending.remove(e.getKey());
                }
                if (places != null) {
                    writePlaces(places, buf, s.length());
                }
            }
        });
    }

    // ---- writing, syncing, finishing ---------------------------------------------------------

    private void writePlaces(List<Place> places, byte[] bytes, int length) throws IOException {
        for (Place p : places) {
            writeBytes(p, bytes, length);
            Cid cid = manifest.files().get(p.file()).chunks().get(p.chunk());
            placeDone(cid, p, false);
        }
    }

    private void writeBytes(Place p, byte[] bytes, int length) throws IOException {
        if (p.length() != length) {
            throw new IllegalArgumentException("chunk of " + length + " bytes for a place of " + p.length());
        }
        FileChannel ch = channel(p.file());
        ByteBuffer buf = ByteBuffer.wrap(bytes, 0, length);
        long pos = p.offset();
        while (buf.hasRemaining()) {
            pos += ch.write(buf, pos);
        }
    }

    /** Counts a written place; finishes its file when it was the last, and syncs a full batch. */
    private void placeDone(Cid cid, Place p, boolean rechecked) throws IOException {
        boolean fileDone;
        boolean batchFull;
        synchronized (this) {
            if (rechecked) {
                List<Place> places = pending.get(cid);
                if (places == null || !places.remove(p)) {
                    return;
                }
                if (places.isEmpty()) {
                    pending.remove(cid);
                }
            }
            Part part = parts[p.file()];
            part.remaining--;
            part.dirty = true;
            unsynced.add(p);
            unsyncedBytes += p.length();
            fileDone = part.remaining == 0;
            batchFull = unsyncedBytes >= syncEvery;
        }
        if (fileDone) {
            finishFile(p.file());
        }
        if (batchFull) {
            syncBatch();
        }
    }

    /** Fsyncs the dirty parts, then journals the places written before that sync began. */
    private void syncBatch() throws IOException {
        List<Place> batch;
        List<FileChannel> dirty = new ArrayList<>();
        synchronized (this) {
            if (closed || unsynced.isEmpty()) {
                return;
            }
            batch = unsynced;
            unsynced = new ArrayList<>();
            unsyncedBytes = 0;
            for (Part p : parts) {
                if (p != null && p.dirty && p.channel != null && !p.finished) {
                    dirty.add(p.channel);
                    p.dirty = false;
                }
            }
        }
        for (FileChannel ch : dirty) {
            try {
                ch.force(false);
            } catch (ClosedChannelException finishedMeanwhile) {
                // Its file was finished (and forced) by another thread.
            }
        }
        StringBuilder lines = new StringBuilder(batch.size() * 12);
        for (Place p : batch) {
            lines.append(p.file()).append(' ').append(p.chunk()).append('\n');
        }
        ByteBuffer buf = ByteBuffer.wrap(lines.toString().getBytes(StandardCharsets.US_ASCII));
        synchronized (journal) {
            while (buf.hasRemaining()) {
                journal.write(buf, journal.size());
            }
            journal.force(false);
        }
    }

    /** A file with every chunk in: synced, given its mode, renamed over its target. */
    private void finishFile(int i) throws IOException {
        FileEntry f = manifest.files().get(i);
        Part p;
        FileChannel ch;
        synchronized (this) {
            p = parts[i];
            if (p.finished) {
                return;
            }
            p.finished = true;
            ch = p.channel;
            p.channel = null;
        }
        try (OutputTree.Directory dir = tree.directoryOf(p.file)) {
            finishFile(f, p, ch, dir);
        } catch (IOException | RuntimeException e) {
            synchronized (this) {
                p.finished = false; // not in place: finish() tries again
            }
            throw e;
        }
    }

    private void finishFile(FileEntry f, Part p, FileChannel ch, OutputTree.Directory dir) throws IOException {
        if (p.inPlace) {
            dir.setMode(p.targetName, f.mode());
            return;
        }
        if (ch == null) {
            ch = openPart(dir, p);
        }
        long size;
        try (FileChannel c = ch) {
            if (c.size() != f.size()) {
                c.truncate(f.size()); // a longer part left by a different earlier version
            }
            c.force(true);
            size = c.size();
        }
        if (size != f.size()) {
            throw new IOException("\"" + f.path() + "\": assembled " + size + " bytes, expected " + f.size());
        }
        dir.setMode(p.partName, f.mode());
        // renameat in the file's own directory: replaces a link at the name, never follows it.
        dir.rename(p.partName, p.targetName);
    }

    /**
     * Opens a part for writing, never through a link: a new part is created exclusively (so it
     * is a file we made), and an earlier run's part must still be the file found at open, with a
     * single link (a hard link planted there would redirect our writes into another file).
     */
    private FileChannel openPart(OutputTree.Directory dir, Part p) throws IOException {
        if (p.resumedKey == null) {
            FileChannel created = dir.openFile(p.partName, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            // From here on it is the file we made; a reopen (to finish it) must find that one.
            BasicFileAttributes a = dir.attributes(p.partName);
            p.resumedKey = a != null && a.fileKey() != null ? a.fileKey() : new Object();
            return created;
        }
        FileChannel ch = dir.openFile(p.partName, StandardOpenOption.READ, StandardOpenOption.WRITE);
        BasicFileAttributes now = dir.attributes(p.partName);
        if (now == null || !p.resumedKey.equals(now.fileKey()) || !dir.hasSingleLink(p.partName)) {
            ch.close();
            throw new IOException("the partial file " + realOut.resolve(p.file).resolveSibling(p.partName)
                    + " was replaced while this fetch ran; refusing to write through it");
        }
        return ch;
    }

    private FileChannel channel(int i) throws IOException {
        synchronized (this) {
            Part p = parts[i];
            if (closed || p.finished) {
                throw new ClosedChannelException();
            }
            if (p.channel != null && !p.channel.isOpen()) {
                p.channel = null; // closed by an interrupted write: the file is reopened (and checked)
            }
            if (p.channel == null) {
                try (OutputTree.Directory dir = tree.directoryOf(p.file)) {
                    p.channel = openPart(dir, p);
                }
            }
            return p.channel;
        }
    }

    private synchronized Part part(int i) {
        return parts[i];
    }

    // ---- journal and leftovers ---------------------------------------------------------------

    private Set<Long> readJournal() throws IOException {
        Set<Long> out = new HashSet<>();
        long size = journal.size();
        if (size == 0) {
            return out;
        }
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(size, Integer.MAX_VALUE - 8));
        readFully(journal, buf, 0);
        String text = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
        int end = text.lastIndexOf('\n'); // a line torn by a crash mid-append is ignored
        for (String line : text.substring(0, Math.max(0, end)).split("\n")) {
            int sp = line.indexOf(' ');
            if (sp <= 0) {
                continue;
            }
            try {
                int file = Integer.parseInt(line.substring(0, sp));
                int chunk = Integer.parseInt(line.substring(sp + 1));
                out.add(key(file, chunk));
            } catch (NumberFormatException e) {
                // not ours; ignored
            }
        }
        return out;
    }

    /**
     * Removes the journals and part files of interrupted fetches of other snapshots into this
     * directory, unless a live fetch holds them: no later run would ever finish them.
     */
    private void removeOtherRuns() throws IOException {
        Set<String> deadTags = new HashSet<>();
        try (Stream<Path> list = Files.list(realOut)) {
            for (Path j : (Iterable<Path>) list::iterator) {
                String name = j.getFileName().toString();
                if (!name.startsWith(JOURNAL_PREFIX) || !name.endsWith(JOURNAL_SUFFIX)) {
                    continue;
                }
                String other = name.substring(JOURNAL_PREFIX.length(), name.length() - JOURNAL_SUFFIX.length());
                if (other.equals(tag) || OPEN_JOURNALS.contains(j)) {
                    continue;
                }
                try (FileChannel ch = FileChannel.open(j, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
                     FileLock l = ch.tryLock()) {
                    if (l != null) {
                        deadTags.add(other);
                        Files.deleteIfExists(j);
                    }
                } catch (java.nio.channels.OverlappingFileLockException liveInThisJvm) {
                    // another assembly of this process is writing there
                }
            }
        }
        if (deadTags.isEmpty()) {
            return;
        }
        try (Stream<Path> walk = Files.walk(realOut)) {
            removeParts(walk, deadTags);
        } catch (java.io.UncheckedIOException unreadable) {
            // a directory past PATH_MAX or gone meanwhile: its leftovers wait for a later run
        }
    }

    private static void removeParts(Stream<Path> walk, Set<String> deadTags) throws IOException {
        for (Path p : (Iterable<Path>) walk::iterator) {
            String name = p.getFileName().toString();
            for (String t : deadTags) {
                // .<tag>.<file index>.statesync-fetch, or the older .<file name>.<tag>.statesync-fetch
                boolean ours = name.startsWith("." + t + ".") && name.endsWith(PART_SUFFIX)
                        || name.startsWith(".") && name.endsWith("." + t + PART_SUFFIX);
                if (ours && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }


    // ---- helpers -----------------------------------------------------------------------------

    private interface Work<T> {
        void run(T item) throws IOException;
    }

    /** Runs one item per virtual thread and waits for all; the first failure is thrown. */
    private static <T> void parallel(List<T> items, Work<T> work) throws IOException, InterruptedException {
        if (items.isEmpty()) {
            return;
        }
        try (ExecutorService pool = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("statesync-assembly-", 0).factory())) {
            List<Future<?>> futures = new ArrayList<>();
            for (T item : items) {
                futures.add(pool.submit(() -> {
                    work.run(item);
                    return null;
                }));
            }
            try {
                for (Future<?> f : futures) {
                    f.get();
                }
            } catch (ExecutionException e) {
                pool.shutdownNow();
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                throw new IOException(e.getCause());
            } catch (InterruptedException e) {
                pool.shutdownNow();
                throw e;
            }
        }
    }

    private static void readFully(FileChannel in, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = in.read(buf, pos);
            if (n < 0) {
                break;
            }
            pos += n;
        }
    }

    private static long key(int file, int chunk) {
        return ((long) file << 32) | (chunk & 0xffffffffL);
    }

    /** 16 hex digits of the root's digest: short enough for any file name, unique enough per directory. */
    private static String tagOf(Cid root) {
        byte[] d = root.digest();
        return HexFormat.of().formatHex(d, d.length - 8, d.length);
    }

    /** One output file's state. Guarded by the assembly's lock. */
    private static final class Part {
        /** The file's path in the snapshot (relative to the output directory). */
        final String file;
        final String targetName;
        /** {@code .<tag>.<file index>.statesync-fetch}: short, so any legal target name has room. */
        final String partName;
        /** The part an earlier run left, by device and inode; null when the part is made new. */
        Object resumedKey;
        int remaining;
        FileChannel channel;
        boolean dirty;
        boolean finished;
        /** The target already holds exactly this file: nothing to write. */
        boolean inPlace;

        Part(String file, String partName, int chunks) {
            this.file = file;
            this.targetName = file.substring(file.lastIndexOf('/') + 1);
            this.partName = partName;
            this.remaining = chunks;
        }
    }
}
