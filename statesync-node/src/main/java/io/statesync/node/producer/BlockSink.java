package io.statesync.node.producer;

import io.statesync.node.ledger.Block;
import java.io.IOException;

/** Where a producer's blocks go: the thread's replicated group. */
public interface BlockSink {
    /**
     * Whether this node may produce now: it leads the thread's group and its state reflects
     * everything committed, so that a block it forms extends the head every member will see.
     */
    boolean mayProduce();

    /** Proposes the block through the group and returns once it is committed and applied here. */
    void commit(Block block) throws IOException;
}
