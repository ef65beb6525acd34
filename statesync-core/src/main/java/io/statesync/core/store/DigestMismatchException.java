package io.statesync.core.store;

import io.statesync.core.cid.Cid;
import java.io.IOException;

/** Bytes offered for a CID whose sha2-256 is not that CID's digest; nothing was stored. */
public final class DigestMismatchException extends IOException {
    private final Cid expected;
    private final Cid actual;

    public DigestMismatchException(Cid expected, Cid actual) {
        super("content does not match " + expected + " (its digest gives " + actual + ")");
        this.expected = expected;
        this.actual = actual;
    }

    public Cid expected() {
        return expected;
    }

    public Cid actual() {
        return actual;
    }
}
