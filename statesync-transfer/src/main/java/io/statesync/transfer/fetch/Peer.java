package io.statesync.transfer.fetch;

/** One source's standing in a fetch. Guarded by the fetch's lock. */
final class Peer {
    final Source source;
    int inflight;
    long backoffUntil;
    int consecutiveFailures;
    boolean banned;
    /** No longer offered by the resolver: gets no new requests; requests in flight finish. */
    boolean gone;
    /** Serves {@code /blocks}: null until its first batch answers, false for plain servers. */
    Boolean batches;
    long bytes;
    long chunks;
    long failures;
    long corrupt;
    String lastError;

    Peer(Source source) {
        this.source = source;
    }

    boolean usable() {
        return !banned && !gone;
    }

    /** Served a corrupt chunk: asked only for chunks no source above suspicion can give. */
    boolean suspect() {
        return corrupt > 0;
    }
}
