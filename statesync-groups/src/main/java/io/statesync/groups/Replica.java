package io.statesync.groups;

import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.files.FileTrees;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestException;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.Materializer;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.CommittedLog;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotCatalog;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.SyncProvider;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One member's copy of the group state and everything kept with it: the user's state machine, the
 * position and chain value it reflects, the committed log served to peers, the snapshot catalog
 * and the content store. Every change of the state goes through here, in log order, whether from
 * the consensus engine or from a catch-up session.
 *
 * <p>Snapshots: at every multiple of {@code snapshotEvery} and wherever the machine asks ({@link
 * StateMachine#snapshotDue}). A machine that can {@linkplain StateMachine#capture capture} its state
 * has the capture written by the {@link SnapshotWriter} on its own thread while apply goes on; the
 * snapshot counts only once {@link #record} committed it, so nothing (catalog, peers, Ratis)
 * sees a snapshot that is still being written. Other machines write theirs on the apply thread.
 */
final class Replica implements AutoCloseable, SnapshotWriter.Recorder {
    private static final Logger log = LoggerFactory.getLogger(Replica.class);
    private final String groupId;
    private final GroupConfig config;
    private final StateMachine machine;
    private final ContentStore store;
    private final CommittedLog committed;
    private final SnapshotCatalog catalog;
    private final Path stateDir;
    private final SnapshotWriter writer;
    /** A captured snapshot is being written: dropping snapshots waits (their blobs may be reused). */
    private volatile boolean writing;
    /** Catch-up sessions running now (guarded by this). */
    private int sessions;
    /** Blobs of dropped snapshots waiting for the sessions to end (guarded by this). */
    private final Set<Cid> unreferenced = new HashSet<>();
    /** Captures are written on the writer thread; off while the replica re-applies entries at open. */
    private volatile boolean async;
    private volatile LogPosition applied = LogPosition.ORIGIN;
    private byte[] chain = Chain.GENESIS;
    /** The directory the machine's current state was installed from, if any. */
    private Path installedDir;
    private volatile SyncProvider provider;
    /** Set when an entry could not be applied: the member then stops instead of diverging. */
    private volatile String failure;

    private Replica(String groupId, GroupConfig config, StateMachine machine, ContentStore store,
                    CommittedLog committed, SnapshotCatalog catalog, Path stateDir, MeterRegistry registry) {
        this.groupId = groupId;
        this.config = config;
        this.machine = machine;
        this.store = store;
        this.committed = committed;
        this.catalog = catalog;
        this.stateDir = stateDir;
        this.writer = new SnapshotWriter(groupId, config.name(), store, stateDir, this, registry);
    }

    /**
     * Opens the member's group directory: installs the newest snapshot into the machine, then
     * re-applies the committed entries kept after it, so the state is where it was before a stop.
     * Snapshot points met while re-applying are written on this thread.
     */
    static Replica open(String groupId, GroupConfig config, StateMachine machine, Path groupDir,
                        MeterRegistry registry) throws IOException {
        ContentStore store = ContentStore.open(groupDir.resolve("store"));
        CommittedLog committed = CommittedLog.open(groupDir.resolve("log"), logSegmentBytes(config.retainLogBytes()));
        SnapshotCatalog catalog = SnapshotCatalog.open(groupDir.resolve("snapshots.json"));
        Path stateDir = Files.createDirectories(groupDir.resolve("state"));
        SnapshotWriter.removeLeftovers(stateDir);
        Replica r = new Replica(groupId, config, machine, store, committed, catalog, stateDir, registry);
        try {
            Optional<SnapshotRecord> latest = catalog.latest();
            if (latest.isPresent()) {
                r.load(latest.get(), true);
            }
            r.recover();
        } catch (IOException | RuntimeException e) {
            try {
                r.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        r.async = true;
        return r;
    }

    /**
     * Pruning drops whole segments, so a segment is an eighth of the byte budget (64 KiB to
     * 64 MiB): the kept log then stays within the budget, and close to it, instead of swinging
     * by a segment as large as the budget itself.
     */
    static long logSegmentBytes(long retainLogBytes) {
        return Math.max(64L << 10, Math.min(64L << 20, retainLogBytes / 8));
    }

    /** Re-applies kept entries past the snapshot, or resets the log if it does not continue it. */
    private void recover() throws IOException {
        Optional<CommittedLog.Point> at = committed.at(applied.index());
        if (at.isEmpty() || !Arrays.equals(at.get().chain(), chain)) {
            if (committed.last().index() > 0 || applied.index() > 0) {
                log.info("group {}: committed log does not continue the snapshot at {}; starting it there", groupId,
                        applied);
            }
            committed.resetTo(applied, chain);
            return;
        }
        long last = committed.last().index();
        long replayed = 0;
        while (applied.index() < last) {
            for (CommittedLog.Stored s : committed.read(applied.index() + 1, last, 8L << 20)) {
                apply(s.entry());
                replayed++;
            }
        }
        if (replayed > 0) {
            log.info("group {}: re-applied {} kept entries up to {}", groupId, replayed, applied);
        }
    }

    void provider(SyncProvider provider) {
        this.provider = provider;
    }

    LogPosition applied() {
        return applied;
    }

    synchronized byte[] chain() {
        return chain.clone();
    }

    /** The position and its chain value in one reading (apply and install change both under this lock). */
    synchronized io.statesync.groups.sync.SessionContext.Applied appliedNow() {
        return new io.statesync.groups.sync.SessionContext.Applied(applied, chain.clone());
    }

    ContentStore store() {
        return store;
    }

    CommittedLog log() {
        return committed;
    }

    List<SnapshotRecord> snapshots() {
        return catalog.all();
    }

    Optional<SnapshotRecord> latestSnapshot() {
        return catalog.latest();
    }

    StateMachine machine() {
        return machine;
    }

    /**
     * Applies the next entry: to the machine (commands only), the chain and the committed log; at a
     * snapshot index, takes a snapshot. An entry at or below the applied index is ignored (the
     * engine replays after a restart); one past the next is a bug and throws.
     *
     * @return the command's result, or null
     */
    synchronized byte[] apply(LogEntry entry) throws IOException {
        if (failure != null) {
            throw new IllegalStateException("group " + groupId + " stopped on this member: " + failure);
        }
        long next = applied.index() + 1;
        if (entry.index() < next) {
            return null;
        }
        if (entry.index() > next) {
            throw new IllegalStateException("group " + groupId + ": entry " + entry.index() + " arrived when "
                    + next + " was expected");
        }
        byte[] after = Chain.next(chain, entry);
        byte[] result;
        try {
            // The log first: an entry the machine applied must never be applied again, and after
            // a failure below this member stops (fail-stop) rather than drift from the others.
            long logLast = committed.last().index();
            if (logLast < entry.index() - 1) {
                // The kept log ends before the state (it cannot serve this gap anyway): restart it here.
                committed.resetTo(applied, chain);
                logLast = applied.index();
            }
            if (logLast == entry.index() - 1) {
                committed.append(entry, after);
            }
            result = entry.kind() == LogEntry.Kind.COMMAND ? machine.apply(entry.index(), entry.data()) : null;
        } catch (IOException | RuntimeException e) {
            failure = "applying entry " + entry.index() + " failed: " + e;
            log.error("group {}: {}; this member stops applying", groupId, failure, e);
            throw e;
        }
        chain = after;
        applied = entry.position();
        // The machine is asked at every entry (no-ops too), so it always knows the index it is at.
        boolean due = machine.snapshotDue(entry.index());
        if (due || entry.index() % config.snapshotEvery() == 0) {
            snapshotPoint();
        }
        SyncProvider p = provider;
        if (p != null) {
            p.committed(applied);
        }
        return result;
    }

    /**
     * A snapshot point, on the apply thread: a capture goes to the writer (or is closed unwritten
     * and counted as skipped while another write runs; a failed capture is logged and counted, the
     * state is unaffected); a machine without capture support is snapshotted here, as before.
     */
    private void snapshotPoint() throws IOException {
        Optional<SnapshotRecord> latest = catalog.latest();
        if (latest.isPresent() && latest.get().index() == applied.index()) {
            return;
        }
        Optional<StateMachine.SnapshotCapture> capture;
        try {
            capture = machine.capture();
        } catch (IOException | RuntimeException e) {
            writer.captureFailed(applied, e);
            return;
        }
        if (capture.isEmpty()) {
            snapshot();
            return;
        }
        if (!writer.tryClaim()) {
            closeQuietly(capture.get());
            writer.skipped(applied);
            return;
        }
        SnapshotWriter.Captured captured = new SnapshotWriter.Captured(capture.get(), applied, chain.clone());
        writing = true;
        if (async) {
            writer.writeAsync(captured);
        } else {
            writer.writeHere(captured);
        }
    }

    private void closeQuietly(StateMachine.SnapshotCapture capture) {
        try {
            capture.close();
        } catch (RuntimeException e) {
            log.warn("group {}: closing a capture failed: {}", groupId, e.toString());
        }
    }

    /**
     * Takes a snapshot of the current state now, on the caller's thread, and returns it once
     * recorded. A write in progress is waited for first. With capture support only the capture holds
     * off apply; the write runs on this thread while apply goes on. Without it, apply waits for the
     * whole snapshot, as at a snapshot point. Failures are thrown.
     */
    SnapshotRecord snapshotNow() throws IOException {
        writer.claim();
        SnapshotWriter.Captured captured = null;
        try {
            synchronized (this) {
                Optional<SnapshotRecord> latest = catalog.latest();
                if (latest.isPresent() && latest.get().index() == applied.index()) {
                    return latest.get();
                }
                Optional<StateMachine.SnapshotCapture> capture = machine.capture();
                if (capture.isEmpty()) {
                    return snapshot();
                }
                captured = new SnapshotWriter.Captured(capture.get(), applied, chain.clone());
                writing = true;
            }
        } finally {
            if (captured == null) {
                writer.release();
            }
        }
        return writer.write(captured);
    }

    /**
     * Commits a written capture: makes the committed log durable (at least up to the snapshot's
     * index), records the snapshot in the catalog (the commit point), prunes.
     */
    @Override
    public synchronized SnapshotRecord record(SnapshotWriter.Captured captured, SnapshotRef ref) throws IOException {
        writing = false;
        committed.sync();
        SnapshotRecord record = new SnapshotRecord(ref.root(), captured.position(), captured.chain(),
                SnapshotRecord.machineMetadata(ref.manifest().metadata()));
        catalog.add(record);
        prune();
        deleteUnreferenced();
        return record;
    }

    @Override
    public synchronized void ended(SnapshotWriter.Captured captured) {
        writing = false;
        try {
            deleteUnreferenced();
        } catch (IOException e) {
            log.warn("group {}: deleting blobs of dropped snapshots failed: {}", groupId, e.toString());
        }
    }

    /** Hears about every snapshot this member records (not installs); see {@code Group.onSnapshot}. */
    void onSnapshot(Consumer<SnapshotRecord> listener) {
        writer.listener(listener);
    }

    /** Why this member stopped applying entries (fail-stop), or null. */
    String failure() {
        return failure;
    }

    /**
     * Snapshots the current state into the store (unchanged chunks are shared with earlier
     * snapshots), makes the committed log durable up to here, records the snapshot, prunes.
     */
    synchronized SnapshotRecord snapshot() throws IOException {
        Optional<SnapshotRecord> latest = catalog.latest();
        if (latest.isPresent() && latest.get().index() == applied.index()) {
            return latest.get();
        }
        long started = System.nanoTime();
        Path tmp = stateDir.resolve("snapshot-" + applied.index() + ".tmp");
        FileTrees.deleteRecursively(tmp);
        Files.createDirectories(tmp);
        SnapshotRef ref;
        try {
            machine.writeSnapshot(tmp);
            ref = SnapshotImporter.importPaths(store, List.of(tmp), SnapshotWriter.CHUNKING, Map.of(
                    SnapshotRecord.META_GROUP, groupId,
                    SnapshotRecord.META_INDEX, String.valueOf(applied.index()),
                    SnapshotRecord.META_TERM, String.valueOf(applied.term()),
                    SnapshotRecord.META_CHAIN, Chain.hex(chain)));
        } catch (ManifestException e) {
            throw new IOException("group " + groupId + ": the state machine wrote an unusable snapshot: "
                    + e.getMessage(), e);
        } finally {
            FileTrees.deleteRecursively(tmp);
        }
        committed.sync();
        SnapshotRecord record = new SnapshotRecord(ref.root(), applied, chain.clone());
        catalog.add(record);
        log.info("group {}: snapshot {} ({} bytes) in {} ms", groupId, record, ref.manifest().totalBytes(),
                (System.nanoTime() - started) / 1_000_000);
        prune();
        writer.recorded(record, System.nanoTime() - started);
        return record;
    }

    /** Makes the state as of now durable without a snapshot: the committed log is synced. */
    synchronized LogPosition checkpoint() throws IOException {
        committed.sync();
        return applied;
    }

    /**
     * Installs a snapshot whose blobs are all in the store: materializes and re-verifies its files
     * into a new directory (temp name, then rename), hands it to the machine, restarts the log
     * after it, and records it (the commit point). The previous state directory is deleted last.
     */
    synchronized void install(SnapshotRecord record) throws IOException {
        if (record.index() <= applied.index()) {
            throw new IOException("group " + groupId + ": snapshot " + record + " is not ahead of the state at "
                    + applied);
        }
        // The fetcher verified every chunk as it arrived, moments ago; hashing them again on the
        // way out would only catch a disk that corrupts a file within seconds.
        Manifest manifest = load(record, false);
        committed.resetTo(record.position(), record.chain());
        catalog.add(record.withManifestMetadata(manifest.metadata()));
        prune();
    }

    /**
     * Materializes a snapshot into a fresh directory and installs it into the machine; with
     * {@code verify}, every chunk is re-hashed on the way out (at start-up: the store has sat on disk).
     */
    private Manifest load(SnapshotRecord record, boolean verify) throws IOException {
        Manifest manifest;
        try {
            manifest = SnapshotImporter.loadManifest(store, record.manifest(), ManifestLimits.DEFAULT);
        } catch (ManifestException e) {
            throw new IOException("group " + groupId + ": snapshot " + record + " has a bad manifest: "
                    + e.getMessage(), e);
        }
        Path dir = stateDir.resolve("installed-" + record.index());
        Path tmp = stateDir.resolve("installed-" + record.index() + ".tmp");
        FileTrees.deleteRecursively(tmp);
        try {
            Materializer.materialize(manifest, store, tmp, verify, null);
        } catch (ManifestException e) {
            throw new IOException("group " + groupId + ": cannot materialize " + record + ": " + e.getMessage(), e);
        }
        if (!dir.equals(installedDir)) {
            FileTrees.deleteRecursively(dir);
        }
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, dir);
        }
        machine.installSnapshot(dir);
        Path previous = installedDir;
        installedDir = dir;
        applied = record.position();
        chain = record.chain().clone();
        if (previous != null && !previous.equals(dir)) {
            FileTrees.deleteRecursively(previous);
        }
        // Leftovers of an install cut short by a crash.
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(stateDir, "installed-*")) {
            for (Path p : ds) {
                if (!p.equals(dir)) {
                    FileTrees.deleteRecursively(p);
                }
            }
        }
        return manifest;
    }

    /**
     * Drops snapshots beyond the retention count that no session holds, with the blobs no kept
     * snapshot shares, and prunes the committed log as far as the provider, the retention (entries
     * and bytes) and the newest snapshot allow. No snapshot is dropped while a capture is being
     * imported: the import may be reusing their blobs; the prune after its record catches up.
     */
    synchronized void prune() throws IOException {
        List<SnapshotRecord> all = catalog.all();
        SyncProvider p = provider;
        List<SnapshotRecord> drop = new ArrayList<>();
        for (int i = 0; !writing && i < all.size() - config.retainSnapshots(); i++) {
            if (p == null || p.maySnapshotBeDropped(all.get(i))) {
                drop.add(all.get(i));
            }
        }
        dropAll(drop);
        Optional<SnapshotRecord> latest = catalog.latest();
        if (latest.isEmpty()) {
            return;
        }
        // Keep no more than retainEntries and no more than retainLogBytes (the further prune point
        // wins), but never prune past the newest snapshot or what running sessions lease.
        long upTo = Math.max(applied.index() - config.retainEntries(),
                committed.pruneIndexForBytes(config.retainLogBytes()));
        upTo = Math.min(latest.get().index(), upTo);
        if (p != null) {
            upTo = Math.min(upTo, p.safeToPruneLog());
        }
        if (upTo > committed.base().index()) {
            committed.prune(upTo);
        }
    }

    /**
     * Drops the snapshots {@code which} selects, except the newest (the state a restart rebuilds
     * from, and the position Ratis may hold), those a session leases, and any while a capture is
     * being imported (it may be reusing their blobs); their blobs go unless a kept one shares
     * them. Returns the dropped ones.
     */
    synchronized List<SnapshotRecord> drop(java.util.function.Predicate<SnapshotRecord> which) throws IOException {
        List<SnapshotRecord> all = catalog.all();
        SyncProvider p = provider;
        List<SnapshotRecord> drop = new ArrayList<>();
        for (int i = 0; !writing && i < all.size() - 1; i++) {
            SnapshotRecord r = all.get(i);
            if (which.test(r) && (p == null || p.maySnapshotBeDropped(r))) {
                drop.add(r);
            }
        }
        dropAll(drop);
        return List.copyOf(drop);
    }

    private void dropAll(List<SnapshotRecord> drop) throws IOException {
        if (drop.isEmpty()) {
            return;
        }
        catalog.removeAll(drop);
        for (SnapshotRecord d : drop) {
            unreferenced.addAll(blobsOf(d));
        }
        deleteUnreferenced();
        log.debug("group {}: dropped {} snapshot(s)", groupId, drop.size());
    }

    /**
     * Deletes the blobs of dropped snapshots that no kept snapshot shares, unless a catch-up
     * session runs: its fetch may have counted them as present (chunks already local are not
     * fetched), and its install would then miss them. They go when the last session ends.
     */
    private void deleteUnreferenced() throws IOException {
        // Nor while a capture is written: it may be reusing those blobs (as prune and drop know).
        if (sessions > 0 || writing || unreferenced.isEmpty()) {
            return;
        }
        Set<Cid> keep = new HashSet<>();
        for (SnapshotRecord k : catalog.all()) {
            keep.addAll(blobsOf(k));
        }
        long deleted = 0;
        for (Cid c : unreferenced) {
            if (!keep.contains(c) && store.delete(c)) {
                deleted++;
            }
        }
        unreferenced.clear();
        log.debug("group {}: deleted {} blob(s) of dropped snapshots", groupId, deleted);
    }

    /** A catch-up session starts: blobs of snapshots dropped from now on stay until it ends. */
    synchronized void sessionOpened() {
        sessions++;
    }

    /** A catch-up session ended; with none left, the blobs dropped meanwhile go. */
    synchronized void sessionClosed() {
        sessions--;
        try {
            deleteUnreferenced();
        } catch (IOException e) {
            log.warn("group {}: deleting blobs of dropped snapshots failed: {}", groupId, e.toString());
        }
    }

    private List<Cid> blobsOf(SnapshotRecord r) throws IOException {
        List<Cid> out = new ArrayList<>();
        out.add(r.manifest());
        if (!store.has(r.manifest())) {
            return out;
        }
        try {
            Manifest m = SnapshotImporter.loadManifest(store, r.manifest(), ManifestLimits.DEFAULT);
            for (FileEntry f : m.files()) {
                out.addAll(f.chunks());
            }
        } catch (ManifestException e) {
            log.warn("group {}: snapshot {} has an unreadable manifest: {}", groupId, r, e.getMessage());
        }
        return out;
    }

    /** Stops a snapshot write in progress (its temp directory deleted, capture closed), then the log. */
    @Override
    public void close() throws IOException {
        // Not under the lock: the writer takes it to record.
        writer.close();
        synchronized (this) {
            committed.close();
        }
    }

}
