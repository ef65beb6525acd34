package io.statesync.groups;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The replicated state a {@link Group} hosts. Commands arrive in log order, once each, on one
 * thread; queries may arrive on any thread at the same time, so reads must be safe against a
 * concurrent {@link #apply}.
 *
 * <p>Determinism is the contract: the same commands in the same order must leave every member in
 * the same state, and {@link #writeSnapshot} should write the same bytes for the same state (then
 * members' snapshots share one content address and a lagging member fetches from all of them at
 * once; differing bytes still work, from fewer sources).
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
}
