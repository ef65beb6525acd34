package io.statesync.cli;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import io.statesync.transfer.tls.ClientAuth;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync serve}: serves a store over HTTP as a file share until SIGINT or SIGTERM,
 * then closes the server cleanly.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serves a store over HTTP (GET /ipfs/<cid>, /metrics, /health) until interrupted.",
                "With --cert and --key it serves HTTPS; with --client-auth require only clients whose certificate "
                        + "--ca-file signed."})
final class ServeCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--store", paramLabel = "DIR", required = true, description = "store to serve; created if missing")
    private Path store;

    @Option(names = "--host", paramLabel = "ADDRESS", defaultValue = "127.0.0.1",
            description = "address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for all)")
    private String host;

    @Option(names = "--port", paramLabel = "N", required = true, description = "port to listen on; 0 picks a free one")
    private int port;

    @Option(names = "--max-connections", paramLabel = "N", description = "open connections beyond this are refused (default: 512)")
    private Integer maxConnections;

    @Option(names = "--rate-limit", paramLabel = "SIZE", converter = Converters.Size.class,
            description = "cap on bytes sent per second over all connections, e.g. 50MiB (default: none)")
    private Long rateLimit;

    @Mixin
    private TlsOptions tls;

    @Option(names = "--client-auth", paramLabel = "none|want|require", defaultValue = "none",
            converter = ClientAuthConverter.class,
            description = "under TLS, whether clients must present a certificate signed by --ca-file "
                    + "(default: ${DEFAULT-VALUE})")
    private ClientAuth clientAuth;

    static final class ClientAuthConverter implements picocli.CommandLine.ITypeConverter<ClientAuth> {
        @Override
        public ClientAuth convert(String value) {
            try {
                return ClientAuth.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535) {
            throw new ParameterException(spec.commandLine(), "--port must be between 0 and 65535, got " + port);
        }
        ServerConfig config = ServerConfig.loopback().withHost(host).withPort(port);
        if (maxConnections != null) {
            if (maxConnections < 1) {
                throw new ParameterException(spec.commandLine(), "--max-connections must be at least 1, got " + maxConnections);
            }
            config = config.withMaxConnections(maxConnections);
        }
        if (rateLimit != null) {
            if (rateLimit < 1) {
                throw new ParameterException(spec.commandLine(), "--rate-limit must be at least 1 byte per second, got " + rateLimit);
            }
            config = config.withMaxBytesPerSecond(rateLimit);
        }
        if (tls.given() || clientAuth != ClientAuth.NONE) {
            // Serves HTTPS only; a bad file stops here with its one-line reason.
            config = config.withTls(tls.server(clientAuth));
        }
        ContentStore cs = Directories.openStore(store);
        PrintWriter err = spec.commandLine().getErr();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (FileShareServer server = start(config, cs, registry)) {
            err.println("serving " + cs.root() + " at " + server.uri());
            err.flush();
            // Until SIGINT or SIGTERM, which interrupts this thread (see StopOnShutdown).
            new CountDownLatch(1).await();
        } catch (InterruptedException stop) {
            // The server was closed on the way out of the try block.
            err.println("stopped serving " + cs.root());
            err.flush();
        } finally {
            registry.close();
        }
        return Failures.OK;
    }

    private static FileShareServer start(ServerConfig config, ContentStore cs, PrometheusMeterRegistry registry)
            throws CommandFailure, InterruptedException {
        try {
            return FileShareServer.start(config, cs, registry);
        } catch (IOException e) {
            throw new CommandFailure("cannot listen on " + config.host() + ":" + config.port() + ": "
                    + Failures.describeIo(e), e);
        }
    }
}
