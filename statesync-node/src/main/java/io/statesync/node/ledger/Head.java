package io.statesync.node.ledger;

import java.util.Objects;

/**
 * What a ledger has applied: the last block's height and id, the state root it produced, and
 * the logical state size (sum of key and value bytes of all account and data entries).
 */
public record Head(ThreadId thread, long height, BlockId blockId, StateRoot root, long stateBytes) {
    public Head {
        Objects.requireNonNull(thread, "thread");
        Objects.requireNonNull(blockId, "blockId");
        Objects.requireNonNull(root, "root");
    }

    /** "t0#42", for messages. */
    public String label() {
        return thread + "#" + height;
    }
}
