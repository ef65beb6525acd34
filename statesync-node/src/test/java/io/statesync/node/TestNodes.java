package io.statesync.node;

import io.statesync.core.testing.Ports;
import io.statesync.node.ledger.Genesis;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.producer.ProducerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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
            http.add(Ports.free());
            gossipPorts.add(gossip ? Ports.free() : 0);
            members.add(new NodeConfig.Member("n" + i, URI.create("http://127.0.0.1:" + http.get(i - 1)),
                    InetSocketAddress.createUnresolved("127.0.0.1", Ports.free(threads.size()))));
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
}
