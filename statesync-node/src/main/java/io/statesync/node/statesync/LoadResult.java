package io.statesync.node.statesync;

import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.fetch.Source;
import java.time.Duration;
import java.util.List;
import java.util.SortedMap;

/** How one load task ended. Exactly one is delivered per task, into that task's own output. */
public sealed interface LoadResult {
    /** The task's address: one block per thread. */
    SortedMap<ThreadId, BlockId> address();

    /** The task's anchor. */
    Anchor anchor();

    /**
     * The state of every thread of the address that needed it was fetched, verified and installed.
     *
     * @param sources every source that delivered bytes
     * @param bytesFetched bytes downloaded in this load (chunks already in a store are not counted)
     * @param skipped threads other than the anchor that the repository judged covered, with the decision
     * @param bytesBySource bytes each source delivered
     */
    record Loaded(SortedMap<ThreadId, BlockId> address, Anchor anchor, List<Source> sources, long bytesFetched,
                  Duration elapsed, List<String> skipped, java.util.Map<Source, Long> bytesBySource)
            implements LoadResult {
        public Loaded {
            address = Addresses.copy(address);
            sources = List.copyOf(sources);
            bytesBySource = java.util.Map.copyOf(bytesBySource);
            skipped = List.copyOf(skipped);
        }
    }

    /** The repository judged the anchor block not worth importing; {@code reason} names the decision. */
    record Skipped(SortedMap<ThreadId, BlockId> address, Anchor anchor, String reason) implements LoadResult {
        public Skipped {
            address = Addresses.copy(address);
        }
    }

    /** The load failed; {@code reason} is one line naming the block, thread and cause. No state changed unless it says so. */
    record Failed(SortedMap<ThreadId, BlockId> address, Anchor anchor, String reason) implements LoadResult {
        public Failed {
            address = Addresses.copy(address);
        }
    }

    /** The load was cancelled by {@link StateLoader#resetSync()} or {@link StateLoader#close()}. */
    record Cancelled(SortedMap<ThreadId, BlockId> address, Anchor anchor) implements LoadResult {
        public Cancelled {
            address = Addresses.copy(address);
        }
    }
}
