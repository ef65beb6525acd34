package io.statesync.groups.sync;

/** A catch-up attempt that cannot finish; the message says why in one line. */
public final class SyncException extends Exception {
    public SyncException(String message) {
        super(message);
    }

    public SyncException(String message, Throwable cause) {
        super(message, cause);
    }
}
