package io.statesync.node.ledger;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.Collections;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A pinned point-in-time view of a ledger: a head and exactly the state it produced. The dump
 * it writes ({@code head.bin}, {@code state.bin}, see {@link Ledger#restore}) is byte-identical
 * on every node holding the same state. Writing may happen on any thread while the ledger keeps
 * applying blocks. Close it to release the RocksDB snapshot; closing the ledger releases it too.
 */
public final class Capture implements AutoCloseable {
    /** The encoded head block in a dump. */
    public static final String HEAD_FILE = StateDump.HEAD_FILE;
    /** The entries in a dump. */
    public static final String STATE_FILE = StateDump.STATE_FILE;

    private final Ledger ledger;
    private final Ledger.View view;
    /** Keeps close() from releasing the snapshot while a dump is being written. */
    private final ReentrantLock lock = new ReentrantLock();
    private boolean closed;

    Capture(Ledger ledger, Ledger.View view) {
        this.ledger = ledger;
        this.view = view;
    }

    Ledger.View view() {
        return view;
    }

    /** The head this capture holds the state of. */
    public Head head() {
        return view.committed().head();
    }

    /** What a snapshot manifest should carry: thread, block (hex), height, stateRoot (hex), stateBytes. */
    public Map<String, String> metadata() {
        Head head = head();
        Map<String, String> meta = new TreeMap<>();
        meta.put("thread", head.thread().name());
        meta.put("block", head.blockId().hex());
        meta.put("height", Long.toString(head.height()));
        meta.put("stateRoot", head.root().hex());
        meta.put("stateBytes", Long.toString(head.stateBytes()));
        return Collections.unmodifiableMap(meta);
    }

    /**
     * Writes {@code head.bin} and {@code state.bin} into {@code dir} (created if needed), each
     * through a temp file, fsynced and renamed into place.
     *
     * @throws IllegalStateException if this capture or its ledger is closed
     */
    public void writeTo(Path dir) throws IOException {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("capture of " + head().label() + " is closed");
            }
            ledger.writeDump(view, dir);
        } finally {
            lock.unlock();
        }
    }

    /** Releases the snapshot; idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            ledger.release(this, view);
        } finally {
            lock.unlock();
        }
    }
}
