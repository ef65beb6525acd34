package io.statesync.discovery.membership;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * How a node joins and watches the gossip cluster.
 *
 * <h2>Failure detection</h2>
 * Every {@code pingInterval} each node pings one other member (round robin over a shuffled
 * list); a ping unanswered within {@code pingTimeout} is retried through another member until the
 * interval ends, and then the target is <em>suspected</em>. The suspicion spreads by gossip, and
 * a suspect that does not refute it within the suspicion timeout,
 * {@code suspicionMultiplier × ⌈log2(N+1)⌉ × pingInterval} for a cluster of N, is removed
 * ({@link MembershipEvent.Failed}). {@link #expectedFailureDetection(int)} adds these up. With
 * {@link #loopback()}: 0.5 s pings, multiplier 3, so about 6 s for 5 nodes and 9 s for 20
 * (suspicion 4.5 s and 7.5 s, plus the failed probe and the gossip). A graceful close is seen at
 * once, within a few gossip intervals.
 *
 * @param host the address to bind and to announce to the others (a wildcard address binds
 *             everywhere and announces {@code InetAddress.getLocalHost()})
 * @param port the gossip TCP port; 0 picks a free one
 * @param seeds members to contact first; empty for the first node of a cluster
 * @param namespace the cluster's name; nodes only see members of the same namespace (letters,
 *                  digits, {@code _ - . /}, at least two characters)
 * @param gossipInterval how often gossip (membership changes, metadata announcements) is spread
 * @param pingInterval how often each node probes one other member
 * @param pingTimeout how long a direct probe may take before it is retried through others;
 *                    less than {@code pingInterval}
 * @param suspicionMultiplier scales how long a suspected member may refute the suspicion
 * @param syncInterval how often a node exchanges its whole membership table with a random other
 *                     node: the anti-entropy that repairs lost gossip and retries failed metadata
 *                     fetches
 * @param requestTimeout how long to wait for a member's metadata (fetched from it when it
 *                       announces a change) and for the seeds' answer at start
 * @param maxMetadataBytes the largest metadata published or accepted; larger incoming metadata is
 *                         dropped and counted
 * @param advertise the address the other members reach this one at, when it is not the bound one
 *                  (a wildcard bind, a NAT, a container's published port); null for the bound address
 */
public record MembershipConfig(String host, int port, List<InetSocketAddress> seeds, String namespace,
                               Duration gossipInterval, Duration pingInterval, Duration pingTimeout,
                               int suspicionMultiplier, Duration syncInterval, Duration requestTimeout,
                               int maxMetadataBytes, InetSocketAddress advertise) {

    /** 16 KiB: a signed node card with a few share URLs and snapshot entries fits many times over. */
    public static final int DEFAULT_MAX_METADATA_BYTES = 16 * 1024;

    /** The largest metadata limit; keeps every gossip frame well under a megabyte or two. */
    public static final int MAX_METADATA_BYTES_LIMIT = 1024 * 1024;

    // ScaleCube's rule for namespaces; checked here so a bad one fails with our message, not at start.
    private static final Pattern NAMESPACE = Pattern.compile("(\\w+[\\w\\-./]*\\w)+");

    public MembershipConfig {
        Objects.requireNonNull(host, "host");
        seeds = List.copyOf(Objects.requireNonNull(seeds, "seeds"));
        Objects.requireNonNull(namespace, "namespace");
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("port must be 0..65535, got " + port);
        }
        if (!NAMESPACE.matcher(namespace).matches()) {
            throw new IllegalArgumentException("namespace must be letters, digits, _ - . / and at least two"
                    + " characters, starting and ending with a letter or digit, got '" + namespace + "'");
        }
        positive(gossipInterval, "gossip interval");
        positive(pingInterval, "ping interval");
        positive(pingTimeout, "ping timeout");
        positive(syncInterval, "sync interval");
        positive(requestTimeout, "request timeout");
        if (pingTimeout.compareTo(pingInterval) >= 0) {
            throw new IllegalArgumentException("ping timeout (" + pingTimeout + ") must be shorter than the ping"
                    + " interval (" + pingInterval + ")");
        }
        if (suspicionMultiplier < 1) {
            throw new IllegalArgumentException("suspicion multiplier must be at least 1, got " + suspicionMultiplier);
        }
        if (maxMetadataBytes < 0 || maxMetadataBytes > MAX_METADATA_BYTES_LIMIT) {
            throw new IllegalArgumentException("max metadata bytes must be 0.." + MAX_METADATA_BYTES_LIMIT
                    + ", got " + maxMetadataBytes);
        }
        for (InetSocketAddress seed : seeds) {
            if (seed.getPort() == 0) {
                throw new IllegalArgumentException("seed " + seed + " has no port");
            }
        }
        if (advertise != null && (advertise.getPort() == 0 || isWildcard(advertise.getHostString()))) {
            throw new IllegalArgumentException("advertised address " + advertise + " must name a host and a port "
                    + "other members can reach");
        }
    }

    /** The same settings, bound to {@code host} and announced as {@code advertise} (any of the profiles below). */
    public MembershipConfig(String host, int port, List<InetSocketAddress> seeds, String namespace,
                            Duration gossipInterval, Duration pingInterval, Duration pingTimeout,
                            int suspicionMultiplier, Duration syncInterval, Duration requestTimeout,
                            int maxMetadataBytes) {
        this(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout, suspicionMultiplier,
                syncInterval, requestTimeout, maxMetadataBytes, null);
    }

    private static boolean isWildcard(String host) {
        return host.equals("0.0.0.0") || host.equals("::") || host.equals("0:0:0:0:0:0:0:0");
    }

    /**
     * Tuned for nodes on one machine, where round trips take microseconds: 127.0.0.1, a free port,
     * no seeds, namespace {@code statesync}, gossip every 200 ms, a ping every 500 ms with a 200 ms
     * timeout, suspicion multiplier 3, a table sync every 2 s, 1 s request timeout, 16 KiB of
     * metadata. A cluster converges in well under a second and detects a dead node in about 6 s
     * (5 nodes). On a real network raise the ping interval and timeout and the request timeout.
     */
    public static MembershipConfig loopback() {
        return new MembershipConfig("127.0.0.1", 0, List.of(), "statesync",
                Duration.ofMillis(200), Duration.ofMillis(500), Duration.ofMillis(200), 3,
                Duration.ofSeconds(2), Duration.ofSeconds(1), DEFAULT_MAX_METADATA_BYTES);
    }

    /**
     * Tuned for one data centre (sub-millisecond to a few milliseconds per round trip, occasional
     * GC pauses): gossip every 200 ms, a ping every second with a 500 ms timeout, suspicion
     * multiplier 5, a table sync every 10 s, 3 s request timeout. A dead node is removed in about
     * 18 s in a cluster of 5 and 28 s in one of 20 ({@link #expectedFailureDetection(int)}).
     */
    public static MembershipConfig lan() {
        return loopback().withGossipInterval(Duration.ofMillis(200)).withPingInterval(Duration.ofSeconds(1))
                .withPingTimeout(Duration.ofMillis(500)).withSuspicionMultiplier(5)
                .withSyncInterval(Duration.ofSeconds(10)).withRequestTimeout(Duration.ofSeconds(3));
    }

    /**
     * Tuned for nodes in different regions (round trips of 50 to 300 ms, lossy links): gossip every
     * 500 ms, a ping every 5 s with a 3 s timeout, suspicion multiplier 6, a table sync every 30 s,
     * 10 s request timeout. A dead node is removed in about 1.7 minutes in a cluster of 5; in return
     * a slow link rarely gets a live node suspected.
     */
    public static MembershipConfig wan() {
        return loopback().withGossipInterval(Duration.ofMillis(500)).withPingInterval(Duration.ofSeconds(5))
                .withPingTimeout(Duration.ofSeconds(3)).withSuspicionMultiplier(6)
                .withSyncInterval(Duration.ofSeconds(30)).withRequestTimeout(Duration.ofSeconds(10));
    }

    /**
     * The time failure detection typically takes to remove a dead member from a cluster of
     * {@code clusterSize} nodes (the dead one included): one failed probe (a ping interval to be
     * probed, one for the probe and its indirect retries), the suspicion timeout, and the gossip
     * that carries the suspicion to the others. An estimate, not a bound: allow some slack.
     */
    public Duration expectedFailureDetection(int clusterSize) {
        int log2 = ceilLog2(clusterSize);
        return pingInterval.multipliedBy(2)
                .plus(pingInterval.multipliedBy((long) suspicionMultiplier * log2))
                .plus(gossipInterval.multipliedBy(log2));
    }

    /** ScaleCube's ⌈log2(n + 1)⌉ (bits needed for n), which scales its suspicion and gossip rounds. */
    static int ceilLog2(int n) {
        return 32 - Integer.numberOfLeadingZeros(Math.max(1, n));
    }

    public MembershipConfig withHost(String v) {
        return new MembershipConfig(v, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes, advertise);
    }

    public MembershipConfig withPort(int v) {
        return new MembershipConfig(host, v, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes, advertise);
    }

    public MembershipConfig withSeeds(List<InetSocketAddress> v) {
        return new MembershipConfig(host, port, v, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes, advertise);
    }

    public MembershipConfig withNamespace(String v) {
        return new MembershipConfig(host, port, seeds, v, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes, advertise);
    }

    public MembershipConfig withGossipInterval(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, v, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes, advertise);
    }

    public MembershipConfig withPingInterval(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, v, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes, advertise);
    }

    public MembershipConfig withPingTimeout(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, v,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes, advertise);
    }

    public MembershipConfig withSuspicionMultiplier(int v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                v, syncInterval, requestTimeout, maxMetadataBytes, advertise);
    }

    public MembershipConfig withSyncInterval(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, v, requestTimeout, maxMetadataBytes, advertise);
    }

    public MembershipConfig withRequestTimeout(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, v, maxMetadataBytes, advertise);
    }

    public MembershipConfig withMaxMetadataBytes(int v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, v, advertise);
    }

    public MembershipConfig withAdvertise(InetSocketAddress v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes, v);
    }

    private static void positive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        // ScaleCube takes whole milliseconds as an int.
        if (d.toMillis() < 1 || d.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + " must be 1 ms .. 24 days, got " + d);
        }
    }
}
