package io.statesync.node.statesync;

import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestException;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.Materializer;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.store.ContentStore;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A repository for tests: state of a thread is a directory {@code state/<thread>} materialized
 * from the snapshot; "verifying the state root" compares the snapshot's {@code CHECKSUM} file with
 * the SHA-256 of its {@code data} file. It can be told to reject installs, as a state-root
 * mismatch would.
 */
final class TestRepository implements StateRepository {
    static final int MIN_DISTANCE = 5;

    private final Path root;
    private final ContentStore store;
    /** Local finalized height per thread. */
    final Map<ThreadId, Long> finalized = new ConcurrentHashMap<>();
    final AtomicInteger installs = new AtomicInteger();
    final AtomicInteger installAttempts = new AtomicInteger();
    volatile boolean rejectInstalls;
    volatile Error decideThrows;
    /** Installs in two steps (stage, then commit), as the node's repository does. */
    volatile boolean staging;
    /** Staging this thread fails, as a state root mismatch found while staging would. */
    volatile ThreadId rejectStageOf;
    final AtomicInteger discards = new AtomicInteger();
    /** Holds open now, per thread ({@link #hold}). */
    final Map<ThreadId, AtomicInteger> holds = new ConcurrentHashMap<>();
    /** Threads whose install (or commit) ran while a hold on them was open. */
    final java.util.Set<ThreadId> heldAtInstall = ConcurrentHashMap.newKeySet();

    TestRepository(Path root) throws IOException {
        this.root = root;
        this.store = ContentStore.open(root.resolve("store"));
    }

    @Override
    public ContentStore store(ThreadId thread) {
        return store;
    }

    @Override
    public Hold hold(ThreadId thread) {
        AtomicInteger open = holds.computeIfAbsent(thread, t -> new AtomicInteger());
        open.incrementAndGet();
        java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        return () -> {
            if (closed.compareAndSet(false, true)) {
                open.decrementAndGet();
            }
        };
    }

    private void noteHold(ThreadId thread) {
        AtomicInteger open = holds.get(thread);
        if (open != null && open.get() > 0) {
            heldAtInstall.add(thread);
        }
    }

    Path stateDir(ThreadId thread) {
        return root.resolve("state").resolve(thread.name());
    }

    @Override
    public Decision decide(ThreadId thread, BlockId block, long height) {
        if (decideThrows != null) {
            throw decideThrows;
        }
        Long local = finalized.get(thread);
        if (local == null) {
            return new Decision.ImportNeeded(-1);
        }
        long d = height - local;
        if (d <= 0) {
            return new Decision.AlreadyCovered(d);
        }
        if (d < MIN_DISTANCE) {
            return new Decision.TooClose(d);
        }
        return new Decision.ImportNeeded(d);
    }

    @Override
    public void install(ThreadId thread, BlockId block, Cid manifestCid) throws IOException {
        installAttempts.incrementAndGet();
        noteHold(thread);
        Manifest manifest;
        try {
            manifest = SnapshotImporter.loadManifest(store, manifestCid, ManifestLimits.DEFAULT);
        } catch (ManifestException e) {
            throw new IOException(e.getMessage(), e);
        }
        Path staging = root.resolve("staging").resolve(thread.name());
        deleteTree(staging);
        try {
            Materializer.materialize(manifest, store, staging, true, null);
            String expected = Files.readString(staging.resolve("CHECKSUM")).strip();
            String actual = Fixtures.sha256Hex(Files.readAllBytes(staging.resolve("data")));
            if (rejectInstalls || !expected.equals(actual)) {
                throw new IOException("state root mismatch for block " + block.hex());
            }
            Path target = stateDir(thread);
            Files.createDirectories(target.getParent());
            Path old = root.resolve("old-" + thread.name());
            deleteTree(old);
            if (Files.exists(target)) {
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            deleteTree(old);
        } catch (ManifestException e) {
            throw new IOException(e.getMessage(), e);
        } finally {
            deleteTree(staging);
        }
        finalized.put(thread, Long.parseLong(manifest.metadata().get("height")));
        installs.incrementAndGet();
    }

    @Override
    public Staged stage(ThreadId thread, BlockId block, Cid manifestCid) throws IOException {
        if (!staging) {
            return StateRepository.super.stage(thread, block, manifestCid);
        }
        Manifest manifest;
        try {
            manifest = SnapshotImporter.loadManifest(store, manifestCid, ManifestLimits.DEFAULT);
        } catch (ManifestException e) {
            throw new IOException(e.getMessage(), e);
        }
        Path staged = root.resolve("staged").resolve(thread.name());
        deleteTree(staged);
        try {
            Materializer.materialize(manifest, store, staged, true, null);
        } catch (ManifestException e) {
            throw new IOException(e.getMessage(), e);
        }
        if (thread.equals(rejectStageOf)) {
            deleteTree(staged);
            throw new IOException("state root mismatch for block " + block.hex());
        }
        long height = Long.parseLong(manifest.metadata().get("height"));
        return new Staged() {
            @Override
            public void commit() throws IOException {
                Path target = stateDir(thread);
                Files.createDirectories(target.getParent());
                deleteTree(target);
                Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
                finalized.put(thread, height);
                installs.incrementAndGet();
            }

            @Override
            public void discard() {
                try {
                    deleteTree(staged);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                discards.incrementAndGet();
            }
        };
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            walk.sorted(Comparator.reverseOrder()).forEach(x -> {
                try {
                    Files.delete(x);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
