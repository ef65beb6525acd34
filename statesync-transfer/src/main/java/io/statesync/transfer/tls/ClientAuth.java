package io.statesync.transfer.tls;

import java.util.Locale;

/** Whether a TLS server asks its clients for a certificate signed by the trusted CA bundle. */
public enum ClientAuth {
    /** No client certificate is asked for. */
    NONE,
    /** One is asked for; a client without one is still served, a client with a bad one is not. */
    WANT,
    /** A client without a certificate signed by the trusted bundle fails the handshake (mTLS). */
    REQUIRE;

    /** Parses {@code none}, {@code want} or {@code require}, in any case. */
    public static ClientAuth parse(String text) {
        return switch (text.strip().toLowerCase(Locale.ROOT)) {
            case "none" -> NONE;
            case "want" -> WANT;
            case "require" -> REQUIRE;
            default -> throw new IllegalArgumentException("'" + text + "' is not one of none, want, require");
        };
    }

    /** The spelling {@link #parse} takes. */
    public String spelling() {
        return name().toLowerCase(Locale.ROOT);
    }
}
