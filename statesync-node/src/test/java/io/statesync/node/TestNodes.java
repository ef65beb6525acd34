package io.statesync.node;

import io.statesync.node.ledger.Genesis;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.producer.ProducerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/** Configurations of a test cluster on free loopback ports: every node a member of every thread. */
final class TestNodes {
    static final Signer FAUCET = Signer.fromPhrase("node-test-faucet");

    private TestNodes() {
    }

    static List<NodeConfig> configure(Path dir, int nodes, List<ThreadId> threads, long saveEvery, boolean gossip)
            throws IOException {
        List<NodeConfig.Member> members = new ArrayList<>();
        List<Integer> http = new ArrayList<>();
        List<Integer> gossipPorts = new ArrayList<>();
        for (int i = 1; i <= nodes; i++) {
            http.add(freePorts(1));
            gossipPorts.add(gossip ? freePorts(1) : 0);
            members.add(new NodeConfig.Member("n" + i, URI.create("http://127.0.0.1:" + http.get(i - 1)),
                    InetSocketAddress.createUnresolved("127.0.0.1", freePorts(threads.size()))));
        }
        List<NodeConfig> out = new ArrayList<>();
        for (int i = 1; i <= nodes; i++) {
            List<InetSocketAddress> seeds = new ArrayList<>();
            for (int j = 1; j <= nodes; j++) {
                if (j != i && gossip) {
                    seeds.add(InetSocketAddress.createUnresolved("127.0.0.1", gossipPorts.get(j - 1)));
                }
            }
            out.add(new NodeConfig("n" + i, dir.resolve("n" + i), "127.0.0.1", http.get(i - 1), 0, gossipPorts.get(i - 1),
                    seeds, threads, members,
                    ProducerConfig.defaults().withProductionTimeout(Duration.ofMillis(50)).withMaxBlockBytes(64 << 10), saveEvery,
                    new NodeConfig.Sync(List.of(), 3, Duration.ofMillis(200), Duration.ofMinutes(2), 2,
                            Duration.ofSeconds(30)),
                    Genesis.faucet(FAUCET.account(), 1_000_000_000_000L), List.of()));
        }
        return out;
    }

    /** Every port handed out in this JVM: a port is checked free, not held, so two picks must never overlap. */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** The first of {@code count} consecutive free loopback ports, none handed out before in this JVM. */
    static int freePorts(int count) throws IOException {
        for (int attempt = 0; attempt < 100; attempt++) {
            // Below Linux's ephemeral range: a released ephemeral port can go to any outgoing connection.
            int base = ThreadLocalRandom.current().nextInt(10_000, 32_000 - count);
            if (!reserve(base, count)) {
                continue;
            }
            List<ServerSocket> held = new ArrayList<>();
            try {
                int first = -1;
                for (int i = 0; i < count; i++) {
                    ServerSocket s = new ServerSocket();
                    held.add(s);
                    // Checked without SO_REUSEADDR: a port that still has connections in TIME_WAIT
                    // counts as busy too (stricter than a server's own bind).
                    s.setReuseAddress(false);
                    s.bind(new InetSocketAddress("127.0.0.1", base + i));
                    first = i == 0 ? s.getLocalPort() : first;
                }
                return first;
            } catch (IOException busy) {
                // another range
            } finally {
                for (ServerSocket s : held) {
                    s.close();
                }
            }
        }
        throw new IOException("no free ports");
    }

    private static synchronized boolean reserve(int base, int count) {
        for (int p = base; p < base + count; p++) {
            if (HANDED_OUT.contains(p)) {
                return false;
            }
        }
        for (int p = base; p < base + count; p++) {
            HANDED_OUT.add(p);
        }
        return true;
    }
}
