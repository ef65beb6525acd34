package io.statesync.discovery.membership;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.scalecube.cluster.transport.api.Message;
import io.scalecube.cluster.transport.api.Transport;
import io.scalecube.cluster.transport.api.TransportConfig;
import io.scalecube.cluster.transport.api.TransportFactory;
import io.scalecube.transport.netty.Receiver;
import io.scalecube.transport.netty.Sender;
import io.scalecube.transport.netty.TransportImpl;
import io.scalecube.transport.netty.TransportImpl.ReceiverContext;
import io.scalecube.transport.netty.TransportImpl.SenderContext;
import io.statesync.transfer.server.ClientAddress;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.resources.LoopResources;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

/**
 * ScaleCube's TCP transport with our socket layer. We keep ScaleCube's {@link TransportImpl}
 * (connection cache, request-response, its event loop, named {@code sc-cluster-io-*}) and its
 * framing, and replace its {@code TcpTransportFactory}'s receiver and sender, because that one
 * always binds the wildcard address (its config has no host), sizes frames up to 2 MiB, never
 * times out a half-sent frame, and cannot count bytes. Ours binds the configured host, and puts a
 * {@link ByteCounter} and a {@link FrameDecoder} on every connection, in and out.
 *
 * <p>Stopping is ours too. ScaleCube's ends the event loop with reactor-netty's 2 s quiet period
 * and does not wait for it, so its threads outlive the stop. Ours closes the server, then every
 * connection, then ends the loop at once (the leave announcement has gone out by then) and waits
 * for it. The connections are closed explicitly because ending the loop without a quiet period
 * leaves accepted ones open: peers keep writing into them, and a node restarted on the same port
 * never hears those peers.
 *
 * <p>One factory makes one transport; it keeps it so that a test can silence it to simulate a crash.
 */
final class GossipTransportFactory implements TransportFactory {

    /** How long a frame may stay incomplete before its connection is closed. */
    static final long STALL_MILLIS = 10_000;
    /** Inbound connections the port holds at most: a cluster's members and a few observers fit many times. */
    static final int MAX_INBOUND = 256;
    /** Inbound connections one address holds at most (a host runs a few nodes and observers, not dozens). */
    static final int MAX_INBOUND_PER_ADDRESS = 32;
    /**
     * An inbound connection nothing arrives on for this long is closed. Members ping each other
     * every second or two and exchange their membership every half minute; a closed one is opened
     * again by the sender when it next has something to say.
     */
    static final Duration INBOUND_IDLE = Duration.ofMinutes(2);
    private static final Duration LOOP_SHUTDOWN_TIMEOUT = Duration.ofSeconds(5);
    private static final Logger log = LoggerFactory.getLogger(GossipTransportFactory.class);

    private final String host;
    private final int maxFrameBytes;
    private final GossipMetrics metrics;
    private final InboundLimits limits;
    private volatile Transport transport;
    /** ScaleCube's event loop for this transport, captured when the server binds. */
    private volatile LoopResources loops;
    /** Every open connection, both ways; closed one by one at stop. */
    private final Set<Channel> channels = ConcurrentHashMap.newKeySet();
    /** Our server, captured when bound. */
    private volatile DisposableServer server;
    /** Set by {@link #silence()}. */
    private volatile boolean silenced;

    GossipTransportFactory(String host, int maxFrameBytes, GossipMetrics metrics, InboundLimits limits) {
        this.host = host;
        this.maxFrameBytes = maxFrameBytes;
        this.metrics = metrics;
        this.limits = limits;
    }

    /** The bounds on connections peers open to this node's gossip port. */
    record InboundLimits(int max, int maxPerAddress, Duration idle) {
        static final InboundLimits DEFAULT = new InboundLimits(MAX_INBOUND, MAX_INBOUND_PER_ADDRESS, INBOUND_IDLE);
    }

    /** Inbound connections open now, in total and per peer address (an IPv6 peer by its /64). */
    private final java.util.concurrent.atomic.AtomicInteger inbound = new java.util.concurrent.atomic.AtomicInteger();
    private final Map<InetAddress, Integer> inboundPerAddress = new ConcurrentHashMap<>();

