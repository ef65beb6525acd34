package io.statesync.discovery.membership;

import io.micrometer.core.instrument.MeterRegistry;
import io.scalecube.cluster.Cluster;
import io.scalecube.cluster.ClusterConfig;
import io.scalecube.cluster.ClusterImpl;
import io.scalecube.cluster.ClusterMessageHandler;
import io.statesync.discovery.membership.GossipMetrics.DropReason;
import io.statesync.discovery.membership.GossipMetrics.EventType;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Membership} on ScaleCube cluster 2.7.7 (SWIM failure detection, gossip, periodic table
 * sync). What we change about it, and why:
 * <ul>
 *   <li>The wire format ({@link WireCodec}) and metadata codec ({@link RawMetadataCodec}): its
 *       defaults are Java serialization of whatever arrives, a remote-code-execution hole.</li>
 *   <li>The socket layer ({@link GossipTransportFactory}): binds the configured host, bounds frames,
 *       closes connections that send garbage or stall, counts bytes.</li>
 *   <li>Events are re-derived: ScaleCube reports a graceful leave as LEAVING and then, seconds
 *       later, REMOVED; we report {@link MembershipEvent.Left} once and never call it a failure.</li>
 * </ul>
 *
 * <p>How metadata travels in ScaleCube: {@code publish} stores the bytes locally and bumps this
 * member's incarnation; the new membership record spreads by gossip, and every node that sees it
 * asks this node for its metadata (a request-response over TCP, {@code requestTimeout}). A failed
 * fetch is not fatal: the node keeps the old record and retries when the record reaches it again
 * through the periodic table sync ({@code syncInterval}).
 *
 * <p>Threads: ScaleCube runs the protocol on one thread named {@code sc-cluster-<host:port>} and
 * the sockets on {@code sc-cluster-io-*}; listeners are called on {@code statesync-gossip-events-*}.
 * All are daemons and all end in {@link #close()}.
 */
public final class ScaleCubeMembership implements Membership {

    private static final Logger log = LoggerFactory.getLogger(ScaleCubeMembership.class);
    private static final AtomicInteger INSTANCES = new AtomicInteger();
    /** The leave announcement takes a few gossip rounds, the transport a moment: seconds, unless something hangs. */
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration DELIVERIES_TIMEOUT = Duration.ofSeconds(5);
    /** Room for the largest table sync around the metadata. */
    private static final int FRAME_OVERHEAD_BYTES = 1024 * 1024;

    private final MembershipConfig config;
    private final MeterRegistry registry;
    private final GossipMetrics metrics = new GossipMetrics();
    private final GossipTransportFactory transportFactory;
    /** Live other members by id, with their latest metadata. Written on ScaleCube's thread. */
    private final Map<String, Member> members = new ConcurrentHashMap<>();
    /** Members that announced their leave: their removal afterwards is not a failure. */
    private final Set<String> leaving = ConcurrentHashMap.newKeySet();
    /**
     * Members ScaleCube first heard of through their leave announcement: it reports them added
     * (without metadata) and leaving at once. We never saw them alive, so we report nothing.
     */
    private final Set<String> ghosts = ConcurrentHashMap.newKeySet();
    private final List<Consumer<MembershipEvent>> listeners = new CopyOnWriteArrayList<>();
    /** Calls the listeners, in event order, off ScaleCube's protocol thread. */
    private final ExecutorService deliveries;
    /** Guards start, publish and close against each other. */
    private final Object lifecycle = new Object();
    private volatile byte[] metadata;
    private volatile boolean closed;
    /** Set once started. */
    private volatile Cluster cluster;
    private volatile String selfId;
    private volatile InetSocketAddress selfAddress;

    private ScaleCubeMembership(MembershipConfig config, byte[] metadata, MeterRegistry registry,
                                GossipTransportFactory.InboundLimits limits) {
        this.config = config;
        this.registry = registry;
        this.metadata = metadata.clone();
        this.transportFactory = new GossipTransportFactory(config.host(),
                config.maxMetadataBytes() + FRAME_OVERHEAD_BYTES, metrics, limits);
        this.deliveries = Executors.newSingleThreadExecutor(
                Thread.ofVirtual().name("statesync-gossip-events-" + INSTANCES.incrementAndGet()).factory());
    }

    /** Starts a member with empty metadata and joins the seeds; see {@link #start(MembershipConfig, byte[], MeterRegistry)}. */
    public static ScaleCubeMembership start(MembershipConfig config, MeterRegistry registry) {
        return start(config, new byte[0], registry);
    }

    /**
     * Binds the gossip port, contacts the seeds (waiting at most {@code requestTimeout} for their
     * answer; unreachable seeds are retried by the periodic sync) and returns a running member
     * whose first announcement already carries {@code metadata}.
     *
     * @throws IllegalArgumentException if {@code metadata} exceeds the configured limit
     * @throws IllegalStateException if the port cannot be bound or the start fails otherwise
     */
    public static ScaleCubeMembership start(MembershipConfig config, byte[] metadata, MeterRegistry registry) {
        return start(config, metadata, registry, GossipTransportFactory.InboundLimits.DEFAULT);
    }

    /** As above, with other bounds on the connections peers open (tests). */
    static ScaleCubeMembership start(MembershipConfig config, byte[] metadata, MeterRegistry registry,
                                     GossipTransportFactory.InboundLimits limits) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(registry, "registry");
        checkSize(Objects.requireNonNull(metadata, "metadata"), config.maxMetadataBytes());
        ScaleCubeMembership m = new ScaleCubeMembership(config, metadata, registry, limits);
        m.startCluster();
        return m;
    }

    private void startCluster() {
        int requestMillis = millis(config.requestTimeout());
        ClusterConfig clusterConfig = ClusterConfig.defaultLanConfig()
                .metadata(metadata.clone())
                .metadataCodec(new RawMetadataCodec(config.maxMetadataBytes()))
                .metadataTimeout(requestMillis)
                .transport(t -> t.port(config.port())
                        .connectTimeout(requestMillis)
                        .messageCodec(new WireCodec(config.maxMetadataBytes(), metrics))
                        .transportFactory(transportFactory))
                .membership(m -> m.namespace(config.namespace())
                        .seedMembers(config.seeds().stream()
                                .map(s -> s.getHostString() + ":" + s.getPort())
                                .toList())
                        .syncInterval(millis(config.syncInterval()))
                        .syncTimeout(requestMillis)
                        .suspicionMult(config.suspicionMultiplier()))
                .failureDetector(f -> f.pingInterval(millis(config.pingInterval()))
                        .pingTimeout(millis(config.pingTimeout())))
                .gossip(g -> g.gossipInterval(config.gossipInterval().toMillis()));
        if (config.advertise() != null) {
            // What the other members dial: the bound address is a wildcard, or not reachable from them.
            clusterConfig = clusterConfig.externalHost(config.advertise().getHostString())
                    .externalPort(config.advertise().getPort());
        }
        ClusterImpl starting = new ClusterImpl(clusterConfig).handler(c -> new ClusterMessageHandler() {
            @Override
            public void onMembershipEvent(io.scalecube.cluster.membership.MembershipEvent event) {
                onClusterEvent(event);
            }
        });
        // Bind, plus the seeds' answer: requestTimeout at most, then a margin for a slow machine.
        Duration startTimeout = config.requestTimeout().plusSeconds(10);
        try {
            cluster = starting.start().block(startTimeout);
        } catch (RuntimeException e) {
            abortStart(starting);
            throw new IllegalStateException("gossip could not start on " + config.host() + ":" + config.port()
                    + ": " + e.getMessage(), e);
        }
        io.scalecube.cluster.Member local = cluster.member();
        selfId = local.id();
        selfAddress = addressOf(local.address());
        metrics.register(registry, selfAddress.getPort(), members::size);
        log.info("gossip member {} listening on {} in namespace {}, seeds {}", selfId, local.address(),
                config.namespace(), config.seeds());
    }

    /** A start that failed half-way may still own a bound port, threads, an event loop; release them. */
    private void abortStart(ClusterImpl starting) {
        try {
            if (transportFactory.bound()) {
                starting.shutdown();
                starting.onShutdown().block(CLOSE_TIMEOUT);
            } else {
                transportFactory.disposeUnbound();
            }
        } catch (RuntimeException e) {
            log.warn("could not release what a failed gossip start held", e);
        }
        deliveries.shutdownNow();
    }

    @Override
    public Member self() {
        return new Member(selfId, selfAddress, metadata);
    }

    @Override
    public void publish(byte[] bytes) {
        checkSize(Objects.requireNonNull(bytes, "metadata"), config.maxMetadataBytes());
        synchronized (lifecycle) {
            if (closed) {
                throw new IllegalStateException("membership is closed");
            }
            byte[] copy = bytes.clone();
            metadata = copy;
            // Completes only once the announcement has most likely reached everyone; nothing to wait for.
            cluster.updateMetadata(copy).subscribe(null,
                    e -> log.warn("gossip member {} could not announce its new metadata", selfId, e));
        }
    }

    @Override
    public List<Member> members() {
        return members.values().stream().sorted(Comparator.comparing(Member::id)).toList();
    }

    @Override
    public AutoCloseable subscribe(Consumer<MembershipEvent> listener) {
        Objects.requireNonNull(listener, "listener");
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    @Override
    public void close() {
        synchronized (lifecycle) {
            if (closed) {
                return;
            }
            closed = true;
            shutDown();
        }
    }

    /**
     * Dies without a goodbye, as a killed process would: the transport is silenced first, so the
     * leave announcement of the shutdown that follows goes nowhere (nor do ping answers), and the
     * others must detect the failure. Everything is released as by {@link #close()}. For tests and
     * the probe.
     */
    void crash() {
        synchronized (lifecycle) {
            if (closed) {
                return;
            }
            closed = true;
            transportFactory.silence();
            shutDown();
        }
    }

    /** Leave (unless silenced), stop, and wait for every thread to end. */
    private void shutDown() {
        cluster.shutdown();
        try {
            cluster.onShutdown().block(CLOSE_TIMEOUT);
        } catch (RuntimeException e) {
            log.warn("gossip member {} did not shut down within {}", selfId, CLOSE_TIMEOUT, e);
        }
        awaitSchedulerThread();
        deliveries.shutdown();
        try {
            if (!deliveries.awaitTermination(DELIVERIES_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("gossip member {}: a membership listener is still running after {}; interrupting it",
                        selfId, DELIVERIES_TIMEOUT);
                deliveries.shutdownNow();
            }
        } catch (InterruptedException e) {
            deliveries.shutdownNow();
            Thread.currentThread().interrupt();
        }
        metrics.unregister(registry);
        members.clear();
        log.info("gossip member {} closed", selfId);
    }

    /**
     * ScaleCube disposes its protocol thread at shutdown without waiting for it, and exposes no
     * handle to it; its name ({@code sc-cluster-<host:port>-N}) is unique to this member, so we find
     * it by name and wait for it to end.
     */
    private void awaitSchedulerThread() {
        String prefix = "sc-cluster-" + cluster.member().address() + "-";
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith(prefix) && t != Thread.currentThread()) {
                try {
                    t.join(DELIVERIES_TIMEOUT.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                if (t.isAlive()) {
                    log.warn("gossip member {}: ScaleCube thread {} still runs after {}", selfId, t.getName(),
                            DELIVERIES_TIMEOUT);
                }
            }
        }
    }

    /** ScaleCube's events, on its protocol thread, turned into ours. */
    private void onClusterEvent(io.scalecube.cluster.membership.MembershipEvent event) {
        io.scalecube.cluster.Member sc = event.member();
        String id = sc.id();
        switch (event.type()) {
            case ADDED -> {
                if (event.newMetadata() == null) {
                    ghosts.add(id);
                    return;
                }
                Member m = toMember(sc, event.newMetadata());
                if (m != null) {
                    members.put(id, m);
                    emit(new MembershipEvent.Joined(m), EventType.JOINED);
                }
            }
            case UPDATED -> {
                Member m = toMember(sc, event.newMetadata());
                if (m != null) {
                    // A member whose earlier metadata we refused joins now.
                    boolean known = members.put(id, m) != null;
                    emit(known ? new MembershipEvent.Updated(m) : new MembershipEvent.Joined(m),
                            known ? EventType.UPDATED : EventType.JOINED);
                }
            }
            case LEAVING -> {
                if (ghosts.contains(id)) {
                    return;
                }
                Member last = members.remove(id);
                leaving.add(id);
                if (last != null) {
                    emit(new MembershipEvent.Left(last), EventType.LEFT);
                }
            }
            case REMOVED -> {
                Member last = members.remove(id);
                boolean expected = leaving.remove(id) | ghosts.remove(id);
                if (!expected && last != null) {
                    emit(new MembershipEvent.Failed(last), EventType.FAILED);
                }
            }
        }
    }

    /** Null (and counted) if the metadata is over the limit; the wire codec normally stops it first. */
    private Member toMember(io.scalecube.cluster.Member sc, ByteBuffer metadataBuffer) {
        ByteBuffer buffer = metadataBuffer == null ? ByteBuffer.allocate(0) : metadataBuffer.duplicate();
        if (buffer.remaining() > config.maxMetadataBytes()) {
            metrics.dropped(DropReason.OVERSIZE);
            log.warn("ignoring member {}: metadata of {} bytes exceeds the limit of {}", sc, buffer.remaining(),
                    config.maxMetadataBytes());
            return null;
        }
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return new Member(sc.id(), addressOf(sc.address()), bytes);
    }

    private void emit(MembershipEvent event, EventType type) {
        metrics.event(type);
        log.debug("gossip member {}: {}", selfId, event);
        if (closed) {
            return;
        }
        try {
            deliveries.execute(() -> deliver(event));
        } catch (RejectedExecutionException e) {
            // Only while closing: the listeners are being let go.
            log.debug("gossip member {}: not delivering {} while closing", selfId, event, e);
        }
    }

    private void deliver(MembershipEvent event) {
        for (Consumer<MembershipEvent> listener : listeners) {
            try {
                listener.accept(event);
            } catch (RuntimeException e) {
                log.warn("membership listener {} failed on {}", listener, event, e);
            }
        }
    }

    /**
     * "host:port" to an address, without a DNS lookup: the host comes from the network, and a name
     * that resolves slowly must not stall the protocol thread. IP literals (what ScaleCube
     * announces) become resolved addresses; names stay unresolved.
     */
    static InetSocketAddress addressOf(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        String host = hostPort.substring(0, colon);
        int port = Integer.parseInt(hostPort.substring(colon + 1));
        String literal = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (isIpv4Literal(literal) || literal.indexOf(':') >= 0) {
            try {
                // Literals are only parsed, never looked up.
                return new InetSocketAddress(InetAddress.getByName(literal), port);
            } catch (UnknownHostException e) {
                log.debug("'{}' is not an IP literal; keeping it unresolved", literal, e);
            }
        }
        return InetSocketAddress.createUnresolved(host, port);
    }

    private static boolean isIpv4Literal(String s) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')
                    || Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    private static void checkSize(byte[] bytes, int max) {
        if (bytes.length > max) {
            throw new IllegalArgumentException("metadata of " + bytes.length + " bytes exceeds the limit of " + max
                    + " (MembershipConfig.maxMetadataBytes)");
        }
    }

    private static int millis(Duration d) {
        return Math.toIntExact(d.toMillis());
    }
}
