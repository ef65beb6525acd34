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
     * Told that no other load is queued or running, so unfinalized blocks of {@code thread} below
     * {@code height} may be pruned (the seed's PruneNow). Called before the download and after the
     * install. The default does nothing.
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

        /** The block was invalidated locally; importing it would be wrong. */
        record Invalidated() implements Decision {
        }
    }
}
