package io.statesync.transfer.server;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.store.ContentStore;
import java.net.URI;

/**
 * Serves a {@link ContentStore} over HTTP per the file-share contract: {@code GET}/{@code HEAD
 * /ipfs/{cid}} with Range, ETag and immutable caching; {@code /metrics}; {@code /health}.
 * Never lists and never serves anything outside the store. Owns its event loops; close it.
 */
public final class FileShareServer implements AutoCloseable {

    /** Binds and starts serving. Metrics are registered in, and {@code /metrics} renders, {@code registry}. */
    public static FileShareServer start(ServerConfig config, ContentStore store, PrometheusMeterRegistry registry)
            throws java.io.IOException, InterruptedException {
        throw new UnsupportedOperationException("not yet");
    }

    /** The bound port. */
    public int port() {
        throw new UnsupportedOperationException("not yet");
    }

    /** {@code http://host:port}: the base URL a downloader uses as a source. */
    public URI uri() {
        throw new UnsupportedOperationException("not yet");
    }

    /** Stops accepting, closes connections and shuts the event loops down. */
    @Override
    public void close() {
    }
}
