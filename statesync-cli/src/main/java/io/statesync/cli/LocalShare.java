package io.statesync.cli;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.io.IOException;
import java.nio.file.Path;

/** A store served on a free loopback port, with its own metrics; closing stops both. */
record LocalShare(FileShareServer server, PrometheusMeterRegistry registry) implements AutoCloseable {
    /** Serves {@code store} (created if missing) on 127.0.0.1 and a free port. */
    static LocalShare start(Path store) throws IOException, InterruptedException {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try {
            return new LocalShare(FileShareServer.start(ServerConfig.loopback(), ContentStore.open(store), registry),
                    registry);
        } catch (IOException | InterruptedException | RuntimeException e) {
            registry.close();
            throw e;
        }
    }

    /** This share as a fetch source. */
    Source source() {
        return Source.parse(server.uri().toString());
    }

    @Override
    public void close() {
        try {
            server.close();
        } finally {
            registry.close();
        }
    }
}
