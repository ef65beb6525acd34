package io.statesync.transfer.tls;

import java.io.IOException;

/**
 * TLS files that cannot be used: missing, unreadable, not PEM, or a key that does not belong to
 * its certificate. The message is one line naming the file, fit to show an operator as it is.
 */
public final class TlsException extends IOException {
    public TlsException(String message) {
        super(message);
    }

    public TlsException(String message, Throwable cause) {
        super(message, cause);
    }
}
