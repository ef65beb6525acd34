package io.statesync.node.statesync;

import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import java.io.IOException;

/**
 * Where loaded state goes. The loader calls it from its worker and fetch threads, never two calls
 * at once, and never after {@link StateLoader#resetSync()} or {@link StateLoader#close()} returned
 * (for the tasks those cancelled).
 */
public interface StateRepository {
    /**
     * The store chunks of {@code thread}'s snapshots are fetched into. Chunks already there are
     * not fetched again, so a load interrupted by a crash resumes.
     */
    ContentStore store(ThreadId thread);

    /** Whether importing {@code block} at {@code height} is worth it (the seed's decide_snapshot_import). */
    Decision decide(ThreadId thread, BlockId block, long height);

    /**
     * Atomically installs the snapshot {@code manifest} (all chunks verified in {@link #store})
     * as {@code thread}'s state at {@code block}. Verifies the state root; on a mismatch or any
     * other failure it throws and keeps the old state.
     */
    void install(ThreadId thread, BlockId block, Cid manifest) throws IOException;

    /**
     * The first step of a two-step install, so that a task of several threads installs all of
     * them or none: does everything of {@link #install} that can fail for what the snapshot holds
     * (rebuild, verify), without putting the state in use; {@link Staged#commit} then only puts it
     * in use. The loader stages every thread of a task before it commits any, and discards what it
     * staged when one fails. The default stages nothing and installs on commit (a repository that
     * cannot stage keeps the one-step install, and a failed install can leave threads before it
     * installed).
     *
     * @throws IOException if the snapshot cannot become the thread's state; nothing changed
     */
    default Staged stage(ThreadId thread, BlockId block, Cid manifest) throws IOException {
        return () -> install(thread, block, manifest);
    }

    /** A thread's state, ready to be put in use. Exactly one of commit and discard is called. */
    @FunctionalInterface
    interface Staged {
        /** Puts the state in use; a failure here keeps the old state of this thread. */
        void commit() throws IOException;

        /** Drops the staged state unused. */
        default void discard() {
        }
    }

    /**
     * Keeps what {@link #store} holds for {@code thread} from being deleted until the hold is
     * closed (chunks of snapshots dropped meanwhile), so chunks a fetch counted as present are
     * still there at the install. The loader holds every thread of a task from its first fetch to
     * its last install. The default holds nothing (a store nothing deletes from).
     */
    default Hold hold(ThreadId thread) {
        return () -> { };
    }

    /** What {@link #hold} returns; closing it releases the hold. */
    @FunctionalInterface
    interface Hold extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Told that no other load is queued or running, so what the repository keeps of {@code
     * thread} below {@code height} may be pruned (the seed's PruneNow; the node drops its saved
     * states below it). Called before the download and after the install. The default does nothing.
     */
    default void pruneBelow(ThreadId thread, long height) {
    }

    /** The repository's judgement of a candidate block. */
    sealed interface Decision {
        /** Import it; {@code distance} ahead of the local finalized height, or -1 if unknown (nothing finalized, other thread). */
        record ImportNeeded(long distance) implements Decision {
        }

        /** Local state is at or past it ({@code distance} &lt;= 0), or the block is already finalized (0). */
        record AlreadyCovered(long distance) implements Decision {
        }

        /** Ahead, but by less than the minimum import distance. */
        record TooClose(long distance) implements Decision {
        }

        /** The block is not on the chain the node's group agreed on; importing it would be wrong. {@code reason} says how it is known. */
        record Invalidated(String reason) implements Decision {
        }
    }
}
