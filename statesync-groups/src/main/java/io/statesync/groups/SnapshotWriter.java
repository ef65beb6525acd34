package io.statesync.groups;

import io.statesync.core.concurrent.Uninterruptibly;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.files.FileTrees;
import io.statesync.core.snapshot.ManifestException;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes captured snapshots ({@link StateMachine#capture}) into the group's store, one at a time:
 * the captured files go to {@code state/snapshot-<index>.tmp}, are imported with the group's
 * manifest metadata merged over the machine's, and are handed to the {@link Recorder} (the
 * replica), which commits them. A snapshot point that arrives while a write runs is skipped.
 * Also counts every snapshot this member takes and tells the group's user about it.
 */
final class SnapshotWriter implements AutoCloseable {
    /**
     * How the groups cut their snapshots: content-defined chunks of 64 KiB to 1 MiB, 256 KiB on
     * average. Successive saves of a state whose values changed here and there then share nearly
     * all their chunks (fixed 1 MiB chunks shifted after the first changed byte, so a new save
     * shared almost nothing with the one a joiner had started fetching); 256 KiB rather than the
     * CLI's 64 KiB keeps the chunk count, and the per-chunk cost of the store's fsyncs, low for
     * states of gigabytes. Every replica cuts alike, so their snapshots keep one content address.
     */
    static final io.statesync.core.chunking.Chunking CHUNKING =
            io.statesync.core.chunking.Chunking.ContentDefined.ofAverage(256 << 10);

    private static final Logger log = LoggerFactory.getLogger(SnapshotWriter.class);
    private static final String TEMP_PREFIX = "snapshot-";
    private static final String TEMP_SUFFIX = ".tmp";

    /** A captured view of the state and the position and chain value it reflects. */
    record Captured(StateMachine.SnapshotCapture capture, LogPosition position, byte[] chain) {
    }

    /** Commits written snapshots; the replica. */
    interface Recorder {
        /** Makes the snapshot the member's own (the commit point) and returns its record. */
        SnapshotRecord record(Captured captured, SnapshotRef ref) throws IOException;

        /** The write of {@code captured} ended, recorded or not. */
        void ended(Captured captured);
    }

    private final String groupId;
    private final String groupName;
    private final ContentStore store;
    private final Path stateDir;
    private final Recorder recorder;
    /** One write at a time: held from the capture until the write is recorded or abandoned. */
    private final Semaphore slot = new Semaphore(1);
    /** Guards {@link #running}, {@link #recording} and {@link #closed}. */
    private final Object lock = new Object();
    /** The writer thread of the write in progress, if it runs on one. */
    private Thread running;
    /** Set once the write in progress commits: close then waits instead of interrupting. */
    private boolean recording;
    private boolean closed;
    private volatile Consumer<SnapshotRecord> listener;
    /**
     * What the previous save's files were cut into: a file saved again unchanged (a state
     * machine that hard-links an earlier save's file, as the ledger's layered saves do) is not
     * read and hashed again.
     */
    private final io.statesync.core.snapshot.ImportCache importCache = new io.statesync.core.snapshot.ImportCache();

    private final MeterRegistry registry;
    private final List<Meter> meters = new ArrayList<>();
    private final Counter taken;
    private final Counter skipped;
    private final Counter failed;
    private final Timer duration;

    SnapshotWriter(String groupId, String groupName, ContentStore store, Path stateDir, Recorder recorder,
                   MeterRegistry registry) {
        this.groupId = groupId;
        this.groupName = groupName;
        this.store = store;
        this.stateDir = stateDir;
        this.recorder = recorder;
        this.registry = registry == null ? new SimpleMeterRegistry() : registry;
        taken = keep(Counter.builder("statesync.groups.snapshots").tag("group", groupName)
                .description("snapshots this member took").register(this.registry));
        skipped = keep(Counter.builder("statesync.groups.snapshots.skipped").tag("group", groupName)
                .description("snapshot points skipped because a snapshot was still being written")
                .register(this.registry));
        failed = keep(Counter.builder("statesync.groups.snapshots.failed").tag("group", groupName)
                .description("snapshots that could not be written").register(this.registry));
        duration = keep(Timer.builder("statesync.groups.snapshot.duration").tag("group", groupName)
                .description("time to write, import and record one snapshot").register(this.registry));
    }

    private <M extends Meter> M keep(M meter) {
        meters.add(meter);
        return meter;
    }

    /** Removes the temp directories of writes a crash cut short. */
    static void removeLeftovers(Path stateDir) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(stateDir, TEMP_PREFIX + "*" + TEMP_SUFFIX)) {
            for (Path p : ds) {
                log.info("removing {}, left by a snapshot that was not finished", p);
                FileTrees.deleteRecursively(p);
            }
        }
    }

    /** Claims the one write slot if it is free. */
    boolean tryClaim() {
        return slot.tryAcquire();
    }

    /** Waits for the write slot. */
    void claim() throws InterruptedIOException {
        try {
            slot.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("group " + groupId + ": interrupted waiting for a snapshot write");
        }
    }

    /** Gives back a slot claimed for a capture that did not happen. */
    void release() {
        slot.release();
    }

    /** A snapshot point passed while a write ran. */
    void skipped(LogPosition at) {
        skipped.increment();
        log.debug("group {}: snapshot point {} skipped: the previous snapshot is still being written", groupName, at);
    }

    /** Capturing the state at a snapshot point failed; the point is lost, the state is fine. */
    void captureFailed(LogPosition at, Exception e) {
        failed.increment();
        log.warn("group {}: snapshot at {} not taken, the capture failed: {}", groupName, at, e.toString());
    }

    /**
     * Writes {@code captured} on a new writer thread; the caller holds the slot, which the write
     * gives back. Failures are logged and counted, never thrown: only the snapshot is lost.
     */
    void writeAsync(Captured captured) {
        synchronized (lock) {
            if (!closed) {
                running = Thread.ofVirtual().name("statesync-snapshot-" + groupName).unstarted(() -> {
                    try {
                        write(captured);
                    } catch (IOException | RuntimeException e) {
                        failedWrite(captured, e);
                    } finally {
                        synchronized (lock) {
                            running = null;
                        }
                    }
                });
                running.start();
                return;
            }
        }
        finish(captured, null);
    }

    /** Writes {@code captured} on this thread, like {@link #writeAsync} but failures are only logged. */
    void writeHere(Captured captured) {
        try {
            write(captured);
        } catch (IOException | RuntimeException e) {
            failedWrite(captured, e);
        }
    }

    private void failedWrite(Captured captured, Exception e) {
        boolean closing;
        synchronized (lock) {
            closing = closed;
        }
        if (closing) {
            log.debug("group {}: snapshot at {} abandoned: the group closes", groupName, captured.position());
        } else {
            failed.increment();
            log.warn("group {}: snapshot at {} not written (the state is unaffected): {}", groupName,
                    captured.position(), e.toString());
        }
    }

    /**
     * Writes, imports and records {@code captured} on this thread, then tells the listener. The
     * caller holds the slot; it is given back, the temp directory deleted and the capture closed
     * whatever happens.
     */
    SnapshotRecord write(Captured captured) throws IOException {
        long started = System.nanoTime();
        LogPosition at = captured.position();
        Path tmp = stateDir.resolve(TEMP_PREFIX + at.index() + TEMP_SUFFIX);
        SnapshotRecord record = null;
        try {
            FileTrees.deleteRecursively(tmp);
            Files.createDirectories(tmp);
            captured.capture().writeTo(tmp);
            Map<String, String> metadata = new HashMap<>(captured.capture().metadata());
            metadata.put(SnapshotRecord.META_GROUP, groupId);
            metadata.put(SnapshotRecord.META_INDEX, String.valueOf(at.index()));
            metadata.put(SnapshotRecord.META_TERM, String.valueOf(at.term()));
            metadata.put(SnapshotRecord.META_CHAIN, Chain.hex(captured.chain()));
            SnapshotRef ref;
            try {
                ref = SnapshotImporter.importPaths(store, List.of(tmp), CHUNKING, metadata, importCache);
            } catch (ManifestException e) {
                throw new IOException("group " + groupId + ": the state machine wrote an unusable snapshot at " + at
                        + ": " + e.getMessage(), e);
            }
            synchronized (lock) {
                if (closed) {
                    throw new InterruptedIOException("group " + groupId + " closes");
                }
                // From here on close waits for the commit instead of interrupting it.
                recording = true;
            }
            record = recorder.record(captured, ref);
            log.info("group {}: snapshot {} ({} bytes) written in {} ms", groupName, record,
                    ref.manifest().totalBytes(), (System.nanoTime() - started) / 1_000_000);
        } finally {
            finish(captured, tmp);
        }
        recorded(record, System.nanoTime() - started);
        return record;
    }

    /** Cleans up after a write, recorded or not: temp directory, capture, the replica's flag, slot. */
    private void finish(Captured captured, Path tmp) {
        try {
            if (tmp != null) {
                try {
                    FileTrees.deleteRecursively(tmp);
                } catch (IOException e) {
                    log.warn("group {}: cannot delete {}: {}", groupName, tmp, e.toString());
                }
            }
            try {
                captured.capture().close();
            } catch (RuntimeException e) {
                log.warn("group {}: closing the capture at {} failed: {}", groupName, captured.position(),
                        e.toString());
            }
            recorder.ended(captured);
        } finally {
            synchronized (lock) {
                recording = false;
            }
            slot.release();
        }
    }

    /** Counts a snapshot this member recorded and tells the listener. */
    void recorded(SnapshotRecord record, long nanos) {
        taken.increment();
        duration.record(Duration.ofNanos(nanos));
        Consumer<SnapshotRecord> l = listener;
        if (l != null) {
            try {
                l.accept(record);
            } catch (RuntimeException e) {
                log.warn("group {}: the snapshot listener failed on {}: {}", groupName, record, e.toString(), e);
            }
        }
    }

    void listener(Consumer<SnapshotRecord> listener) {
        this.listener = listener;
    }

    /**
     * Stops the write in progress (interrupted unless it is already committing), waits for its
     * thread to end, and removes the meters. Later captures are closed unwritten.
     */
    @Override
    public void close() {
        Thread t;
        synchronized (lock) {
            closed = true;
            t = running;
            if (t != null && !recording) {
                t.interrupt();
            }
        }
        if (t != null) {
            Uninterruptibly.join(t);
        }
        meters.forEach(registry::remove);
    }
}
