package io.statesync.core.cid;

/** Text or bytes that are not a CID Statesync accepts; the message says what is wrong. */
public final class CidFormatException extends IllegalArgumentException {
    public CidFormatException(String message) {
        super(message);
    }
}
