package io.statesync.node.ledger;

/**
 * A block that cannot be applied on the current head. The message names the block (id, thread
 * and height) and the reason; nothing of the block was written.
 */
public final class BlockRejectedException extends Exception {
    public BlockRejectedException(String message) {
        super(message);
    }
}
