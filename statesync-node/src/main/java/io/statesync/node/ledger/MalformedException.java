package io.statesync.node.ledger;

/**
 * Bytes that are not a valid transaction or block encoding. The message is one line that says
 * what was wrong and where ("transaction: truncated at byte 17").
 */
public final class MalformedException extends Exception {
    public MalformedException(String message) {
        super(message);
    }
}
