package io.statesync.discovery.card;

/** A card we refuse; {@link #reason()} is the metric tag, the message says what was wrong. */
public final class CardException extends Exception {
    /** Why a card was refused. */
    public enum Reason { MALFORMED, OVERSIZE, BAD_SIGNATURE, ID_MISMATCH, EXPIRED, EXPIRY_TOO_FAR, UNTRUSTED_KEY }

    private final Reason reason;

    public CardException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
