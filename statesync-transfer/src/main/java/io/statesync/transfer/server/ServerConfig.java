package io.statesync.transfer.server;

import java.time.Duration;

/**
 * How a {@link FileShareServer} listens and defends itself.
 *
 * @param host address to bind, e.g. 127.0.0.1
 * @param port port to bind; 0 picks a free one
 * @param maxConnections open connections beyond this are refused
 * @param headerTimeout time a client has to send a complete request head (slowloris guard)
 * @param idleTimeout a connection with no traffic for this long is closed
 * @param maxHeaderBytes largest request head accepted (431 beyond)
 */
public record ServerConfig(String host, int port, int maxConnections, Duration headerTimeout, Duration idleTimeout,
                           int maxHeaderBytes) {

    /** 127.0.0.1, a free port, 512 connections, 10 s header timeout, 60 s idle, 8 KiB heads. */
    public static ServerConfig loopback() {
        return new ServerConfig("127.0.0.1", 0, 512, Duration.ofSeconds(10), Duration.ofSeconds(60), 8192);
    }

    public ServerConfig withHost(String v) {
        return new ServerConfig(v, port, maxConnections, headerTimeout, idleTimeout, maxHeaderBytes);
    }

    public ServerConfig withPort(int v) {
        return new ServerConfig(host, v, maxConnections, headerTimeout, idleTimeout, maxHeaderBytes);
    }

    public ServerConfig withMaxConnections(int v) {
        return new ServerConfig(host, port, v, headerTimeout, idleTimeout, maxHeaderBytes);
    }

    public ServerConfig withHeaderTimeout(Duration v) {
        return new ServerConfig(host, port, maxConnections, v, idleTimeout, maxHeaderBytes);
    }

    public ServerConfig withIdleTimeout(Duration v) {
        return new ServerConfig(host, port, maxConnections, headerTimeout, v, maxHeaderBytes);
    }
}
