package io.statesync.node.statesync;

import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.Head;
import java.util.Optional;

/**
 * A thread's chain on this node as the import decision reads it. Every block on it was committed
 * by the thread's group, so it is the chain the group agreed on, as far as this node has seen it.
 */
public interface LocalChain {
    /** The newest block applied or installed, with its height and state root. */
    Head head();

    /** The block at {@code height} on this node's chain, if it remembers one there (never above the head). */
    Optional<BlockId> blockAt(long height);

    /** Told, right before an install, which block the installed state must hold (any other is refused). */
    void expectInstallOf(BlockId block);
}
