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
    /** The entries in a dump; in a layered dump, those of its base. */
    public static final String STATE_FILE = StateDump.STATE_FILE;
    /** What changed since the base, in a layered dump only. */
    public static final String OVERLAY_FILE = StateDump.OVERLAY_FILE;

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
     * Writes a full dump, {@code head.bin} and {@code state.bin}, into {@code dir} (created if
     * needed), each through a temp file, fsynced and renamed into place.
     *
     * @throws IllegalStateException if this capture or its ledger is closed
     */
    public void writeTo(Path dir) throws IOException {
        writeTo(dir, null);
    }

    /**
     * Writes a dump into {@code dir}, layered over {@code base} when that is worth it: the base's
     * {@code state.bin} (hard-linked, not copied) plus an {@code overlay.bin} of the entries
     * that changed since, when the base holds an earlier block of this chain, its file still
     * matches its checksum (read in the same pass as the overlay), and the overlay stays within half the base's size. Otherwise, or with
     * a null base, a full dump. Either way every node holding the same state and the same base
     * writes the same bytes.
     *
     * @return whether the dump is layered
     * @throws IllegalStateException if this capture or its ledger is closed
     */
    public boolean writeTo(Path dir, DumpBase base) throws IOException {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("capture of " + head().label() + " is closed");
            }
            return ledger.writeDump(view, dir, base);
        } finally {
            lock.unlock();
        }
    }

    /**
     * The base a dump written by {@link #writeTo(Path, DumpBase)} was laid over, if it is layered:
     * its height and block, read from its {@code overlay.bin}.
     */
    public static java.util.Optional<Map.Entry<Long, BlockId>> layeredOver(Path dumpDir) throws IOException {
        Path overlay = dumpDir.resolve(StateDump.OVERLAY_FILE);
        if (!java.nio.file.Files.exists(overlay)) {
            return java.util.Optional.empty();
        }
        try {
            StateDump.OverlayBase base = StateDump.readOverlayBase(overlay);
            return java.util.Optional.of(Map.entry(base.height(), base.block()));
        } catch (MalformedException e) {
            throw new IOException(e.getMessage(), e);
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
