package io.statesync.cli;

import io.statesync.core.testing.Ports;
import io.statesync.node.Node;
import io.statesync.node.NodeConfig;
import io.statesync.node.ledger.Genesis;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.producer.ProducerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A one-node cluster in this JVM, leading its one thread {@code t0}: what the commands that call a
 * node's API ({@code sync}, {@code status}) are tested against.
 */
final class OneNode {
    private OneNode() {
    }

    /**
     * Starts node {@code n1} in {@code dir}, with blocks every 50 ms and {@code sync} applied to its
     * sync settings, and returns once it leads {@code t0} (at most a minute).
     */
    static Node start(Path dir, String faucetPhrase, UnaryOperator<NodeConfig.Sync> sync)
            throws IOException, InterruptedException {
        return start(dir, faucetPhrase, sync, NodeConfig.Admin.DEFAULT);
    }

    /** As above, with the admin listener {@code admin}. */
    static Node start(Path dir, String faucetPhrase, UnaryOperator<NodeConfig.Sync> sync, NodeConfig.Admin admin)
            throws IOException, InterruptedException {
        return start(dir, faucetPhrase, sync, admin, 0);
    }

    /** As above, with gossip on {@code gossipPort} (0: none), so that the node publishes its card. */
    static Node start(Path dir, String faucetPhrase, UnaryOperator<NodeConfig.Sync> sync, NodeConfig.Admin admin,
                      int gossipPort) throws IOException, InterruptedException {
        int http = Ports.free();
        NodeConfig.Member self = new NodeConfig.Member("n1", URI.create("http://127.0.0.1:" + http),
                InetSocketAddress.createUnresolved("127.0.0.1", Ports.free()));
        Node node = Node.start(new NodeConfig("n1", dir.resolve("n1"), "127.0.0.1", http, 0, gossipPort, List.of(),
                List.of(new ThreadId("t0")), List.of(self),
                ProducerConfig.defaults().withProductionTimeout(Duration.ofMillis(50)), 100_000,
                sync.apply(new NodeConfig.Sync(List.of(), 2, Duration.ofMillis(200), Duration.ofMinutes(1), 2,
                        Duration.ofSeconds(30))),
                Genesis.faucet(Signer.fromPhrase(faucetPhrase).account(), 1000), List.of()).withAdmin(admin));
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!"LEADER".equals(node.thread("t0").orElseThrow().groupStatus().role())) {
            if (System.nanoTime() > deadline) {
                node.close();
                throw new IllegalStateException("the one node did not lead its thread within a minute");
            }
            Thread.sleep(50);
        }
        return node;
    }
}
