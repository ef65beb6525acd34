package io.statesync.core.snapshot;

/** A manifest that cannot be decoded or breaks a rule or limit; the message names the entry. */
public final class ManifestException extends Exception {
    public ManifestException(String message) {
        super(message);
    }

    public ManifestException(String message, Throwable cause) {
        super(message, cause);
    }
}
