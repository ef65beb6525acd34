package io.statesync.node.ledger;

/**
 * A state dump that must not be installed: malformed, for another thread, or not matching the
 * state root of its own head block. The message is one line naming the block and the reason.
 */
public final class InvalidStateException extends Exception {
    public InvalidStateException(String message) {
        super(message);
    }
}