    /**
     * Admits a connection a peer opened, or closes it at once when the port or the peer's address
     * holds its most; an admitted one is closed when idle for {@link InboundLimits#idle}.
     */
    private boolean admit(Channel channel) {
        InetAddress address = ClientAddress.of(channel.remoteAddress());
        GossipMetrics.CloseReason refused = null;
        synchronized (inboundPerAddress) {
            if (inbound.get() >= limits.max()) {
                refused = GossipMetrics.CloseReason.LIMIT_TOTAL;
            } else if (address != null && inboundPerAddress.getOrDefault(address, 0) >= limits.maxPerAddress()) {
                refused = GossipMetrics.CloseReason.LIMIT_ADDRESS;
            } else {
                inbound.incrementAndGet();
                if (address != null) {
                    inboundPerAddress.merge(address, 1, Integer::sum);
                }
            }
        }
        if (refused != null) {
            metrics.closed(refused);
            log.debug("gossip: closing a connection from {}: {}", channel.remoteAddress(), refused);
            channel.close();
            return false;
        }
        channel.closeFuture().addListener(f -> {
            synchronized (inboundPerAddress) {
                inbound.decrementAndGet();
                if (address != null) {
                    inboundPerAddress.computeIfPresent(address, (a, n) -> n <= 1 ? null : n - 1);
                }
            }
        });
        channel.pipeline().addFirst(new IdleStateHandler(limits.idle().toNanos(), 0, 0, TimeUnit.NANOSECONDS) {
            @Override
            protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
                metrics.closed(GossipMetrics.CloseReason.IDLE);
                log.debug("gossip: closing an idle connection from {}", ctx.channel().remoteAddress());
                ctx.close();
            }
        });
        return true;
    }

    @Override
    public Transport createTransport(TransportConfig config) {
        Transport t = new StoppingTransport(new TransportImpl(config.messageCodec(), new BoundReceiver(config.port()),
                new FramedSender(config.connectTimeout()), config.addressMapper()));
        this.transport = t;
        return t;
    }

    /**
     * From now on nothing leaves this node: every send fails as it would on a dead host. What a
     * killed process looks like to its peers, while this one can still shut down cleanly.
     */
    void silence() {
        silenced = true;
    }

    /** Whether the server is bound (ScaleCube's transport learns its address then). */
    boolean bound() {
        Transport t = transport;
        return t != null && t.address() != null;
    }

    /**
     * Ends the event loop of a transport whose bind failed. Its own stop would wait forever: ScaleCube
     * wires the stop up only after a successful bind.
     */
    void disposeUnbound() {
        LoopResources l = loops;
        if (l != null) {
            l.disposeLater(Duration.ZERO, LOOP_SHUTDOWN_TIMEOUT).block(LOOP_SHUTDOWN_TIMEOUT.plusSeconds(1));
        }
    }

    private void configure(Channel channel) {
        channels.add(channel);
        channel.closeFuture().addListener(f -> channels.remove(channel));
        ChannelPipeline p = channel.pipeline();
        // addFirst each: the counter ends up next to the socket, then the length prefixer, then the decoder.
        p.addFirst(new FrameDecoder(maxFrameBytes, STALL_MILLIS, metrics));
        p.addFirst(new LengthFieldPrepender(FrameDecoder.LENGTH_BYTES));
        p.addFirst(new ByteCounter(metrics));
    }

    /** Accepts peers' connections on the configured host and hands each frame to ScaleCube. */
    private final class BoundReceiver implements Receiver {
        private final int port;

        BoundReceiver(int port) {
            this.port = port;
        }

        @Override
        public Mono<DisposableServer> bind() {
            return Mono.deferContextual(context -> {
                ReceiverContext receiver = context.get(ReceiverContext.class);
                loops = receiver.loopResources();
                return TcpServer.create()
                        .runOn(receiver.loopResources())
                        .host(host)
                        .port(port)
                        .childOption(ChannelOption.TCP_NODELAY, true)
                        .childOption(ChannelOption.SO_KEEPALIVE, true)
                        .doOnChannelInit((observer, channel, remote) -> {
                            if (admit(channel)) {
                                configure(channel);
                            }
                        })
                        .handle((in, out) -> in.receive().retain().doOnNext(receiver::onMessage).then())
                        .bind()
                        .cast(DisposableServer.class)
                        .doOnNext(bound -> server = bound);
            });
        }
    }

    /** Opens connections to peers (ScaleCube caches one per address) and writes frames to them. */
    private final class FramedSender implements Sender {
        private final int connectTimeoutMillis;

        FramedSender(int connectTimeoutMillis) {
            this.connectTimeoutMillis = connectTimeoutMillis;
        }

        @Override
        public Mono<Connection> connect(String address) {
            return Mono.deferContextual(context -> {
                SenderContext sender = context.get(SenderContext.class);
                return TcpClient.newConnection()
                        .runOn(sender.loopResources())
                        .host(Transport.parseHost(address))
                        .port(Transport.parsePort(address))
                        .option(ChannelOption.TCP_NODELAY, true)
                        .option(ChannelOption.SO_KEEPALIVE, true)
                        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                        .doOnChannelInit((observer, channel, remote) -> configure(channel))
                        .connect()
                        .cast(Connection.class);
            });
        }

        @Override
        public Mono<Void> send(Message message) {
            return Mono.deferContextual(context -> {
                Connection connection = context.get(Connection.class);
                SenderContext sender = context.get(SenderContext.class);
                return connection.outbound()
                        .sendObject(Mono.just(message).map(sender.messageEncoder()), frame -> true)
                        .then();
            });
        }
    }

    /** ScaleCube's transport, with a stop that ends the event loop promptly and waits for it. */
    private final class StoppingTransport implements Transport {
        private final Transport delegate;

        StoppingTransport(Transport delegate) {
            this.delegate = delegate;
        }

        @Override
        public Mono<Transport> start() {
            return delegate.start().thenReturn(this);
        }

        @Override
        public Mono<Void> stop() {
            return Mono.defer(() -> {
                DisposableServer s = server;
                LoopResources l = loops;
                // In this order, while the loop still runs (closing a channel on a dead loop never
                // completes): the server, then every connection (ending the loop at once would
                // leave accepted ones open, with peers writing into them), then the loop.
                // ScaleCube's own stop then finds everything done and only completes its streams.
                Mono<Void> serverDown = s == null ? Mono.empty() : Mono.fromRunnable(s::dispose).then(s.onDispose());
                Mono<Void> connectionsDown = Mono.defer(() -> Mono.when(channels.stream().map(c -> closed(c)).toList()));
                Mono<Void> loopsDown = l == null ? Mono.empty() : l.disposeLater(Duration.ZERO, LOOP_SHUTDOWN_TIMEOUT);
                return serverDown.then(connectionsDown).then(loopsDown)
                        .doOnError(e -> log.warn("gossip transport {} did not stop cleanly", address(), e))
                        .onErrorResume(e -> Mono.empty())
                        .then(delegate.stop());
            });
        }

        private static Mono<Void> closed(Channel channel) {
            return Mono.create(sink -> channel.close().addListener(f -> sink.success()));
        }

        @Override
        public String address() {
            return delegate.address();
        }

        @Override
        public boolean isStopped() {
            return delegate.isStopped();
        }

        @Override
        public Mono<Void> send(String address, Message message) {
            return Mono.defer(() -> silenced ? Mono.error(silencedError()) : delegate.send(address, message));
        }

        @Override
        public Mono<Message> requestResponse(String address, Message request) {
            return Mono.defer(() -> silenced ? Mono.error(silencedError()) : delegate.requestResponse(address, request));
        }

        private IllegalStateException silencedError() {
            return new IllegalStateException("gossip transport " + address() + " is silenced (simulated crash)");
        }

        @Override
        public Flux<Message> listen() {
            return delegate.listen();
        }
    }
}
