package io.statesync.transfer.server;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.traffic.GlobalTrafficShapingHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a {@link ContentStore} over HTTP per the file-share contract: {@code GET}/{@code HEAD
 * /ipfs/{cid}} with Range, ETag and immutable caching; {@code /metrics}; {@code /health}.
 * Never lists and never serves anything outside the store. Owns its event loops; close it.
 *
 * <p>Choices within what HTTP allows, which a client may notice:
 * <ul>
 *   <li>Only a single byte range is honoured (also on HEAD); several ranges, other units and
 *       malformed {@code Range} headers are ignored and the whole blob is sent with 200.</li>
 *   <li>{@code Accept} is not consulted: every block is sent as {@code application/vnd.ipld.raw}
 *       whatever its codec; {@code ?format=} other than {@code raw} is 400.</li>
 *   <li>Paths are decoded strictly: dot segments, encoded {@code /} or {@code \}, control
 *       characters and bad escapes are 400, never normalised.</li>
 *   <li>A connection beyond the limit gets 503 with {@code Connection: close} and
 *       {@code Retry-After: 1} and is not read.</li>
 *   <li>The header and idle timeouts close the connection without a 408.</li>
 *   <li>Requests on one connection are answered one at a time; a request body over 64 KiB
 *       (or chunked) is not drained: the connection closes after the response.</li>
 *   <li>Error responses are a one-line {@code text/plain} reason, {@code Cache-Control: no-store}.</li>
 * </ul>
 * {@link #uri()} is built from the configured host, so a server bound to a wildcard address
 * reports a URL only local clients can use.
 *
 * <p>With {@link ServerConfig#tls()} set, every connection is TLS (1.2 or 1.3) from its first
 * byte, and the server may ask for or require a client certificate signed by the configured CA
 * bundle; blobs are then sent through the cipher in chunks instead of by sendfile. Plain HTTP
 * to a TLS port fails its handshake and is closed, counted in
 * {@code statesync_share_tls_handshake_failures_total}.
 */
public final class FileShareServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FileShareServer.class);
    /** How long close() lets in-flight work finish before the event loops stop regardless. */
    private static final long SHUTDOWN_TIMEOUT_SECONDS = 5;
    /** How often the egress cap's counters are refreshed. */
    private static final long SHAPER_CHECK_MILLIS = 100;
    /** How long a close waits for route answers already being computed or written. */
    private static final long ROUTE_DRAIN_MILLIS = 3_000;

    /** Accepts connections and applies the connection limit, in accept order. */
    private final EventLoopGroup boss;
    /** Runs every accepted connection: decoding, file transfer, timeouts. */
    private final EventLoopGroup io;
    /** The listening socket. */
    private final Channel listener;
    /** Every open client connection; a closed one leaves by itself. */
    private final ChannelGroup clients;
    private final ConnectionLimiter limiter;
    private final ShareMetrics metrics;
    private final URI uri;
    /** The egress cap shared by all connections, or null. */
    private final GlobalTrafficShapingHandler shaper;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Routes other layers added under their own prefixes. */
    private final Mounts mounts;

    private FileShareServer(EventLoopGroup boss, EventLoopGroup io, Channel listener, ChannelGroup clients,
                            ConnectionLimiter limiter, ShareMetrics metrics, URI uri, GlobalTrafficShapingHandler shaper,
                            Mounts mounts) {
        this.mounts = mounts;
        this.shaper = shaper;
        this.boss = boss;
        this.io = io;
        this.listener = listener;
        this.clients = clients;
        this.limiter = limiter;
        this.metrics = metrics;
        this.uri = uri;
    }

    /** Binds and starts serving. Metrics are registered in, and {@code /metrics} renders, {@code registry}. */
    public static FileShareServer start(ServerConfig config, ContentStore store, PrometheusMeterRegistry registry)
            throws IOException, InterruptedException {
        Objects.requireNonNull(store, "store");
        return bind(config, store, registry);
    }

    /**
     * Binds a server that holds no blobs: it answers only its {@link #mount mounted} routes (which
     * may still serve a store below their prefix), {@code /metrics} and {@code /health}, with every
     * defence of the file share. For a control API on its own address.
     */
    public static FileShareServer startRoutesOnly(ServerConfig config, PrometheusMeterRegistry registry)
            throws IOException, InterruptedException {
        return bind(config, null, registry);
    }

    private static FileShareServer bind(ServerConfig config, ContentStore store, PrometheusMeterRegistry registry)
            throws IOException, InterruptedException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(registry, "registry");

        // Epoll gives sendfile(2) and edge-triggered readiness; NIO is the portable fallback (and
        // what Netty picks when -Dio.netty.transport.noNative=true).
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory handlers = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> channelType =
                epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(
                1, new DefaultThreadFactory("statesync-share-boss"), handlers);
        EventLoopGroup io = new MultiThreadIoEventLoopGroup(
                Runtime.getRuntime().availableProcessors(), new DefaultThreadFactory("statesync-share-io"), handlers);

        // Notified on whichever thread completes a close: the group itself starts no thread.
        ChannelGroup clients = new DefaultChannelGroup("statesync-share", ImmediateEventExecutor.INSTANCE);
        ConnectionLimiter limiter = new ConnectionLimiter(config.maxConnections(), config.maxConnectionsPerAddress());
        Mounts mounts = new Mounts();
        ShareMetrics metrics = new ShareMetrics(registry, limiter::open);
        if (config.tls() != null) {
            metrics.tls();
        }
        // One shaper for the whole server, so the cap holds over all connections together.
        GlobalTrafficShapingHandler shaper = config.maxBytesPerSecond() > 0
                ? new GlobalTrafficShapingHandler(io, config.maxBytesPerSecond(), 0, SHAPER_CHECK_MILLIS)
                : null;
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(boss, io)
                .channel(channelType)
                .option(ChannelOption.SO_REUSEADDR, true)
                .handler(limiter)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ShareInitializer(config, store, registry, metrics, limiter, clients, shaper, mounts));

        ChannelFuture bound;
        try {
            bound = bootstrap.bind(config.host(), config.port()).await();
        } catch (InterruptedException e) {
            metrics.close();
            shutdown(boss, io);
            throw e;
        }
        if (!bound.isSuccess()) {
            metrics.close();
            shutdown(boss, io);
            Throwable cause = bound.cause();
            String why = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
            throw new IOException("cannot bind the file share to " + config.host() + ":" + config.port() + ": "
                    + why, cause);
        }
        Channel listener = bound.channel();
        int port = ((InetSocketAddress) listener.localAddress()).getPort();
        metrics.bound(port, config.maxBytesPerSecond());
        URI uri = URI.create((config.tls() == null ? "http://" : "https://") + uriHost(config.host()) + ":" + port);
        log.info("serving {} at {} ({} transport, at most {} connections{})",
                store == null ? "routes" : store.root(), uri,
                epoll ? "epoll" : "nio", config.maxConnections(),
                config.tls() == null ? "" : ", client certificates " + config.tls().clientAuth().spelling());
        return new FileShareServer(boss, io, listener, clients, limiter, metrics, uri, shaper, mounts);
    }

    /**
     * Adds endpoints under {@code /<prefix>/}: {@code store}, if not null, is served at
     * {@code /<prefix>/ipfs/{cid}} with every guarantee of the main store (Range, ETag, immutable,
     * strict paths), and {@code route} answers every other request below the prefix, whatever its
     * method. Closing the returned handle removes the mount; requests already running finish.
     *
     * @param prefix one or more path segments such as {@code "groups/abc"}; must not start with a
     *     segment the server itself answers ({@code ipfs}, {@code metrics}, {@code health})
     * @throws IllegalStateException if the prefix is already mounted
     */
    public AutoCloseable mount(String prefix, ContentStore store, Route route) {
        return mount(prefix, store, route, 0);
    }

    /**
     * As {@link #mount(String, ContentStore, Route)}, and the route also receives the bodies of
     * POST and PUT requests of up to {@code maxBodyBytes} bytes ({@link RouteRequest#body()}); a
     * larger body is answered with 413 and the connection is closed.
     */
    public AutoCloseable mount(String prefix, ContentStore store, Route route, int maxBodyBytes) {
        Objects.requireNonNull(route, "route");
        if (maxBodyBytes < 0) {
            throw new IllegalArgumentException("maxBodyBytes must not be negative, not " + maxBodyBytes);
        }
        java.util.List<String> segments = java.util.List.of(prefix.replaceAll("^/+|/+$", "").split("/"));
        if (segments.isEmpty() || segments.stream().anyMatch(s -> s.isEmpty() || s.equals(".") || s.equals(".."))
                || java.util.Set.of("ipfs", "metrics", "health").contains(segments.get(0))) {
            throw new IllegalArgumentException("cannot mount at '" + prefix + "'");
        }
        Mounts.Mount mount = new Mounts.Mount(segments, store, route, maxBodyBytes);
        mounts.add(mount);
        return () -> mounts.remove(mount);
    }

    /**
     * Adds a route that answers the root, {@code /}, whatever the method (the route checks it),
     * and nothing below it: every other path keeps its meaning, and an unknown one stays a 404.
     * For a page a person opens by typing the server's address. Request bodies are not read.
     * Closing the returned handle removes the mount.
     *
     * @throws IllegalStateException if the root is already mounted
     */
    public AutoCloseable mountRoot(Route route) {
        Objects.requireNonNull(route, "route");
        Mounts.Mount mount = new Mounts.Mount(Mounts.ROOT, null, route, 0);
        mounts.add(mount);
        return () -> mounts.remove(mount);
    }

    /**
     * Sets what {@code /health} reports: {@code check} returns why the host is unhealthy (a stalled
     * or failed component), answered as 503 with that one-line reason, or null for 200 {@code ok}.
     * It runs on every health request, so it must be quick. By default the server is healthy while
     * it runs.
     */
    public void healthCheck(java.util.function.Supplier<String> check) {
        mounts.healthCheck(check);
    }

    /** The bound port. */
    public int port() {
        return uri.getPort();
    }

    /** {@code http://host:port}, or {@code https://} under TLS: the base URL a downloader uses as a source. */
    public URI uri() {
        return uri;
    }

    /** Connections open now, not counting refused ones still being turned away. */
    public int connections() {
        return limiter.open();
    }

    /**
     * Stops accepting, lets route answers already in flight reach their clients (for at most a few
     * seconds), closes connections and shuts the event loops down.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        listener.close().awaitUninterruptibly();
        if (!mounts.awaitIdle(ROUTE_DRAIN_MILLIS)) {
            log.warn("closing with route answers still unsent after {} ms", ROUTE_DRAIN_MILLIS);
        }
        if (shaper != null) {
            shaper.release();
        }
        // Connections are closed while the loops still run normally, so every handler sees the
        // close and frees what it holds (decoder buffers, open files) before the loops stop.
        // A connection accepted in this very moment is closed by the loop shutdown instead.
        clients.close().awaitUninterruptibly();
        shutdown(boss, io);
        metrics.close();
        log.info("stopped serving at {}", uri);
    }

    /** Shuts both groups down and waits; keeps the caller's interrupt status. */
    private static void shutdown(EventLoopGroup boss, EventLoopGroup io) {
        boss.shutdownGracefully(0, SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        io.shutdownGracefully(0, SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        boss.terminationFuture().awaitUninterruptibly();
        io.terminationFuture().awaitUninterruptibly();
    }

    private static String uriHost(String host) {
        return host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
    }
}
