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
 */
public record MembershipConfig(String host, int port, List<InetSocketAddress> seeds, String namespace,
                               Duration gossipInterval, Duration pingInterval, Duration pingTimeout,
                               int suspicionMultiplier, Duration syncInterval, Duration requestTimeout,
                               int maxMetadataBytes) {

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
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes);
    }

    public MembershipConfig withPort(int v) {
        return new MembershipConfig(host, v, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes);
    }

    public MembershipConfig withSeeds(List<InetSocketAddress> v) {
        return new MembershipConfig(host, port, v, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes);
    }

    public MembershipConfig withNamespace(String v) {
        return new MembershipConfig(host, port, seeds, v, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes);
    }

    public MembershipConfig withGossipInterval(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, v, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes);
    }

    public MembershipConfig withPingInterval(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, v, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes);
    }

    public MembershipConfig withPingTimeout(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, v,
                suspicionMultiplier, syncInterval, requestTimeout, maxMetadataBytes);
    }

    public MembershipConfig withSuspicionMultiplier(int v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                v, syncInterval, requestTimeout, maxMetadataBytes);
    }

    public MembershipConfig withSyncInterval(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, v, requestTimeout, maxMetadataBytes);
    }

    public MembershipConfig withRequestTimeout(Duration v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, v, maxMetadataBytes);
    }

    public MembershipConfig withMaxMetadataBytes(int v) {
        return new MembershipConfig(host, port, seeds, namespace, gossipInterval, pingInterval, pingTimeout,
                suspicionMultiplier, syncInterval, requestTimeout, v);
    }

    private static void positive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        // ScaleCube takes whole milliseconds as an int.
        if (d.toMillis() < 1 || d.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + " must be 1 ms .. 24 days, got " + d);
        }
    }
}
