package io.statesync.transfer.server;

import io.statesync.transfer.tls.Tls;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link FileShareServer} listens and defends itself.
 *
 * @param host address to bind, e.g. 127.0.0.1
 * @param port port to bind; 0 picks a free one
 * @param maxConnections open connections beyond this are refused
 * @param headerTimeout time a client has to send a complete request head (slowloris guard)
 * @param idleTimeout a connection with no traffic for this long is closed
 * @param maxHeaderBytes largest request head accepted (431 beyond)
 * @param maxBytesPerSecond cap on the bytes per second the server sends over all connections; 0 for none
 * @param maxConnectionsPerAddress open connections from one client address beyond this are refused,
 *     so one client cannot take every connection
 * @param bodyTimeout time a client has to send a request body once its head arrived, on top of
 *     what {@code minBodyBytesPerSecond} allows for its length
 * @param minBodyBytesPerSecond the slowest a body may arrive: a body of {@code n} bytes must be
 *     complete within {@code bodyTimeout + n / minBodyBytesPerSecond}, however its bytes trickle
 * @param tls the certificate to serve HTTPS with, and whether to ask clients for theirs; null
 *     for plain HTTP
 */
public record ServerConfig(String host, int port, int maxConnections, Duration headerTimeout, Duration idleTimeout,
                           int maxHeaderBytes, long maxBytesPerSecond, int maxConnectionsPerAddress,
                           Duration bodyTimeout, long minBodyBytesPerSecond, Tls tls) {

    /** Below this a request head cannot carry the headers ordinary clients send. */
    static final int MIN_HEADER_BYTES = 1024;

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(headerTimeout, "headerTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(bodyTimeout, "bodyTimeout");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0..65535, got " + port);
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections must be at least 1, got " + maxConnections);
        }
        if (maxConnectionsPerAddress < 1) {
            throw new IllegalArgumentException("maxConnectionsPerAddress must be at least 1, got "
                    + maxConnectionsPerAddress);
        }
        if (headerTimeout.isNegative() || headerTimeout.isZero()) {
            throw new IllegalArgumentException("headerTimeout must be positive, got " + headerTimeout);
        }
        if (idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("idleTimeout must be positive, got " + idleTimeout);
        }
        if (bodyTimeout.isNegative() || bodyTimeout.isZero()) {
            throw new IllegalArgumentException("bodyTimeout must be positive, got " + bodyTimeout);
        }
        if (minBodyBytesPerSecond < 1) {
            throw new IllegalArgumentException("minBodyBytesPerSecond must be positive, got " + minBodyBytesPerSecond);
        }
        if (maxBytesPerSecond < 0) {
            throw new IllegalArgumentException("maxBytesPerSecond must be 0 (unlimited) or positive, got " + maxBytesPerSecond);
        }
        if (tls != null && !tls.hasIdentity()) {
            throw new IllegalArgumentException("a TLS server needs a certificate and its key");
        }
        if (maxHeaderBytes < MIN_HEADER_BYTES) {
            throw new IllegalArgumentException(
                    "maxHeaderBytes must be at least " + MIN_HEADER_BYTES + ", got " + maxHeaderBytes);
        }
    }

    /**
     * 127.0.0.1, a free port, 512 connections and 64 per client address, 10 s header timeout,
     * 60 s idle, 8 KiB heads, bodies within 10 s plus 1 s per 64 KiB, no rate limit.
     */
    public static ServerConfig loopback() {
        return new ServerConfig("127.0.0.1", 0, 512, Duration.ofSeconds(10), Duration.ofSeconds(60), 8192, 0, 64,
                Duration.ofSeconds(10), 64 * 1024, null);
    }

    public ServerConfig withHost(String v) {
        return new ServerConfig(v, port, maxConnections, headerTimeout, idleTimeout, maxHeaderBytes, maxBytesPerSecond,
                maxConnectionsPerAddress, bodyTimeout, minBodyBytesPerSecond, tls);
    }

    public ServerConfig withPort(int v) {
        return new ServerConfig(host, v, maxConnections, headerTimeout, idleTimeout, maxHeaderBytes, maxBytesPerSecond,
                maxConnectionsPerAddress, bodyTimeout, minBodyBytesPerSecond, tls);
    }

    public ServerConfig withMaxConnections(int v) {
        return new ServerConfig(host, port, v, headerTimeout, idleTimeout, maxHeaderBytes, maxBytesPerSecond,
                maxConnectionsPerAddress, bodyTimeout, minBodyBytesPerSecond, tls);
    }

    public ServerConfig withHeaderTimeout(Duration v) {
        return new ServerConfig(host, port, maxConnections, v, idleTimeout, maxHeaderBytes, maxBytesPerSecond,
                maxConnectionsPerAddress, bodyTimeout, minBodyBytesPerSecond, tls);
    }

    public ServerConfig withIdleTimeout(Duration v) {
        return new ServerConfig(host, port, maxConnections, headerTimeout, v, maxHeaderBytes, maxBytesPerSecond,
                maxConnectionsPerAddress, bodyTimeout, minBodyBytesPerSecond, tls);
    }

    public ServerConfig withMaxHeaderBytes(int v) {
        return new ServerConfig(host, port, maxConnections, headerTimeout, idleTimeout, v, maxBytesPerSecond,
                maxConnectionsPerAddress, bodyTimeout, minBodyBytesPerSecond, tls);
    }

    /**
     * Caps what the whole server sends, over all connections, in bytes per second (0: no cap),
     * so a node serving snapshots leaves room on its uplink for its own work.
     */
    public ServerConfig withMaxBytesPerSecond(long v) {
        return new ServerConfig(host, port, maxConnections, headerTimeout, idleTimeout, maxHeaderBytes, v,
                maxConnectionsPerAddress, bodyTimeout, minBodyBytesPerSecond, tls);
    }

    public ServerConfig withMaxConnectionsPerAddress(int v) {
        return new ServerConfig(host, port, maxConnections, headerTimeout, idleTimeout, maxHeaderBytes,
                maxBytesPerSecond, v, bodyTimeout, minBodyBytesPerSecond, tls);
    }

    /** How slowly a request body may arrive: within {@code timeout} plus its length at {@code minBytesPerSecond}. */
    public ServerConfig withBodyDeadline(Duration timeout, long minBytesPerSecond) {
        return new ServerConfig(host, port, maxConnections, headerTimeout, idleTimeout, maxHeaderBytes,
                maxBytesPerSecond, maxConnectionsPerAddress, timeout, minBytesPerSecond, tls);
    }

    /**
     * Serves HTTPS with {@code v}'s certificate (asking clients for theirs as {@code v} says), or
     * plain HTTP with null.
     */
    public ServerConfig withTls(Tls v) {
        return new ServerConfig(host, port, maxConnections, headerTimeout, idleTimeout, maxHeaderBytes,
                maxBytesPerSecond, maxConnectionsPerAddress, bodyTimeout, minBodyBytesPerSecond, v);
    }
}
