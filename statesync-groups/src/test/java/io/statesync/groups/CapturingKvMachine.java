package io.statesync.groups;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongFunction;
import java.util.function.LongPredicate;

/**
 * A {@link KvMachine} that supports {@link StateMachine#capture} (a copy of its map, written later)
 * and asks for snapshots at chosen indices, with hooks for tests: a delay and a failure per index,
 * and a record of what each capture saw and what happened while it was written.
 */
class CapturingKvMachine extends KvMachine {
    /** Indices {@link #snapshotDue} answers true for. */
    volatile Set<Long> dueAt = Set.of();
    /** How long the write of the capture at an index takes (sleeps, interruptibly). */
    volatile LongFunction<Duration> writeDelay = i -> Duration.ZERO;
    /** Writes of captures at these indices fail. */
    volatile LongPredicate failAt = i -> false;

    /** The digest of the state at each captured index. */
    final Map<Long, String> capturedDigests = new ConcurrentHashMap<>();
    /** Commands applied while the capture at an index was being written. */
    final Map<Long, Long> appliedDuringWrite = new ConcurrentHashMap<>();
    /** Indices whose write started, in order. */
    final List<Long> writesStarted = new CopyOnWriteArrayList<>();
    /** The thread of the latest write. */
    volatile Thread lastWriter;
    final AtomicInteger captures = new AtomicInteger();
    final AtomicInteger closes = new AtomicInteger();
    /** The index of the latest entry, as told by {@link #snapshotDue}. */
    private volatile long index;

    @Override
    public boolean snapshotDue(long index) {
        this.index = index;
        return dueAt.contains(index);
    }

    @Override
    public Optional<SnapshotCapture> capture() {
        long at = index;
        TreeMap<String, byte[]> copy = copy();
        String digest = digest();
        capturedDigests.put(at, digest);
        captures.incrementAndGet();
        return Optional.of(new SnapshotCapture() {
            @Override
            public Map<String, String> metadata() {
                // "index" is the group's key: the group's value must win over this one.
                return Map.of("height", String.valueOf(at), "digest", digest, "index", "not-the-group's");
            }

            @Override
            public void writeTo(Path dir) throws IOException {
                lastWriter = Thread.currentThread();
                writesStarted.add(at);
                long before = applied.get();
                try {
                    Thread.sleep(writeDelay.apply(at));
                } catch (InterruptedException e) {
                    throw new InterruptedIOException("write of the capture at " + at + " interrupted");
                }
                if (failAt.test(at)) {
                    throw new IOException("disk full (test) writing the capture at " + at);
                }
                write(copy, dir);
                appliedDuringWrite.put(at, applied.get() - before);
            }

            @Override
            public void close() {
                closes.incrementAndGet();
            }
        });
    }
}
