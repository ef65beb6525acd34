package io.statesync.groups;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The replicated state a {@link Group} hosts. Commands arrive in log order, once each, on one
 * thread; queries may arrive on any thread at the same time, so reads must be safe against a
 * concurrent {@link #apply}.
 *
 * <p>Determinism is the contract: the same commands in the same order must leave every member in
 * the same state, and {@link #writeSnapshot} should write the same bytes for the same state (then
 * members' snapshots share one content address and a lagging member fetches from all of them at
 * once; differing bytes still work, from fewer sources).
 *
 * <p>Snapshots are taken at every index that is a multiple of {@code snapshotEvery} and wherever
 * {@link #snapshotDue} says so. A machine whose state is large should implement {@link #capture}:
 * the group then takes only a cheap view on the apply thread and writes it on its own thread while
 * commands go on being applied.
 */
public interface StateMachine {
    /**
     * A stable name for this machine's type and wire format, such as {@code "kv/v1"}. It is part of
     * the group id, so members running a different machine cannot join.
     */
    String typeTag();

    /**
     * Applies one committed command and returns its result. A command the machine rejects (bad
     * input) should produce an error result, not an exception: every member rejects it the same
     * way, and the log goes on. An exception stops the group on this member.
     *
     * @param index the command's log index, strictly increasing
     */
    byte[] apply(long index, byte[] command);

    /** Answers a read-only query against the current local state. */
    byte[] query(byte[] request);

    /** Writes the current state as files under {@code dir} (empty, created for the call). */
    void writeSnapshot(Path dir) throws IOException;

    /**
     * Replaces the whole state with the one written by {@link #writeSnapshot} into {@code dir}. The
     * directory's files are verified and complete. The machine may keep using them (open a database
     * there) until the next install; the group deletes the directory only after that.
     */
    void installSnapshot(Path dir) throws IOException;

    /**
     * Asked right after every entry at {@code index}, whether {@link #apply} saw it or it was one of
     * the engine's own entries (configuration, leader no-ops): whether to snapshot at this index
     * too, besides every {@code snapshotEvery}. Must be deterministic: every member must
     * answer the same for the same log, so that members' snapshots sit at the same indices.
     */
    default boolean snapshotDue(long index) {
        return false;
    }

    /**
     * Takes a consistent view of the current state, cheaply (a database snapshot, a copy-on-write
     * reference), while no command is being applied: on the apply thread, or on the caller of {@code
     * Group.snapshotNow()} with apply held off. The group writes it to files later, on its own
     * thread, while apply goes on. Empty means "no capture support": the group then calls {@link
     * #writeSnapshot} on the apply thread.
     */
    default Optional<SnapshotCapture> capture() throws IOException {
        return Optional.empty();
    }

    /**
     * A view of the state captured by {@link #capture}. {@link #writeTo} may run on another thread
     * at the same time as {@link #apply}; {@link #close} releases the view and is called exactly
     * once, whether the snapshot was written, failed or skipped.
     */
    interface SnapshotCapture extends AutoCloseable {
        /**
         * Extra manifest metadata (block id, height, state root, ...): merged into the snapshot
         * manifest's metadata, where the group's own keys ({@code group}, {@code index}, {@code
         * term}, {@code chain}) win; kept in {@code SnapshotRecord.metadata()}. Must be
         * deterministic too, or members' snapshots get different content addresses.
         */
        Map<String, String> metadata();

        /** Writes the captured state as files under {@code dir}; the contract of {@link #writeSnapshot}. */
        void writeTo(Path dir) throws IOException;

        @Override
        void close();
    }
}
