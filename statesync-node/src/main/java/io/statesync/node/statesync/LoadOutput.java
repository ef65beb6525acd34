package io.statesync.node.statesync;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The channel one or more load tasks report into. The receiver reads results with
 * {@link #poll}; closing it says "no longer interested": from then on nothing is delivered into
 * it, its queued tasks are dropped and its running task is cancelled. (The seed reported into
 * dropped channels and kept only the first task's sender.)
 */
public final class LoadOutput implements AutoCloseable {
    /** Results not yet read; unbounded, one per task at most. */
    private final LinkedBlockingQueue<LoadResult> results = new LinkedBlockingQueue<>();
    /** Told once when the output closes; guarded by this. */
    private final List<Runnable> closeListeners = new ArrayList<>();
    /** Guarded by this: a delivery and a close never interleave. */
    private boolean closed;

    /** The next result, waiting up to {@code timeout}; empty if none came. */
    public Optional<LoadResult> poll(Duration timeout) throws InterruptedException {
        return Optional.ofNullable(results.poll(timeout.toNanos(), TimeUnit.NANOSECONDS));
    }

    /** The next result if one is waiting. */
    public Optional<LoadResult> poll() {
        return Optional.ofNullable(results.poll());
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /** Stops deliveries; drops this output's queued tasks and cancels its running one. */
    @Override
    public void close() {
        List<Runnable> listeners;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            listeners = List.copyOf(closeListeners);
            closeListeners.clear();
        }
        // Outside the lock: a listener takes the loader's lock, which delivers under neither.
        for (Runnable r : listeners) {
            r.run();
        }
    }

    /** Delivers {@code result} unless closed; returns whether it was delivered. */
    synchronized boolean deliver(LoadResult result) {
        if (closed) {
            return false;
        }
        results.add(result);
        return true;
    }

    /** Registers {@code listener} for the close; returns false (not registered) if already closed. */
    synchronized boolean onClose(Runnable listener) {
        if (closed) {
            return false;
        }
        closeListeners.add(listener);
        return true;
    }
}
